"""Run every example of the documentation with Sybil.

Every ```python block of a MyST page (and every ``>>>`` example in one) is
executed, in page order, in one namespace per page. A block preceded by
``% skip: next`` is shown but not run (it needs a real Aladdin, Snowflake, ...).

Each page runs in a fresh temporary directory, with ``ORDERALLOC_AUDIT_DB``
pointing into it and without the caller's ``ORDERALLOC_*`` / ``ALADDIN_*``
settings, so examples never touch the user's real audit trail or reach a
real Aladdin.
"""

from __future__ import annotations

import os
import tempfile
from doctest import ELLIPSIS, NORMALIZE_WHITESPACE
from typing import Any

from sybil import Sybil
from sybil.parsers.myst import PythonCodeBlockParser, SkipParser

_AMBIENT_PREFIXES = ("ORDERALLOC_", "ALADDIN_")


def pytest_configure(config: Any) -> None:
    """Silence the Snowflake emulator's own performance hint (its code, not ours)."""
    config.addinivalue_line("filterwarnings", "ignore:Arrow output on a DB-API result:UserWarning")


def _setup(namespace: dict[str, Any]) -> None:
    """A private working directory and audit store for one page."""
    workdir = tempfile.TemporaryDirectory(prefix="orderalloc-docs-")
    saved_env = {k: v for k, v in os.environ.items() if k.startswith(_AMBIENT_PREFIXES)}
    for name in saved_env:
        del os.environ[name]
    os.environ["ORDERALLOC_AUDIT_DB"] = os.path.join(workdir.name, "audit.sqlite3")
    namespace["_docs_state"] = (workdir, saved_env, os.getcwd())
    os.chdir(workdir.name)


def _teardown(namespace: dict[str, Any]) -> None:
    workdir, saved_env, cwd = namespace.pop("_docs_state")
    os.chdir(cwd)
    for name in [k for k in os.environ if k.startswith(_AMBIENT_PREFIXES)]:
        del os.environ[name]
    os.environ.update(saved_env)
    workdir.cleanup()


pytest_collect_file = Sybil(
    parsers=[
        PythonCodeBlockParser(doctest_optionflags=ELLIPSIS | NORMALIZE_WHITESPACE),
        SkipParser(),
    ],
    patterns=["*.md"],
    excludes=["_build/*"],
    setup=_setup,
    teardown=_teardown,
).pytest()
