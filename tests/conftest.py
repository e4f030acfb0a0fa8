"""Shared test configuration: Hypothesis profiles and a clean environment.

Profiles (choose with ``HYPOTHESIS_PROFILE``):

* ``tests`` (default): a few hundred examples per property;
* ``fast``: a quick smoke run while editing;
* ``ci``: thousands of examples, no deadline.
"""

from __future__ import annotations

import os

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
