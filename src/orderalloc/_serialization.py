"""JSON in and out of every public type, through one cattrs converter.

The schema is the attrs fields of each type, by name, with:

* numpy columns as JSON lists;
* dates and times as ISO 8601 strings (times in UTC with an offset);
* enums (`Side`, `Reason`) as their string values;
* frozensets as sorted lists;
* credentials (anything with ``get_secret_value``) as `REDACTED`.

**One rule for numbers that are not finite**, everywhere (columns, scalars,
parameters): NaN is written as ``null`` and read back as NaN; infinities are
written as the strings ``"inf"`` and ``"-inf"``. So `to_json` always writes
strict JSON (RFC 8259 has no NaN), which every parser reads.

Reading is strict: a number is a JSON number (never a string, a boolean or
``null`` where a value is required), text is a JSON string, a list is a JSON
list (a string is never read as its characters), an object is a JSON object,
and keys a type does not have are refused. Every failure is an
`~orderalloc.errors.InvalidInputError` whose *field* is the JSON path
(``$.accounts.nav[3]``), never a foreign exception.

``to_json(obj)`` and ``from_json(text, Type)`` round-trip every public value
type (`Security`, `Account`, `AccountTable`, `Order`, `AllocationResult`, ...).
Audit records store this form, so a field is only ever added, never renamed.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import typing
from collections.abc import Callable
from typing import Any, TypeVar

import attrs
import cattrs
import numpy as np
from cattrs.gen import make_dict_structure_fn
from cattrs.preconf.json import make_converter as _json_converter

from .errors import InvalidInputError, OrderAllocError

__all__ = [
    "configure_converter",
    "converter",
    "dumps",
    "from_json",
    "make_converter",
    "to_json",
]

T = TypeVar("T")

#: What `to_json` writes for a credential (an object with ``get_secret_value``).
REDACTED = "**********"

#: How deep `from_json` reads nested JSON before refusing it (no orderalloc type
#: nests anywhere near this; deeper input is malformed or hostile).
MAX_DEPTH = 64


class _MalformedError(OrderAllocError, ValueError):
    """A JSON value of the wrong shape, found inside the converter's hooks.

    Never escapes: `from_json` turns it into an `InvalidInputError` whose field
    is the JSON path. A class of its own so that its message (which says what
    was found) is told apart from cattrs' and numpy's errors.
    """


def _is_ndarray(tp: Any) -> bool:
    return tp is np.ndarray or typing.get_origin(tp) is np.ndarray


def _dtype_of(tp: Any) -> Any:
    args = typing.get_args(tp)
    if len(args) == 2:
        inner = typing.get_args(args[1])
        if inner:
            return inner[0]
    return np.float64


def _float_out(x: float) -> float | str | None:
    if math.isnan(x):
        return None
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def _array_to_list(arr: np.ndarray[Any, Any]) -> list[Any]:
    if arr.dtype.kind == "f":
        finite = np.isfinite(arr)
        if bool(finite.all()):
            return arr.tolist()  # type: ignore[no-any-return]
        out = arr.astype(object)  # vectorised: NaN -> None, +-inf -> "inf" / "-inf"
        out[np.isnan(arr)] = None
        out[arr == math.inf] = "inf"
        out[arr == -math.inf] = "-inf"
        return out.tolist()  # type: ignore[no-any-return]
    return arr.tolist()  # type: ignore[no-any-return]


def _float_in(value: Any) -> float:
    """A float from JSON: a number, null (NaN) or "inf"/"-inf"; nothing else."""
    if value is None:
        return math.nan
    if isinstance(value, bool):
        raise _MalformedError(f"expected a number, got {json.dumps(value)}")
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:
            raise _MalformedError(f"number {str(value)[:30]} is out of range") from None
    if value == "inf":
        return math.inf
    if value == "-inf":
        return -math.inf
    raise _MalformedError(f"expected a number, got {type(value).__name__} {str(value)[:30]!r}")


def _int_in(value: Any, _: Any = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _MalformedError(f"expected a whole number, got {type(value).__name__}")
    return value


def _str_in(value: Any, _: Any = None) -> str:
    if not isinstance(value, str):
        shown = json.dumps(value)[:30] if _jsonable(value) else type(value).__name__
        raise _MalformedError(f"expected a string, got {shown}")
    return value


def _bool_in(value: Any, _: Any = None) -> bool:
    if not isinstance(value, bool):
        raise _MalformedError(f"expected true or false, got {type(value).__name__}")
    return value


def _jsonable(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def _sequence_type(tp: Any) -> bool:
    origin = typing.get_origin(tp) or tp
    return origin in (list, tuple, set, frozenset)


def configure_converter(conv: cattrs.Converter) -> None:
    """Teach *conv* the types orderalloc uses, and make it strict (see the module docstring)."""
    conv.register_unstructure_hook_func(
        lambda tp: isinstance(tp, type) and issubclass(tp, np.ndarray), _array_to_list
    )
    conv.register_unstructure_hook_func(_is_ndarray, _array_to_list)
    conv.register_unstructure_hook(float, _float_out)
    # Credentials (anything with a pydantic-style get_secret_value) never leave as text.
    conv.register_unstructure_hook_func(
        lambda tp: isinstance(tp, type) and hasattr(tp, "get_secret_value"), lambda _: REDACTED
    )

    def structure_array(value: Any, tp: Any) -> np.ndarray[Any, Any]:
        if not isinstance(value, list):
            raise _MalformedError(f"expected a list, got {type(value).__name__}")
        dtype = _dtype_of(tp)
        types = set(map(type, value))
        if dtype is np.float64:
            if types <= {float, int}:  # the common case, vectorised
                try:
                    return np.asarray(value, dtype=np.float64)
                except OverflowError:
                    pass  # an int beyond float: the slow path names it
            return np.asarray([_float_in(v) for v in value], dtype=np.float64)
        if np.dtype(dtype).kind == "b":
            if types <= {bool}:
                return np.asarray(value, dtype=bool)
            return np.asarray([_bool_in(v) for v in value], dtype=bool)
        if np.dtype(dtype).kind in "iu":
            if types <= {int}:
                return np.asarray(value, dtype=dtype)
            return np.asarray([_int_in(v) for v in value], dtype=dtype)
        return np.asarray(value, dtype=dtype)

    conv.register_structure_hook_func(_is_ndarray, structure_array)
    conv.register_structure_hook(float, lambda v, _: _float_in(v))
    conv.register_structure_hook(int, _int_in)
    conv.register_structure_hook(str, _str_in)
    conv.register_structure_hook(bool, _bool_in)

    def structure_sequence(value: Any, tp: Any) -> Any:
        if not isinstance(value, list):
            raise _MalformedError(f"expected a list, got {type(value).__name__}")
        origin = typing.get_origin(tp) or tp
        args = typing.get_args(tp)
        if origin is tuple and args and (len(args) != 2 or args[1] is not Ellipsis):
            if len(value) != len(args):
                raise _MalformedError(f"expected a list of {len(args)} items, got {len(value)}")
            return tuple(conv.structure(v, a) for v, a in zip(value, args, strict=True))
        item = args[0] if args else Any
        items = []
        for i, v in enumerate(value):
            try:
                items.append(v if item is Any else conv.structure(v, item))
            except (ValueError, TypeError, cattrs.BaseValidationError) as exc:
                raise _MalformedError(f"item {i}: {_describe(exc)}") from exc
        return origin(items)

    conv.register_structure_hook_func(_sequence_type, structure_sequence)

    def mapping_factory(tp: Any) -> Callable[[Any, Any], Any]:
        inner = conv.gen_structure_mapping(tp)

        def structure_mapping(value: Any, _: Any) -> Any:
            if not isinstance(value, dict):
                raise _MalformedError(f"expected an object, got {type(value).__name__}")
            return inner(value, tp)

        return structure_mapping

    conv.register_structure_hook_factory(cattrs.cols.is_mapping, mapping_factory)

    def attrs_factory(tp: Any) -> Callable[[Any, Any], Any]:
        inner = make_dict_structure_fn(tp, conv, _cattrs_forbid_extra_keys=True)
        check = _POST_CHECKS.get(tp)

        def structure_attrs(value: Any, _: Any) -> Any:
            if not isinstance(value, dict):
                raise _MalformedError(f"expected an object, got {type(value).__name__}")
            obj = inner(value, tp)
            if check is not None:
                check(obj)
            return obj

        return structure_attrs

    conv.register_structure_hook_factory(attrs.has, attrs_factory)
    conv.register_unstructure_hook(frozenset, lambda s: sorted(s))
    conv.register_unstructure_hook(dt.datetime, lambda d: d.isoformat())
    conv.register_structure_hook(dt.datetime, lambda v, _: _time_in(v))
    conv.register_unstructure_hook(dt.date, lambda d: d.isoformat())
    conv.register_structure_hook(dt.date, lambda v, _: dt.date.fromisoformat(_str_in(v)))


def _time_in(value: Any) -> dt.datetime:
    moment = dt.datetime.fromisoformat(_str_in(value))
    if moment.utcoffset() is None:
        raise _MalformedError(f"time {value!r} has no UTC offset")
    return moment


def _check_result(result: Any) -> None:
    """An `AllocationResult` read from JSON has one value per account in every column."""
    n = len(result.account_ids)
    columns = {
        "quantity": result.quantity,
        "ideal": result.ideal,
        "share": result.share,
        "cap": result.cap,
        "reason_codes": result.reason_codes,
    }
    for name, values in result.pre_metrics.items():
        columns[f"pre_metrics[{name!r}]"] = values
    for name, values in result.post_metrics.items():
        columns[f"post_metrics[{name!r}]"] = values
    for name, values in columns.items():
        if len(values) != n:
            raise _MalformedError(f"{name} has {len(values)} values for {n} accounts")


def _post_checks() -> dict[Any, Callable[[Any], None]]:
    from ._result import AllocationResult

    return {AllocationResult: _check_result}


_POST_CHECKS: dict[Any, Callable[[Any], None]] = {}


def make_converter() -> cattrs.Converter:
    """A new JSON converter configured for orderalloc's types."""
    conv = _json_converter()
    configure_converter(conv)
    return conv


