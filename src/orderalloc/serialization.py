"""JSON in and out of every public type, through one cattrs converter.

The schema is the attrs fields of each type, by name, with:

* numpy columns as JSON lists (NaN as ``null``);
* dates and times as ISO 8601 strings (times in UTC with an offset);
* enums (`Side`, `Reason`) as their string values;
* frozensets as sorted lists.

``to_json(obj)`` and ``from_json(text, Type)`` round-trip every public value
type (`Security`, `Account`, `AccountTable`, `Order`, `AllocationResult`, ...).
Audit records store this form, so a field is only ever added, never renamed.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import typing
from typing import Any, TypeVar

import cattrs
import numpy as np
from cattrs.preconf.json import make_converter as _json_converter

from .errors import InvalidInputError

__all__ = ["configure_converter", "converter", "from_json", "make_converter", "to_json"]

T = TypeVar("T")


def _is_ndarray(tp: Any) -> bool:
    return tp is np.ndarray or typing.get_origin(tp) is np.ndarray


def _dtype_of(tp: Any) -> Any:
    args = typing.get_args(tp)
    if len(args) == 2:
        inner = typing.get_args(args[1])
        if inner:
            return inner[0]
    return np.float64


def _array_to_list(arr: np.ndarray[Any, Any]) -> list[Any]:
    if arr.dtype.kind == "f":
        return [None if math.isnan(x) else x for x in arr.tolist()]
    return arr.tolist()  # type: ignore[no-any-return]


def configure_converter(conv: cattrs.Converter) -> None:
    """Teach *conv* the types orderalloc uses beyond plain attrs classes."""
    conv.register_unstructure_hook_func(
        lambda tp: isinstance(tp, type) and issubclass(tp, np.ndarray), _array_to_list
    )
    conv.register_unstructure_hook_func(_is_ndarray, _array_to_list)

    def structure_array(value: Any, tp: Any) -> np.ndarray[Any, Any]:
        dtype = _dtype_of(tp)
        if dtype is np.float64:
            return np.asarray([math.nan if v is None else v for v in value], dtype=np.float64)
        return np.asarray(value, dtype=dtype)

    conv.register_structure_hook_func(_is_ndarray, structure_array)
    conv.register_unstructure_hook(frozenset, lambda s: sorted(s))
    conv.register_unstructure_hook(dt.datetime, lambda d: d.isoformat())
    conv.register_structure_hook(dt.datetime, lambda v, _: dt.datetime.fromisoformat(v))
    conv.register_unstructure_hook(dt.date, lambda d: d.isoformat())
    conv.register_structure_hook(dt.date, lambda v, _: dt.date.fromisoformat(v))


def make_converter() -> cattrs.Converter:
    """A new JSON converter configured for orderalloc's types."""
    conv = _json_converter()
    configure_converter(conv)
    return conv


#: The converter `to_json` and `from_json` use.
converter = make_converter()


def to_json(obj: Any, *, indent: int | None = None) -> str:
    """*obj* as JSON text (see the module docstring for the schema)."""
    return json.dumps(converter.unstructure(obj), indent=indent, sort_keys=True)


def from_json(text: str | bytes, cls: type[T]) -> T:
    """An instance of *cls* from JSON text written by `to_json`.

    Raises:
        InvalidInputError: The text is not JSON, or does not fit *cls*; the
            message lists every field that failed.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError("json", str(text)[:60], f"is not JSON: {exc}") from exc
    try:
        return converter.structure(data, cls)
    except InvalidInputError:
        raise
    except Exception as exc:
        inner = _first_input_error(exc)
        if inner is not None:  # a model validator refused a value: say which
            raise inner from exc
        if isinstance(exc, cattrs.BaseValidationError):
            problems = "; ".join(cattrs.transform_error(exc))
        else:
            problems = str(exc)
        raise InvalidInputError(cls.__name__, str(text)[:60], problems) from exc


def _first_input_error(exc: BaseException) -> InvalidInputError | None:
    if isinstance(exc, InvalidInputError):
        return exc
    for inner in getattr(exc, "exceptions", ()):
        found = _first_input_error(inner)
        if found is not None:
            return found
    return None
