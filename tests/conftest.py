"""Shared test configuration: Hypothesis profiles and a clean environment.

Profiles (choose with ``HYPOTHESIS_PROFILE``):

* ``tests`` (default): a few hundred examples per property;
* ``fast``: a quick smoke run while editing;
* ``ci``: thousands of examples, no deadline.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "tests", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("fast", max_examples=25, deadline=None)
settings.register_profile(
    "ci",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "tests"))

# Environment variables that would change what the library does: tests set
# what they need explicitly.
_AMBIENT_PREFIXES = ("ORDERALLOC_", "ALADDIN_")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every test without the caller's ORDERALLOC_* / ALADDIN_* settings."""
    for name in list(os.environ):
        if name.startswith(_AMBIENT_PREFIXES):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(name="fakesnow_kwargs", scope="session")
def _fakesnow_kwargs() -> Iterator[dict[str, Any]]:
    """Connection kwargs of a fakesnow server on 127.0.0.1, shared by the session.

    One for every test directory: fakesnow cannot start a second server in a process.
    """
    fakesnow = pytest.importorskip("fakesnow")
    pytest.importorskip("snowflake.connector")
    # The emulator logs every statement at INFO, and tracebacks for the errors that
    # tamper tests provoke on purpose.
    logging.getLogger("fakesnow.server").setLevel(logging.CRITICAL)
    logging.getLogger("uvicorn").setLevel(logging.WARNING)
    with fakesnow.server() as kwargs:
        yield kwargs
