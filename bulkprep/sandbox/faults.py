"""Fault injection for the sandbox: random faults from a seeded plan, and one-shot faults.

A :class:`FaultPlan` gives each incoming request an independent chance to fail. The
draw happens *before* the request is handled, so a faulted request changed nothing on
the server. Kinds:

``429``
    Too Many Requests, with a ``Retry-After`` header (``FaultPlan.retry_after`` seconds).
``500`` / ``502`` / ``503``
    A platform error body with that status.
``drop``
    The connection is closed without any response.

One-shot faults are queued with :meth:`FaultInjector.inject` (``Sandbox.inject``): they
match on method and on a regular expression searched in the path below the API base,
and take precedence over the random plan. With ``after_handling=True`` the request is
handled in full first (a job is created) and only then answered with the fault, which
is how an ambiguous upload looks from the client's side.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

#: Fault kinds, in the order the random draw walks them.
FAULT_KINDS: tuple[str, ...] = ("429", "500", "502", "503", "drop")


def _kind(kind: object) -> str:
    """A fault kind as written by a user (``"429"``, ``" Drop"``), checked and folded."""
    folded = str(kind).strip().lower()
    if folded not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {folded!r}: expected one of {', '.join(FAULT_KINDS)}")
    return folded


@dataclass
class FaultPlan:
    """Random faults: ``rates`` maps a fault kind to the chance (0..1) a request gets it.

    The rates are exclusive outcomes of one draw per request, so they must add up to at
    most 1. ``seed`` makes the sequence of outcomes reproducible.
    """

    rates: dict[str, float] = field(default_factory=dict)
    seed: int | None = None
    retry_after: int = 1
    _rng: random.Random = field(init=False, repr=False, compare=False)
    _lock: threading.Lock = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        rates: dict[str, float] = {}
        for kind, rate in self.rates.items():
            kind = _kind(kind)
            if isinstance(rate, bool) or not isinstance(rate, int | float):
                raise ValueError(f"fault rate for {kind} must be a number, got {rate!r}")
            if not 0.0 <= float(rate) <= 1.0:
                raise ValueError(f"fault rate for {kind} must be between 0 and 1, got {rate}")
            rates[kind] = float(rate)
        total = sum(rates.values())
        if total > 1.0 + 1e-9:
            raise ValueError(f"fault rates add up to {total:g}; they must add up to at most 1")
        if isinstance(self.retry_after, bool) or not isinstance(self.retry_after, int):
            raise ValueError(
                f"retry_after must be a whole number of seconds, got {self.retry_after!r}"
            )
        if self.retry_after < 0:
            raise ValueError(f"retry_after must not be negative, got {self.retry_after}")
        self.rates = rates
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()

    @classmethod
    def parse(
        cls, specs: Iterable[str], *, seed: int | None = None, retry_after: int = 1
    ) -> FaultPlan:
        """Build a plan from CLI-style specs such as ``["429:0.2", "503:0.1", "drop:0.05"]``.

        A spec may also hold several comma-separated parts (``"429:0.2,drop:0.05"``).
        Raises ``ValueError`` with a message naming the bad spec.
        """
        if isinstance(specs, str):
            specs = [specs]
        rates: dict[str, float] = {}
        for spec in specs:
            for part in str(spec).split(","):
                part = part.strip()
                if not part:
                    continue
                kind, sep, value = part.partition(":")
                kind = kind.strip().lower()
                if not sep or not value.strip():
                    raise ValueError(f"bad fault spec {part!r}: expected KIND:RATE, e.g. 429:0.2")
                if kind not in FAULT_KINDS:
                    raise ValueError(
                        f"bad fault spec {part!r}: unknown kind {kind!r}, "
                        f"expected one of {', '.join(FAULT_KINDS)}"
                    )
                try:
                    rate = float(value)
                except ValueError:
                    raise ValueError(
                        f"bad fault spec {part!r}: rate {value.strip()!r} is not a number"
                    ) from None
                if not 0.0 <= rate <= 1.0:
                    raise ValueError(f"bad fault spec {part!r}: rate must be between 0 and 1")
                if kind in rates:
                    raise ValueError(f"bad fault spec {part!r}: kind {kind} given twice")
                rates[kind] = rate
        return cls(rates=rates, seed=seed, retry_after=retry_after)

    def draw(self) -> str | None:
        """Return the fault kind for one request, or ``None`` for no fault."""
        if not self.rates:
            return None
        with self._lock:
            roll = self._rng.random()
        edge = 0.0
        for kind in FAULT_KINDS:
            edge += self.rates.get(kind, 0.0)
            if roll < edge:
                return kind
        return None


@dataclass
class Fault:
    """A fault chosen for one request."""

    kind: str
    after_handling: bool = False


@dataclass
class _Injection:
    kind: str
    method: str | None
    path: re.Pattern[str] | None
    remaining: int
    after_handling: bool


class FaultInjector:
    """Chooses the fault, if any, for each request: one-shot injections first, then the plan."""

    def __init__(self, plan: FaultPlan | None = None) -> None:
        self.plan = plan or FaultPlan()
        self._injections: list[_Injection] = []
        self._lock = threading.Lock()

    def inject(
        self,
        kind: str,
        *,
        method: str | None = None,
        path: str | None = None,
        times: int = 1,
        after_handling: bool = False,
    ) -> None:
        """Queue a fault for the next ``times`` requests matching ``method`` and ``path``."""
        kind = _kind(kind)
        if times < 1:
            raise ValueError(f"times must be at least 1, got {times}")
        pattern = re.compile(path) if path is not None else None
        with self._lock:
            self._injections.append(
                _Injection(kind, method.upper() if method else None, pattern, times, after_handling)
            )

    def choose(self, method: str, path: str) -> Fault | None:
        """Return the fault for a request (consuming a one-shot injection), or ``None``."""
        with self._lock:
            for injection in self._injections:
                if injection.method is not None and injection.method != method.upper():
                    continue
                if injection.path is not None and not injection.path.search(path):
                    continue
                injection.remaining -= 1
                if injection.remaining <= 0:
                    self._injections.remove(injection)
                return Fault(injection.kind, injection.after_handling)
        kind = self.plan.draw()
        return Fault(kind) if kind else None
