"""Faults the mock server injects: random ones from a seeded `FaultPlan`, or scripted one by one.

`Faults.decide` says, for one request, whether it is answered with an
error (429, 503, ...) or broken JSON, before or after it is carried out,
late (*delay*) or slowly (*hold*, the server carries it out late).
"""

from __future__ import annotations

import threading

import attrs
import numpy as np

from .replies import JSON_HEADERS, Reply, error

__all__ = ["Decision", "FaultPlan", "Faults", "Scripted"]


@attrs.define
class FaultPlan:
    """Random faults, drawn from a seeded generator, on reads (and the token endpoint never).

    Args:
        rate: Probability that a read is answered with one of *statuses*.
        statuses: The error statuses to draw from (429 and 503 by default).
        retry_after: The ``Retry-After`` seconds sent with 429 and 503 (None: no header).
        slow_rate: Probability that an answer is delayed by *slow_seconds*.
        slow_seconds: The delay of a slow answer.
        malformed_rate: Probability that a read is answered 200 with broken JSON.
        seed: The seed.
    """

    rate: float = 0.0
    statuses: tuple[int, ...] = (429, 503)
    retry_after: float | None = 0.01
    slow_rate: float = 0.0
    slow_seconds: float = 0.0
    malformed_rate: float = 0.0
    seed: int = 0


@attrs.define
class Scripted:
    """One scripted fault (see `AladdinMockHandler.script`), used up *times* times."""

    path_contains: str
    status: int
    times: int
    retry_after: float | None
    delay: float
    malformed: bool
    after: bool  # apply the request, then fail the answer
    hold: float = 0.0  # seconds before the request is carried out (a slow server)


@attrs.frozen
class Decision:
    """What happens to one request.

    Attributes:
        kind: None (answered normally), ``"malformed"``, or the status to answer (``"503"``).
        delay: Seconds the answer is late.
        retry_after: The ``Retry-After`` of a 429 or 503.
        after: Carry the request out, then answer *kind* (its answer is lost).
        hold: Seconds before the request is carried out.
    """

    kind: str | None = None
    delay: float = 0.0
    retry_after: float | None = None
    after: bool = False
    hold: float = 0.0

    def reply(self) -> Reply:
        """The faulty answer (*kind* is not None)."""
        if self.kind == "malformed":
            return Reply(200, JSON_HEADERS, b'{"truncated": [1, 2, ', self.delay)
        status = int(self.kind or 500)
        extra = (
            {"Retry-After": f"{self.retry_after:g}"}
            if self.retry_after is not None and status in (429, 503)
            else {}
        )
        code = {429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE", 500: "INTERNAL"}.get(status, "ERROR")
        return attrs.evolve(error(status, code, f"injected {status}", extra), delay=self.delay)


class Faults:
    """The random plan and the scripts of one handler (thread-safe)."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self._scripts: list[Scripted] = []
        self._rng = np.random.default_rng(plan.seed)
        self._lock = threading.Lock()

    def add(self, scripted: Scripted) -> None:
        """Script a fault."""
        with self._lock:
            self._scripts.append(scripted)

    def _scripted(self, path: str, write: bool) -> Scripted | None:
        with self._lock:
            for s in self._scripts:
                if s.hold and not write:
                    continue  # a slow write: the what-if on the same path is not held
                if s.path_contains in path and s.times > 0:
                    s.times -= 1
                    return s
        return None

    def decide(self, path: str, write: bool) -> Decision:
        """The fault for a request to *path*: scripted first; random ones on reads only."""
        s = self._scripted(path, write)
        if s is not None:
            kind = "malformed" if s.malformed else (str(s.status) if s.status >= 300 else None)
            return Decision(kind, s.delay, s.retry_after, s.after, s.hold)
        if write:
            return Decision()
        f = self.plan
        with self._lock:
            draws = self._rng.random(3)
            status = str(self._rng.choice(f.statuses)) if f.statuses else None
        delay = f.slow_seconds if draws[1] < f.slow_rate else 0.0
        if draws[0] < f.rate:
            return Decision(status, delay, f.retry_after)
        if draws[2] < f.malformed_rate:
            return Decision("malformed", delay, f.retry_after)
        return Decision(None, delay)
