"""Packaging promises: the testing extra exists and is named where it is missing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

PYPROJECT = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())


def test_testing_extra_declares_its_imports() -> None:
    """`orderalloc[testing]` installs hypothesis and jsonschema, which orderalloc.testing uses."""
    extra = " ".join(PYPROJECT["project"]["optional-dependencies"]["testing"])
    assert "hypothesis" in extra
    assert "jsonschema" in extra


def test_missing_hypothesis_names_the_extra() -> None:
    """Without hypothesis, importing the strategies says: pip install 'orderalloc[testing]'."""
    code = (
        "import sys; sys.modules['hypothesis'] = None\n"
        "try:\n    import orderalloc.testing.strategies\n"
        "except ImportError as exc:\n    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "pip install 'orderalloc[testing]'" in out


def test_snowflake_extra_is_the_tested_range() -> None:
    """The snowflake extra allows no connector major version the tests do not run."""
    extra = PYPROJECT["project"]["optional-dependencies"]["snowflake"][0]
    tested = next(d for d in PYPROJECT["dependency-groups"]["test"] if "snowflake" in str(d))
    assert extra.split(",")[-1] == tested.split(",")[-1] == "<5"


def test_project_urls() -> None:
    """The project links its issue tracker."""
    assert PYPROJECT["project"]["urls"]["Issues"].endswith("/issues")


def test_missing_pandas_names_the_extra() -> None:
    """Without pandas, every to_frame says which extra to install, as an orderalloc error."""
    code = (
        "import sys; sys.modules['pandas'] = None\n"
        "import orderalloc as oa\n"
        "bond = oa.Security(id='B', price=100.0)\n"
        "accounts = [oa.Account(id='A', nav=1e6)]\n"
        "order = oa.Order(security=bond, side='BUY', quantity=1000)\n"
        "result = oa.allocate(order, accounts)\n"
        "filled = oa.allocate_fills(order, accounts, intent=result,\n"
        "                           fills=[oa.Fill(quantity=1000, price=100.0)])\n"
        "basket = oa.allocate_basket([order], accounts)\n"
        "for value in (oa.as_table(accounts), result, filled, basket):\n"
        "    try:\n        value.to_frame()\n"
        "    except oa.MissingExtraError as exc:\n"
        "        assert isinstance(exc, ImportError) and exc.extra == 'pandas'\n"
        "        print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert len(out) == 4
    assert all("pip install 'orderalloc[pandas]'" in line for line in out)