#: The converter `to_json` and `from_json` use.
converter = make_converter()


def _finite_only(value: Any) -> Any:
    """*value* with every NaN as None and every infinity as "inf"/"-inf"."""
    if isinstance(value, float):
        return _float_out(value)
    if isinstance(value, dict):
        return {k: _finite_only(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_only(v) for v in value]
    return value


def to_json(obj: Any, *, indent: int | None = None) -> str:
    """*obj* as strict JSON text (see the module docstring for the schema).

    Credentials are written as `REDACTED`, never as their value.

    Raises:
        InvalidInputError: *obj* holds a value with no JSON form (the message
            names its type).
    """
    data = converter.unstructure(obj)
    try:
        return dumps(data, indent=indent)
    except TypeError as exc:
        raise InvalidInputError("obj", type(obj).__name__, f"has no JSON form: {exc}") from None


def dumps(
    data: Any, *, indent: int | None = None, default: Callable[[Any], Any] | None = None
) -> str:
    """Plain data (dicts, lists, numbers, text) as strict JSON, by `to_json`'s one rule.

    NaN is written as ``null`` and infinities as ``"inf"`` / ``"-inf"``, so the
    text never holds the ``NaN`` token no parser must accept. *default* is
    `json.dumps`' hook for other objects (the CLI passes `str`).
    """
    try:
        return json.dumps(data, indent=indent, sort_keys=True, allow_nan=False, default=default)
    except ValueError:  # a NaN or infinity somewhere: rewrite them, then write again
        return json.dumps(
            _finite_only(data), indent=indent, sort_keys=True, allow_nan=False, default=default
        )


def from_json(text: str | bytes, cls: type[T]) -> T:
    """An instance of *cls* from JSON text written by `to_json`.

    Raises:
        InvalidInputError: The text is not JSON (or not UTF-8, or nested too
            deeply), or does not fit *cls*; the field is the JSON path of the
            first failure and the message lists every one.
    """
    if not isinstance(text, (str, bytes, bytearray)):
        raise InvalidInputError("json", text, "must be text (str or bytes)")
    if not isinstance(cls, type):
        raise InvalidInputError("cls", cls, "must be an orderalloc type")
    if not _POST_CHECKS:
        _POST_CHECKS.update(_post_checks())
    if isinstance(text, (bytes, bytearray)):
        raw = bytes(text)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInputError("json", raw[:60], f"is not UTF-8: {exc}") from exc
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError as exc:
        raise InvalidInputError("json", str(text)[:60], "is nested too deeply") from exc
    except ValueError as exc:  # JSONDecodeError, and NaN/Infinity literals
        raise InvalidInputError("json", str(text)[:60], f"is not JSON: {exc}") from exc
    if _depth(data) > MAX_DEPTH:
        raise InvalidInputError("json", str(text)[:60], f"is nested more than {MAX_DEPTH} deep")
    try:
        return converter.structure(data, cls)
    except InvalidInputError:
        raise
    except RecursionError as exc:
        raise InvalidInputError(cls.__name__, str(text)[:60], "is nested too deeply") from exc
    except Exception as exc:
        inner = _first_input_error(exc)
        if inner is not None:  # a model validator refused a value: say which
            raise inner from exc
        if isinstance(exc, cattrs.BaseValidationError):
            problems = cattrs.transform_error(exc, format_exception=_format_exception)
            path = problems[0].rpartition(" @ ")[2] if problems else "$"
            raise InvalidInputError(
                f"{cls.__name__} {path}", str(text)[:60], "; ".join(problems)
            ) from exc
        raise InvalidInputError(cls.__name__, str(text)[:60], _describe(exc)) from exc


def _refuse_constant(name: str) -> Any:
    raise _MalformedError(f'{name} is not JSON (write null for NaN, "inf" for infinity)')


def _depth(value: Any, level: int = 0) -> int:
    """How deeply *value* nests (stops counting past `MAX_DEPTH`)."""
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max(
            (_depth(v, level + 1) for v in value if isinstance(v, (dict, list))), default=level + 1
        )
    return level


def _format_exception(exc: BaseException, tp: Any) -> str:
    """Our own hooks' messages say what was found; cattrs' default only what was expected."""
    if isinstance(exc, _MalformedError) and str(exc):
        return str(exc)
    if isinstance(exc, KeyError):
        return "required field missing"
    return cattrs.v.format_exception(exc, tp)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, cattrs.BaseValidationError):
        return "; ".join(cattrs.transform_error(exc, format_exception=_format_exception))
    return str(exc) or type(exc).__name__


def _first_input_error(exc: BaseException) -> InvalidInputError | None:
    if isinstance(exc, InvalidInputError):
        return exc
    cause = exc.__cause__
    if cause is not None and cause is not exc:
        found = _first_input_error(cause)
        if found is not None:
            return found
    for inner in getattr(exc, "exceptions", ()):
        found = _first_input_error(inner)
        if found is not None:
            return found
    return None
