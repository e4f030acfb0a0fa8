"""Scale-out: many independent allocations on any `concurrent.futures.Executor`.

Wherever orderalloc runs many allocations that do not depend on each other
(the same basket over thousands of groups, a benchmark campaign), it takes an
``executor=``: ``None`` runs them here, one after the other; a
`~concurrent.futures.ProcessPoolExecutor` uses the local cores; and Dask's
``distributed.Client(...).get_executor()`` spreads them over a cluster (the
``dask`` extra: ``pip install 'orderalloc[dask]'``).

Three promises, whatever the executor:

* **the same results as the serial run**: every task is a pure function of
  its inputs; results come back in the order of the tasks;
* **a seed per task**: `task_seed` derives each task's tie-break seed from
  the caller's seed and the task's key (a group id), never from the worker
  or the order in which tasks finish;
* **one BLAS thread per task**: inside every task, numpy's BLAS and OpenMP
  pools are limited to *blas_threads* (default 1) with ``threadpoolctl``,
  so N worker processes on N cores do not each start N threads. (Setting
  ``OMP_NUM_THREADS=1``, ``OPENBLAS_NUM_THREADS=1`` and ``MKL_NUM_THREADS=1``
  in the workers' environment before they start does the same.)

Tasks are sent in chunks of *chunksize* so that scheduling costs (about a
millisecond per task on Dask) stay small next to the work.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from typing import Any, TypeVar

import attrs
from threadpoolctl import threadpool_limits

from ._allocation import _engine_for
from ._basket import BasketResult, allocate_basket
from ._model import Order, as_table
from ._switches import Switch
from .errors import InvalidInputError, InvalidParameterError

__all__ = ["allocate_basket_many", "run_tasks", "task_seed"]

T = TypeVar("T")
R = TypeVar("R")


def task_seed(seed: int, key: str) -> int:
    """The seed of the task *key*: a 63-bit hash of *seed* and *key*.

    The same in every process and on every machine (unlike ``hash()``), and
    independent of which worker runs the task or when.
    """
    digest = hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def _run_chunk(func: Callable[[T], R], chunk: Sequence[T], blas_threads: int) -> list[R]:
    """Run *func* over *chunk* in a worker, with BLAS limited to *blas_threads*."""
    with threadpool_limits(limits=blas_threads):
        return [func(item) for item in chunk]


def run_tasks(
    func: Callable[[T], R],
    tasks: Iterable[T],
    *,
    executor: Executor | None = None,
    chunksize: int = 16,
    blas_threads: int = 1,
) -> list[R]:
    """``[func(task) for task in tasks]``, on *executor* when one is given.

    Args:
        func: A function of one task. With a process pool it must be
            picklable (defined at module level); Dask pickles closures too.
        tasks: The tasks' inputs.
        executor: Any `concurrent.futures.Executor` (a process pool, Dask's
            ``Client.get_executor()``, ...), or None to run here, serially.
        chunksize: Tasks per submission.
        blas_threads: BLAS / OpenMP threads per task on the executor (the
            serial run leaves the caller's settings alone).

    Returns:
        The results, in the order of *tasks*. The first task that raised
        re-raises here.

    Raises:
        InvalidParameterError: *chunksize* or *blas_threads* is not a whole
            number >= 1.

    .. versionadded:: 0.1.0
    """
    for name, value in (("chunksize", chunksize), ("blas_threads", blas_threads)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InvalidParameterError(name, value, "must be a whole number >= 1")
    items = list(tasks)
    if executor is None:
        return [func(item) for item in items]
    chunks = [items[i : i + chunksize] for i in range(0, len(items), chunksize)]
    futures = [executor.submit(_run_chunk, func, chunk, blas_threads) for chunk in chunks]
    out: list[R] = []
    for future in futures:
        out.extend(future.result())
    return out


@attrs.frozen
class _BasketTask:
    """One group's basket: a picklable callable for the workers."""

    method: str
    params: Mapping[str, Any]
    strategy: str
    use_proceeds: bool
    max_sweeps: int
    seed: int | None

    def __call__(self, item: tuple[str, Sequence[Order], Sequence[Switch], Any]) -> BasketResult:
        key, orders, switches, accounts = item
        return allocate_basket(
            orders,
            accounts,
            self.method,
            strategy=self.strategy,
            switches=switches,
            use_proceeds=self.use_proceeds,
            max_sweeps=self.max_sweeps,
            seed=None if self.seed is None else task_seed(self.seed, key),
            **self.params,
        )


def allocate_basket_many(
    groups: Mapping[str, Any],
    orders: Sequence[Order] | Mapping[str, Sequence[Order]],
    method: str = "pro_rata",
    *,
    strategy: str = "joint",
    switches: Sequence[Switch] | Mapping[str, Sequence[Switch]] = (),
    use_proceeds: bool = True,
    max_sweeps: int = 10,
    seed: int | None = None,
    executor: Executor | None = None,
    chunksize: int = 16,
    blas_threads: int = 1,
    **params: Any,
) -> dict[str, BasketResult]:
    """Allocate a basket over many groups, each group on its own (see `allocate_basket`).

    Args:
        groups: Group id -> that group's accounts (any shape `allocate` takes).
        orders: The basket: the same orders for every group, or group id ->
            that group's orders (e.g. the model basket scaled to each group).
        method: The engine, as for `allocate_basket`.
        strategy: ``"joint"`` or ``"sequential"``.
        switches: The same switches for every group, or group id -> switches.
        use_proceeds: Whether sells' proceeds fund buys (see `allocate_basket`).
        max_sweeps: The joint pass's limit.
        seed: Tie-break seed; each group gets ``task_seed(seed, group_id)``.
            None: every order's own default seed (the same as `allocate_basket`).
        executor: Any `concurrent.futures.Executor`, or None to run serially.
        chunksize: Groups per submission to the executor.
        blas_threads: BLAS threads per worker task.
        **params: The engine's parameters.

    Returns:
        Group id -> its `BasketResult`, in the order of *groups*; the same,
        field for field, whatever the executor (only ``created_at`` differs).

    Raises:
        InvalidInputError: A group has no orders, or the parameters are
            invalid (checked here, before anything is sent to a worker).

    .. versionadded:: 0.1.0
    """
    _engine_for(method, params)  # unknown method or parameter: fail before submitting
    if not isinstance(groups, Mapping):
        raise InvalidInputError("groups", groups, "must map group ids to accounts")
    items = []
    for key, accounts in groups.items():
        group_orders = orders.get(key) if isinstance(orders, Mapping) else orders
        if group_orders is None:
            raise InvalidInputError("orders", key, "no orders for this group")
        group_switches = switches.get(key, ()) if isinstance(switches, Mapping) else switches
        items.append((str(key), list(group_orders), list(group_switches), as_table(accounts)))
    task = _BasketTask(
        method=method,
        params=dict(params),
        strategy=strategy,
        use_proceeds=use_proceeds,
        max_sweeps=max_sweeps,
        seed=seed,
    )
    results = run_tasks(
        task, items, executor=executor, chunksize=chunksize, blas_threads=blas_threads
    )
    return dict(zip((item[0] for item in items), results, strict=True))
