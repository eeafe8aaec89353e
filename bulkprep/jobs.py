"""Bulk jobs: what a job's status means, how an upload's job is recognised, and waiting.

Status values (DESIGN.md): COMPLETE/COMPLETED succeed; ERROR, ABORTED and FAILED
fail; CANCELLED/CANCELED are cancelled; CREATED, STARTED, RUNNING,
CANCELLATION_PENDING — and any value not listed here — mean still running, so a
new status from the platform makes bulkprep wait (bounded by the timeout)
rather than stop.

:func:`wait_for_job` polls adaptively: short intervals first, growing by
``factor`` up to ``max_interval``, and short again whenever the status changes.
``KeyboardInterrupt`` is not caught: the caller prints how to resume.

Every upload gets a unique remote file name (:func:`unique_remote_name`), so when
the answer to an upload is lost :func:`find_upload_job` can find the job it made.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from bulkprep._exceptions import AmbiguousUploadError, InputError, WaitTimeout

SUCCESS_STATUSES = frozenset({"COMPLETE", "COMPLETED"})
FAILURE_STATUSES = frozenset({"ERROR", "ABORTED", "FAILED"})
CANCELLED_STATUSES = frozenset({"CANCELLED", "CANCELED"})
RUNNING_STATUSES = frozenset({"CREATED", "STARTED", "RUNNING", "CANCELLATION_PENDING"})
FINAL_STATUSES = SUCCESS_STATUSES | FAILURE_STATUSES | CANCELLED_STATUSES

# A job is taken for an upload's only if created no earlier than this before the upload
# started (allowing for a server clock behind ours).
CLOCK_SKEW = 600.0

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


def file_sha256(path: str | os.PathLike[str], *, chunk_size: int = 1 << 20) -> str:
    """The hex SHA-256 of a file, read in chunks (flat memory for any size)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(chunk_size):
                digest.update(chunk)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    return digest.hexdigest()


def unique_remote_name(source: str | os.PathLike[str], sha256: str, when: float) -> str:
    """A remote file name that identifies one upload: ``stem-<sha8>-<UTC time>-<random>.csv``.

    If the answer to an upload is lost, the job is found again by this name.
    """
    stem = Path(str(source).replace("\\", "/")).stem
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") or "upload"
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(when))
    return f"{stem[:60]}-{sha256[:8]}-{stamp}-{os.urandom(3).hex()}.csv"


def parse_timestamp(value: str) -> float | None:
    """Epoch seconds of an ISO 8601 time with a zone (``...Z`` too); ``None`` otherwise."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.timestamp() if parsed.tzinfo is not None else None


class JobLister(Protocol):
    """Anything with ``iter_jobs(where)``: the :class:`~bulkprep.client.Client`, or a fake."""

    def iter_jobs(
        self, where: str | None = None, *, page_size: int = 200
    ) -> Iterator[JobStatus]: ...


def object_filter(object_name: str) -> str:
    """The job list's ``where`` expression for one object, quoted."""
    return "object_name='{}'".format(object_name.replace("'", "''"))


def find_upload_job(
    lister: JobLister, object_name: str, remote_name: str, *, since: float, source: object = ""
) -> JobStatus | None:
    """The job an upload created, found by its unique remote file name; ``None`` if none.

    Only jobs created at or after ``since`` (epoch seconds, less ``CLOCK_SKEW``) count.
    More than one match raises :class:`AmbiguousUploadError`.
    """
    where = object_filter(object_name)
    matches: list[JobStatus] = []
    for job in lister.iter_jobs(where):
        created = parse_timestamp(job.created)
        if created is not None and created < since - CLOCK_SKEW:
            break  # newest first: every job further down is older than the upload
        if job.file_name == remote_name.lstrip("/"):
            matches.append(job)
    if len(matches) > 1:
        raise AmbiguousUploadError(
            f"the upload of {source or remote_name} matches {len(matches)} jobs "
            f"({', '.join(job.id for job in matches)}) named {remote_name}; check them with "
            f"`bulkprep status ID` before uploading again"
        )
    return matches[0] if matches else None


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
