"""An engine's name and parameters from the command line: ``--method``, its options, ``--param``.

``preview`` takes them with `engine_options`, which hands the command one
`EngineChoice`; ``basket preview`` / ``basket commit FILE`` read fewer of them
and call `choose_engine` themselves. Either way `check_method` names the
registered engines in its error, `engine_params` turns the built-in engines'
own options (``--metric``, ``--backend``, ``--weights``, ...) into keyword
arguments and refuses one that does not apply, and `with_params` adds each
``--param KEY=VALUE`` (any engine's, plugins' too) from `param_option`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import attrs
import click

from .. import errors
from ..engines.min_dispersion import WEIGHTINGS
from ..solvers.backends import BACKENDS
from ._common import bundle_options

__all__ = [
    "EngineChoice",
    "check_method",
    "choose_engine",
    "engine_options",
    "engine_params",
    "param_option",
    "with_params",
]

F = TypeVar("F", bound=Callable[..., Any])


@attrs.frozen
class EngineChoice:
    """The engine a command runs (its registered name) and its keyword arguments."""

    name: str
    params: dict[str, Any]


def check_method(method: str) -> str:
    """The engine name for *method* (pro-rata or pro_rata), or exit 3 naming the choices."""
    from ..engines import available

    name = method.strip().lower().replace("-", "_")
    names = available()
    if name not in names:
        raise errors.InvalidParameterError(
            "--method", method, "must be one of " + ", ".join(n.replace("_", "-") for n in names)
        )
    return name


def _weights(text: str) -> dict[str, float]:
    """Weights from ``ID=W,ID=W`` or ``@file.json`` (a JSON object of id -> weight)."""
    if text.startswith("@"):
        try:
            data = json.loads(Path(text[1:]).read_text())
        except (OSError, ValueError, RecursionError) as exc:
            raise click.BadParameter(f"cannot read weights from {text[1:]!r}: {exc}") from exc
        if not isinstance(data, dict):
            raise click.BadParameter("the weights file must hold a JSON object: id -> weight")
        for key, value in data.items():
            # JSON true/false are not weights, and neither are strings or null.
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or (isinstance(value, int) and abs(value) > 10**15)
            ):
                raise click.BadParameter(
                    f"the weight of {key!r} in {text[1:]!r} is {json.dumps(value)[:40]}: "
                    "weights must be numbers in [0, 1]"
                )
        return {str(k): float(v) for k, v in data.items()}
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise click.BadParameter(f"{part!r} is not ID=WEIGHT")
    return out


def engine_params(method: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of the built-in engine *method* from its own *options*.

    *options* maps an option's name (``metric``, ``backend``, ``weighting``,
    ``target``, ``basis``, ``weights``) to its value, None or absent where not
    given.

    Raises:
        click.UsageError: An option that does not apply to *method*, or
            custom-weights without ``--weights``.
    """
    metric, backend, basis = options.get("metric"), options.get("backend"), options.get("basis")
    weights = options.get("weights")
    params: dict[str, Any] = {}
    name = method.replace("-", "_")
    if name == "custom_weights":
        if not weights:
            raise click.UsageError("method custom-weights needs --weights ID=W,ID=W or @file.json")
        params["weights"] = _weights(weights)
    elif weights:
        raise click.UsageError(f"--weights does not apply to method {method!r}")
    if name == "min_dispersion":
        if metric:
            names = [m.strip().replace("-", "_") for m in metric.split(",")]
            params["metric"] = names[0] if len(names) == 1 else tuple(names)
        if backend:
            params["backend"] = backend
        if options.get("weighting"):
            params["weighting"] = options["weighting"]
        if options.get("target") is not None:
            params["target"] = options["target"]
    elif name == "pro_rata" and basis:
        params["basis"] = basis.replace("-", "_")
    # An option given to a method it does not apply to is refused, never dropped.
    for flag, value, applies_to in (
        ("--metric", metric, "min_dispersion"),
        ("--backend", backend, "min_dispersion"),
        ("--weighting", options.get("weighting"), "min_dispersion"),
        ("--target", options.get("target"), "min_dispersion"),
        ("--basis", basis, "pro_rata"),
    ):
        if value not in (None, "") and name != applies_to:
            raise click.UsageError(f"{flag} does not apply to method {method!r}")
    return params


def param_option(
    text: str = "Any parameter of the method (repeatable); VALUE is JSON or text.",
) -> Callable[[F], F]:
    """``--param KEY=VALUE`` (repeatable, help *text*) into ``extra_params``, for `with_params`."""
    return click.option("--param", "extra_params", multiple=True, metavar="KEY=VALUE", help=text)


def choose_engine(method: str, options: Mapping[str, Any], pairs: tuple[str, ...]) -> EngineChoice:
    """The engine *method* names, with its own *options* and ``--param`` *pairs* added."""
    name = check_method(method)
    return EngineChoice(name, with_params(engine_params(name, options), pairs))


# The built-in engines' own options (`engine_params` reads them): name -> click's
# keywords, in --help's order.
_OWN_OPTIONS: dict[str, dict[str, Any]] = {
    "metric": {"help": "Min dispersion: e.g. spread-duration (comma list)."},
    "backend": {"type": click.Choice(list(BACKENDS))},
    "weighting": {"type": click.Choice(list(WEIGHTINGS))},
    "target": {"type": float, "help": "Min dispersion: bring toward this."},
    "basis": {"help": "Pro-rata: nav, holdings, market-value or a metric."},
    "weights": {"help": "Custom weights: ID=W,ID=W or @file.json (summing to 1)."},
}


#: ``--method``, the built-in engines' own options and ``--param``: the command
#: takes one checked `EngineChoice` (`choose_engine`) as ``engine`` instead.
engine_options = bundle_options(
    "engine",
    lambda method, extra_params, **own: choose_engine(method, own, extra_params),
    [
        click.option(
            "--method",
            default="pro-rata",
            show_default=True,
            help="pro-rata (by NAV), custom-weights, min-dispersion or a plugin's name.",
        ),
        *(click.option(f"--{k}", default=None, **kw) for k, kw in _OWN_OPTIONS.items()),
        param_option(
            "Any parameter of the method, plugins' too (repeatable); VALUE is JSON or text."
        ),
    ],
)


def _param_value(text: str) -> Any:
    """A ``--param`` value: JSON when it parses as JSON (a number, a list, ...), else the text."""
    try:
        return json.loads(text, parse_constant=lambda name: name)
    except ValueError:
        return text


def with_params(params: dict[str, Any], pairs: tuple[str, ...]) -> dict[str, Any]:
    """*params* plus each ``--param KEY=VALUE`` (``-`` in KEY read as ``_``).

    The engine itself refuses a key it does not take, naming the parameters it
    does; a key also set by its own option (``--metric`` and ``--param
    metric=...``) is a usage error rather than a silent choice of one.
    """
    out = dict(params)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key.isidentifier():
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--param")
        if key in out:
            raise click.UsageError(f"--param {key} is given twice (or also by its own option)")
        out[key] = _param_value(value)
    return out
