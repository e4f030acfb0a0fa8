"""Engine parameters on the command line: any engine's, plugins' too, choices from registries."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from click.testing import CliRunner

import orderalloc as oa
from orderalloc._cli import cli
from orderalloc.engines import Ideal, Problem, registry
from orderalloc.engines.min_dispersion import WEIGHTINGS
from orderalloc.engines.proportional import proportional_ideal
from orderalloc.solvers.backends import BACKENDS
from orderalloc.sources import SOURCE_KINDS

IG = "037833DX5"


class Tilted(oa.Engine):
    """A plugin: pro rata by NAV, with *tilt* of the order moved to the first account."""

    name: ClassVar[str] = "tilted"

    def __init__(self, *, tilt: float = 0.0, label: str = "none") -> None:
        if not 0.0 <= tilt <= 1.0:
            raise oa.InvalidParameterError("tilt", tilt, "must be in [0, 1]")
        self.tilt = float(tilt)
        self.label = label

    @property
    def params(self) -> Mapping[str, Any]:
        return {"tilt": self.tilt, "label": self.label}

    def ideal(self, problem: Problem) -> Ideal:
        nav = problem.accounts.nav
        weights = (1.0 - self.tilt) * nav / nav.sum()
        weights[0] += self.tilt
        return proportional_ideal(problem, np.asarray(weights))


@pytest.fixture(name="run")
def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Invoke the command on the mock with its own audit store and the plugin registered."""
    monkeypatch.setattr(registry, "_registered", dict(registry._registered))
    registry.register(Tilted)
    runner = CliRunner()
    db = tmp_path / "audit.sqlite3"

    def run(*args: str) -> tuple[int, str, str]:
        preview = ["preview", "--group", "BIG6", "--security", IG, "--side", "buy"]
        result = runner.invoke(
            cli, ["--audit-db", str(db), "--source", "mock", *preview, *args, "--json"]
        )
        return result.exit_code, result.stdout, result.stderr

    return run


class TestParam:
    """``--param KEY=VALUE`` reaches any engine, and bad keys are refused by name."""

    def test_plugin_engine_receives_its_parameters(self, run) -> None:  # type: ignore[no-untyped-def]
        """A plugin's parameters arrive typed (JSON number, text) and are recorded."""
        code, out, err = run(
            "--quantity", "2mm", "--method", "tilted", "--param", "tilt=0.5", "--param", "label=q4"
        )
        assert code == 0, err
        result = json.loads(out)["result"]
        assert result["method"] == "tilted"
        assert result["params"] == {"tilt": 0.5, "label": "q4"}

    def test_builtin_engine_takes_params_not_on_flags(self, run) -> None:  # type: ignore[no-untyped-def]
        """Min dispersion's tol and fallback, which have no option of their own, pass through."""
        code, out, err = run(
            "--quantity",
            "20mm",
            "--method",
            "min-dispersion",
            "--param",
            "tol=1e-10",
            "--param",
            'fallback=["exact", "convex"]',
        )
        assert code == 0, err
        params = json.loads(out)["result"]["params"]
        assert params["tol"] == 1e-10
        assert list(params["fallback"]) == ["exact", "convex"]

    def test_unknown_key_names_it_and_the_accepted_ones(self, run) -> None:  # type: ignore[no-untyped-def]
        """A key the engine does not take exits 3 naming the key and what it takes."""
        code, _, err = run("--quantity", "2mm", "--method", "tilted", "--param", "tlit=0.5")
        assert code == 3
        assert "tlit" in err
        assert "tilt, label" in err

    def test_bad_value_is_refused_by_the_engine(self, run) -> None:  # type: ignore[no-untyped-def]
        """The engine's own validation names the parameter and the value."""
        code, _, err = run("--quantity", "2mm", "--method", "tilted", "--param", "tilt=2")
        assert code == 3
        assert "tilt=2" in err

    @pytest.mark.parametrize("pair", ["tilt", "=0.5", "no good=1"])
    def test_malformed_pair_is_a_usage_error(self, run, pair: str) -> None:  # type: ignore[no-untyped-def]
        """Anything but KEY=VALUE with an identifier key exits 2 quoting it."""
        code, _, err = run("--quantity", "2mm", "--method", "tilted", "--param", pair)
        assert code == 2
        assert "KEY=VALUE" in err

    @pytest.mark.parametrize(
        ("method", "option"),
        [
            ("pro-rata", ["--weighting", "equal"]),
            ("pro-rata", ["--target", "0"]),
            ("tilted", ["--target", "1.5"]),
            ("pro-rata", ["--metric", "spread-duration"]),
            ("pro-rata", ["--backend", "exact"]),
            ("min-dispersion", ["--basis", "nav"]),
        ],
    )
    def test_option_of_another_method_is_refused(  # type: ignore[no-untyped-def]
        self, run, method: str, option: list[str]
    ) -> None:
        """An engine option given with a method it does not apply to exits 2, never dropped."""
        code, out, err = run("--quantity", "2mm", "--method", method, *option)
        assert code == 2
        assert f"{option[0]} does not apply to method" in err
        assert out == ""

    def test_key_given_twice_is_a_usage_error(self, run) -> None:  # type: ignore[no-untyped-def]
        """--metric and --param metric= together are refused, not silently resolved."""
        code, _, err = run(
            "--quantity",
            "20mm",
            "--method",
            "min-dispersion",
            "--metric",
            "spread-duration",
            "--param",
            "metric=duration",
        )
        assert code == 2
        assert "metric" in err


class TestChoicesFromRegistries:
    """The choices --help shows are the registries' own, so they cannot drift."""

    @pytest.mark.parametrize(
        ("command", "option", "names"),
        [
            (["preview"], "--backend", list(BACKENDS)),
            (["preview"], "--weighting", list(WEIGHTINGS)),
            ([], "--source", list(SOURCE_KINDS)),
        ],
    )
    def test_choices(self, command: list[str], option: str, names: list[str]) -> None:
        """Each option's choices are exactly the registry's names."""
        out = CliRunner().invoke(cli, [*command, "--help"], terminal_width=200).stdout
        found = re.search(re.escape(option) + r" \[([^\]]+)\]", out)
        assert found is not None, out
        assert found.group(1).split("|") == names
