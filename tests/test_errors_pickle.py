"""Every orderalloc error crosses a process boundary whole: class, message and fields.

An allocation run on an executor (a process pool, a Dask cluster) raises in a
worker; the caller must get the same error, with the field and value it names,
not a ``TypeError`` from unpickling it.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import inspect
import pickle
from typing import Any

import pytest

import orderalloc as oa
from test_errors_tree import _every_module, _subclasses

# A sample value for each constructor parameter name used in the error tree. A new
# error whose constructor takes a new name fails `test_every_error_pickles` until
# it is added here.
_SAMPLES: dict[str, Any] = {
    "allocation_id": "alloc-1",
    "account_id": "ACC-404",
    "accounts": 37,
    "order_id": "ord-1",
    "operation_id": "op-1",
    "field": "quantity",
    "value": -5.0,
    "reason": "must be > 0",
    "name": "no_such_method",
    "available": ("pro_rata", "min_dispersion"),
    "backend": "exact",
    "message": "it failed",
    "feature": "plots",
    "package": "matplotlib",
    "extra": "plot",
    "age": dt.timedelta(minutes=20),
    "max_age": dt.timedelta(minutes=15),
    "waited": 30.0,
    "problems": {"ACC-1": "cash 0 < 1,000,000"},
    "violations": (),
    "quantities": {"ACC-1": 1_000_000.0},
    "retryable": True,
    "retry_at": dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc),
    "basket_ids": ("basket-1",),
    "committed": (),
    "pending": {"alloc-2": "not booked"},
    "request_id": "req-9",
    "attempts": 3,
    "sent": False,
    "path": "/api/trading/order-management/v1/orders",
    "code": 14,
    "retry_after": 2.5,
    "problem": True,
}
# Where one name means different things in different classes.
_BY_CLASS: dict[tuple[str, str], Any] = {
    ("SolverError", "status"): "infeasible",
    ("RequestRefusedError", "code"): "INVALID_ARGUMENT",
}


def _every_error() -> list[type[BaseException]]:
    _every_module()
    return sorted(_subclasses(oa.OrderAllocError) | {oa.OrderAllocError}, key=lambda c: c.__name__)


def _example(cls: type[BaseException]) -> BaseException:
    """An instance of *cls*, its constructor given a sample for every parameter."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for param in list(inspect.signature(cls.__init__).parameters.values())[1:]:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        value = _BY_CLASS.get((cls.__name__, param.name), _SAMPLES.get(param.name))
        if param.name == "status" and value is None:
            value = 503
        if value is None and param.name not in _SAMPLES:
            pytest.fail(f"{cls.__name__}({param.name}=...): add a sample to _SAMPLES")
        if param.kind == param.KEYWORD_ONLY:
            kwargs[param.name] = value
        else:
            args.append(value)
    if inspect.signature(cls.__init__).parameters.keys() == {"self", "args", "kwargs"}:
        return cls("it failed")
    return cls(*args, **kwargs)


@pytest.mark.parametrize("cls", _every_error(), ids=lambda c: c.__name__)
def test_every_error_pickles(cls: type[BaseException]) -> None:
    """Each error class of the tree comes back from pickle with its class, message and fields."""
    error = _example(cls)
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is cls
    assert str(again) == str(error)
    assert vars(again) == vars(error)


def _allocate_bad_order() -> None:
    oa.Order(security=oa.Security(id="X", price=100.0), side="buy", quantity=-1.0)


def test_an_error_raised_in_a_worker_process_reaches_the_caller_whole() -> None:
    """Bad input met in a process pool's worker is the same InvalidInputError in the caller."""
    with concurrent.futures.ProcessPoolExecutor(max_workers=1) as pool:
        future = pool.submit(_allocate_bad_order)
        with pytest.raises(oa.InvalidOrderError) as caught:
            future.result(timeout=120)
    assert caught.value.field == "order.quantity"
    assert caught.value.value == -1.0
