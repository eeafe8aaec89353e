"""Retry policy: what is retried, how many times, and how long to wait in between.

The rules:

- Reads (GET) and the cancel PUT are safe to repeat. They are retried on
  connection errors, timeouts, a connection lost mid-answer, 429 and
  502/503/504 (``RETRY_STATUSES``). A 409 on cancel means "already final".
- The upload POST is sent again only when the server certainly did not take it:
  the connection was never made (:func:`connect_failed`), the body was not sent
  in full, or the server answered 429 or 503 (``UPLOAD_RETRY_STATUSES``); after
  a 429 or 503 the client first checks that the job list shows no job with the
  upload's file name.
  When the server may have taken it — a read timeout, the connection lost after
  the whole body was sent, 500/502/504 (``UPLOAD_AMBIGUOUS_STATUSES``), an
  unreadable answer — it is never posted again: the client looks the job up
  instead. So no sequence of faults creates two jobs for one upload.

Waits use exponential backoff with full jitter (a random wait between zero and
``min(cap, base * 2**n)``), unless the server says how long to wait:
``Retry-After`` (seconds or an HTTP date) or ``X-RateLimit-Reset`` (epoch
seconds). A server-requested wait longer than ``max_server_wait`` is not
honoured: the caller gives up instead of hanging. ``sleep``, ``clock``
(wall-clock epoch seconds, to read HTTP dates), ``monotonic`` (elapsed time) and
``jitter`` are injectable.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

import requests
from urllib3.exceptions import NewConnectionError

RETRY_STATUSES = frozenset({429, 502, 503, 504})
UPLOAD_RETRY_STATUSES = frozenset({429, 503})  # refused outright: nothing was created
UPLOAD_AMBIGUOUS_STATUSES = frozenset({500, 502, 504})  # the server may have made the job
TRANSPORT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)

# An X-RateLimit-Reset below this is taken as "seconds from now", not an epoch time.
_EPOCH_THRESHOLD = 1_000_000_000


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds for retrying one request.

    ``max_attempts`` counts every attempt, the first included. ``max_elapsed``
    bounds the total time since the first attempt of one request, waits and the
    attempts themselves included.
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_server_wait: float = 120.0
    max_elapsed: float = 300.0
    jitter: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def backoff(self, retry: int) -> float:
        """Full-jitter wait before retry number ``retry`` (1 for the first retry)."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** max(retry - 1, 0))
        return self.jitter() * ceiling


def server_delay(headers: Mapping[str, str] | None, *, now: float) -> float | None:
    """Seconds the server asked us to wait, from ``Retry-After`` or ``X-RateLimit-Reset``.

    ``now`` is the wall-clock time (epoch seconds). Returns ``None`` when neither
    header is present and readable.
    """
    if not headers:
        return None
    retry_after = _header(headers, "Retry-After")
    if retry_after is not None:
        value = retry_after.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None and when.tzinfo is not None:
            return max(0.0, when.timestamp() - now)
    reset = _header(headers, "X-RateLimit-Reset")
    if reset is not None:
        try:
            value_f = float(reset.strip())
        except ValueError:
            return None
        return max(0.0, value_f - now if value_f >= _EPOCH_THRESHOLD else value_f)
    return None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    lower = name.lower()
    for key, val in headers.items():
        if key.lower() == lower:
            return val
    return None


class Retrier:
    """The retry state of one request: call :meth:`pause` after each failed attempt.

    ``pause`` sleeps and returns ``True`` when another attempt may be made, or
    returns ``False`` at once when the attempts, the time budget or the server's
    patience are used up; ``reason`` then says why, for the error message.
    """

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        sleep: Callable[[float], object] = time.sleep,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy
        self._sleep = sleep
        self._clock = clock
        self._monotonic = monotonic
        self._started = monotonic()
        self.attempts = 1
        self.reason = ""

    def pause(self, headers: Mapping[str, str] | None = None) -> bool:
        policy = self.policy
        if self.attempts >= policy.max_attempts:
            self.reason = f"gave up after {self.attempts} attempts"
            return False
        requested = server_delay(headers, now=self._clock())
        if requested is not None and requested > policy.max_server_wait:
            self.reason = (
                f"the server asked to wait {requested:.0f} s, more than the "
                f"{policy.max_server_wait:.0f} s limit"
            )
            return False
        delay = requested if requested is not None else policy.backoff(self.attempts)
        elapsed = self._monotonic() - self._started
        if elapsed + delay > policy.max_elapsed:
            self.reason = f"gave up after {self.attempts} attempts in {elapsed:.0f} s"
            return False
        if delay > 0:
            self._sleep(delay)
        self.attempts += 1
        return True


def connect_failed(exc: BaseException) -> bool:
    """True when the connection was never made, so the request cannot have arrived."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError):
        reason = exc.args[0] if exc.args else None
        reason = getattr(reason, "reason", reason)
        return isinstance(reason, NewConnectionError)
    return False


def describe_failure(exc: BaseException) -> str:
    """A short phrase for a transport failure, without URLs or headers."""
    if connect_failed(exc):
        return "could not connect"
    if isinstance(exc, requests.Timeout):
        return "timed out waiting for an answer"
    return "the connection was lost"


def scrub(exc: requests.RequestException) -> requests.RequestException:
    """Drop the request (with its Authorization header) from an exception before chaining it."""
    exc.request = None
    exc.response = None
    return exc
