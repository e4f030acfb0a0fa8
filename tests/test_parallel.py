"""Scale-out: the same baskets on a process pool and on Dask give the serial results."""

from __future__ import annotations

import importlib.util
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

import orderalloc as oa
from orderalloc.parallel import run_tasks, task_seed
from orderalloc.testing import strategies as oast

HAS_DASK = importlib.util.find_spec("distributed") is not None


def bonds(n: int = 4) -> list[oa.Security]:
    """A few bonds with different duration / spread duration mixes."""
    rng = np.random.default_rng(11)
    return [
        oa.Security(
            id=f"B{j:02d}",
            price=float(rng.uniform(90, 110)),
            min_piece=float(rng.choice([1_000, 2_000, 5_000])),
            increment=1_000,
            analytics={
                "spread_duration": float(rng.uniform(1, 9)),
                "duration": float(rng.uniform(1, 12)),
            },
        )
        for j in range(n)
    ]


def many_groups(n_groups: int = 12, size: int = 15) -> dict[str, oa.AccountTable]:
    """Groups of SMAs, each drawn from its own seed."""
    sec = bonds()[0]
    return {
        f"G{g:04d}": oast.random_table(size, security=sec, seed=g, cash_fraction=0.01)
        for g in range(n_groups)
    }


ORDERS = [oa.Order(security=b, side="BUY", quantity=3_000_000) for b in bonds()]


def fingerprint(results: dict[str, oa.BasketResult]) -> dict[str, Any]:
    """Everything a basket decides, without the timestamps."""
    return {
        key: (
            r.strategy,
            r.objective,
            [
                (o.security.id, r2.quantity.tolist())
                for o, r2 in zip(r.orders, r.results, strict=True)
            ],
            r.cash_used.tolist(),
            r.warnings,
        )
        for key, r in results.items()
    }


def _square(x: int) -> int:
    return x * x


class TestRunTasks:
    """The generic runner keeps the order and checks its arguments."""

    def test_results_in_task_order(self) -> None:
        """Results come back in the order of the tasks, whatever the chunking."""
        with ThreadPoolExecutor(max_workers=3) as pool:
            assert run_tasks(_square, range(50), executor=pool, chunksize=7) == [
                x * x for x in range(50)
            ]

    def test_bad_chunksize(self) -> None:
        """A chunk size below 1 is refused by name."""
        with pytest.raises(oa.InvalidParameterError, match="chunksize"):
            run_tasks(_square, [1], chunksize=0)

    def test_task_seed_is_stable(self) -> None:
        """A task's seed depends on the seed and the key only, and differs between keys."""
        assert task_seed(1, "G1") == task_seed(1, "G1")
        assert task_seed(1, "G1") != task_seed(1, "G2")
        assert 0 <= task_seed(2**70, "x") < 2**63


class TestManyGroups:
    """The same basket over many groups."""

    def test_each_group_is_its_own_basket(self) -> None:
        """allocate_basket_many gives each group what allocate_basket gives it alone."""
        groups = many_groups(3)
        many = oa.allocate_basket_many(groups, ORDERS, "min_dispersion", metric="duration")
        for key, table in groups.items():
            alone = oa.allocate_basket(ORDERS, table, "min_dispersion", metric="duration")
            assert fingerprint({key: many[key]}) == fingerprint({key: alone})

    def test_seed_per_group(self) -> None:
        """With a seed, each group's tie-breaks use task_seed(seed, group id)."""
        groups = many_groups(2)
        many = oa.allocate_basket_many(groups, ORDERS, seed=5)
        key = "G0001"
        alone = oa.allocate_basket(ORDERS, groups[key], seed=task_seed(5, key))
        assert fingerprint({key: many[key]}) == fingerprint({key: alone})

    def test_bad_parameter_fails_before_submitting(self) -> None:
        """An unknown engine parameter is refused here, not in a worker."""
        with pytest.raises(oa.InvalidParameterError, match="colour"):
            oa.allocate_basket_many(many_groups(1), ORDERS, colour="red")

    def test_process_pool_identical_to_serial(self) -> None:
        """A two-process pool gives exactly the serial results."""
        groups = many_groups()
        serial = oa.allocate_basket_many(groups, ORDERS, "min_dispersion", seed=3)
        with ProcessPoolExecutor(max_workers=2) as pool:
            parallel = oa.allocate_basket_many(
                groups, ORDERS, "min_dispersion", seed=3, executor=pool, chunksize=4
            )
        assert list(parallel) == list(serial)
        assert fingerprint(parallel) == fingerprint(serial)


@pytest.mark.dask
@pytest.mark.skipif(not HAS_DASK, reason="needs the dask extra: pip install 'orderalloc[dask]'")
class TestDask:
    """The same on a two-worker Dask LocalCluster, through Client.get_executor()."""

    def test_local_cluster_identical_to_serial(self) -> None:
        """Dask workers (separate processes) give exactly the serial results."""
        from distributed import Client, LocalCluster

        groups = many_groups()
        serial = oa.allocate_basket_many(groups, ORDERS, "min_dispersion", metric="duration")
        with (
            LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            executor = client.get_executor()
            parallel = oa.allocate_basket_many(
                groups, ORDERS, "min_dispersion", metric="duration", executor=executor, chunksize=3
            )
            # BLAS is pinned to one thread inside each task.
            limits = run_tasks(_blas_threads, [0, 1], executor=executor, chunksize=1)
        assert fingerprint(parallel) == fingerprint(serial)
        assert all(n <= 1 for n in limits)


def _blas_threads(_: int) -> int:
    """The most threads any BLAS / OpenMP pool may use in this task."""
    from threadpoolctl import threadpool_info

    return max((pool["num_threads"] for pool in threadpool_info()), default=1)
