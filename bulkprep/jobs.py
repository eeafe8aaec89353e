"""Bulk jobs: what a job's status means, and waiting for a job to finish.

Status values (DESIGN.md): COMPLETE/COMPLETED succeed; ERROR, ABORTED and FAILED
fail; CANCELLED/CANCELED are cancelled; CREATED, STARTED, RUNNING,
CANCELLATION_PENDING — and any value not listed here — mean still running, so a
new status from the platform makes bulkprep wait (bounded by the timeout)
rather than stop.

:func:`wait_for_job` polls adaptively: short intervals first, growing by
``factor`` up to ``max_interval``, and short again whenever the status changes.
``KeyboardInterrupt`` is not caught: the caller prints how to resume.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from bulkprep._exceptions import WaitTimeout

SUCCESS_STATUSES = frozenset({"COMPLETE", "COMPLETED"})
FAILURE_STATUSES = frozenset({"ERROR", "ABORTED", "FAILED"})
CANCELLED_STATUSES = frozenset({"CANCELLED", "CANCELED"})
RUNNING_STATUSES = frozenset({"CREATED", "STARTED", "RUNNING", "CANCELLATION_PENDING"})
FINAL_STATUSES = SUCCESS_STATUSES | FAILURE_STATUSES | CANCELLED_STATUSES

log = logging.getLogger(__name__)


def _int_or_none(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class Job:
    """A bulk job just created by an upload.

    ``adopted`` is true when the upload's answer was lost and the job was found
    in the job list by its unique ``remote_name`` instead.
    """

    id: str
    status: str
    remote_name: str = ""
    sha256: str = ""
    adopted: bool = False


@dataclass(frozen=True)
class JobStatus:
    """A job's status as the API reports it; ``raw`` is the whole JSON object.

    ``note`` is set by :func:`wait_for_job` the first time it meets a status it
    does not know.
    """

    id: str
    status: str
    records_count: int | None = None
    records_failed_count: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)
    note: str = field(default="", compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobStatus:
        return cls(
            id=str(data.get("id", "")),
            status=str(data.get("status") or "UNKNOWN"),
            records_count=_int_or_none(data.get("recordsCount")),
            records_failed_count=_int_or_none(data.get("recordsFailedCount")),
            raw=dict(data),
        )

    @property
    def is_success(self) -> bool:
        return self.status.upper() in SUCCESS_STATUSES

    @property
    def is_failure(self) -> bool:
        return self.status.upper() in FAILURE_STATUSES

    @property
    def is_cancelled(self) -> bool:
        return self.status.upper() in CANCELLED_STATUSES

    @property
    def is_final(self) -> bool:
        return self.status.upper() in FINAL_STATUSES

    @property
    def is_known(self) -> bool:
        return self.status.upper() in FINAL_STATUSES | RUNNING_STATUSES

    @property
    def file_name(self) -> str:
        """The job's file name without the leading slash of the upload ``path``."""
        return str(self.raw.get("fileName") or "").lstrip("/")

    @property
    def created(self) -> str:
        return str(self.raw.get("createdDate") or "")


class StatusSource(Protocol):
    """Anything with ``job_status(id)``: the :class:`~bulkprep.client.Client`, or a fake."""

    def job_status(self, job_id: str) -> JobStatus: ...


def wait_for_job(
    client: StatusSource,
    job_id: str,
    *,
    timeout: float,
    on_change: Callable[[JobStatus, JobStatus | None], object] | None = None,
    sleep: Callable[[float], object] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    first_interval: float = 0.5,
    max_interval: float = 10.0,
    factor: float = 1.5,
) -> JobStatus:
    """Poll ``job_id`` until its status is final, and return that status.

    ``on_change(status, previous)`` is called for the first status and for every
    change of status or record counts. Raises :class:`WaitTimeout` (naming the
    job and ``bulkprep wait ID``) when ``timeout`` seconds pass first; the job
    keeps running on the server.
    """
    if first_interval <= 0 or max_interval < first_interval or factor < 1:
        raise ValueError("need 0 < first_interval <= max_interval and factor >= 1")
    deadline = clock() + timeout
    interval = first_interval
    previous: JobStatus | None = None
    unknown_seen: set[str] = set()
    while True:
        current = client.job_status(job_id)
        if previous is None or _changed(current, previous):
            if not current.is_known and current.status.upper() not in unknown_seen:
                unknown_seen.add(current.status.upper())
                note = f"unknown status {current.status!r}: treated as still running"
                log.warning("job %s: %s", job_id, note)
                current = replace(current, note=note)
            if on_change is not None:
                on_change(current, previous)
            if previous is not None and current.status != previous.status:
                interval = first_interval
        if current.is_final:
            return current
        remaining = deadline - clock()
        if remaining <= 0:
            raise WaitTimeout(
                f"job {job_id} did not finish within {timeout:g} s (last status "
                f"{current.status}); it keeps running on the server. "
                f"Resume with: bulkprep wait {job_id}"
            )
        sleep(min(interval, remaining))
        interval = min(interval * factor, max_interval)
        previous = current


def _changed(current: JobStatus, previous: JobStatus) -> bool:
    return (
        current.status != previous.status
        or current.records_count != previous.records_count
        or current.records_failed_count != previous.records_failed_count
    )
