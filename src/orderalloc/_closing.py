"""`Closing`: an object that is its own context manager and closes on exit.

Private. The audit sinks, the desk and the Aladdin client all hold a
connection (a database, a sink, an HTTP client) and are used as
``with X(...) as x:``; this is where ``__enter__`` and ``__exit__`` are written.
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol

from typing_extensions import Self


class Closing(Protocol):
    """**Protocol:** has `close`; ``with`` returns the object itself and closes it on exit."""

    def close(self) -> None:
        """Release what the object holds; closing twice is allowed."""
        ...

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
