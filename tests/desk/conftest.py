"""Fixtures for the desk tests: a fresh mock, a SQLite trail, a fake clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from desk_helpers import Clock

from orderalloc.audit import SQLiteAuditSink
from orderalloc.sources.mock import MockAladdin


@pytest.fixture(name="mock")
def _mock() -> MockAladdin:
    """A fresh mock: its order book starts empty."""
    return MockAladdin()


@pytest.fixture(name="sqlite_sink")
def _sqlite_sink(tmp_path: Path) -> Iterator[SQLiteAuditSink]:
    """A SQLite audit trail in the test's own directory."""
    with SQLiteAuditSink(tmp_path / "audit.sqlite3") as sink:
        yield sink


@pytest.fixture(name="clock")
def _clock() -> Clock:
    """A fake clock at T0."""
    return Clock()
