"""Job journal: a local record of every bulk job bulkprep started.

One SQLite file (``<state dir>/journal.sqlite3``; the state dir is
``BULKPREP_STATE_DIR`` or the platform's user state dir, see ``bulkprep.config``).
A placeholder entry (status ``SENDING``) is written before a file is sent and
replaced by the job's entry once the job id is known; the entry is updated as the
job moves. So ``bulkprep jobs`` and ``bulkprep wait ID`` work after an interrupted
run, and a second upload of the same bytes is caught, even one cut off while
sending.

Entries are keyed by ``(host, job_id)``: job ids are only unique per platform.
The journal holds no secrets: the host is stored without user info, and there is
no field for credentials. Every call opens its own connection with a busy
timeout, so several bulkprep processes may write at once.
"""

from __future__ import annotations

import builtins
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bulkprep._exceptions import OutputError
from bulkprep.config import JOURNAL_FILE, default_state_dir, public_url
from bulkprep.jobs import CANCELLED_STATUSES, FAILURE_STATUSES, JobStatus

_COLUMNS = (
    "job_id",
    "host",
    "hub",
    "object_name",
    "remote_name",
    "source",
    "sha256",
    "rows",
    "chunk_index",
    "chunk_count",
    "created",
    "updated",
    "status",
    "records_count",
    "records_failed_count",
)
_UPDATABLE = frozenset(_COLUMNS) - {"job_id", "host", "created"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT NOT NULL,
    host TEXT NOT NULL,
    hub TEXT NOT NULL,
    object_name TEXT NOT NULL,
    remote_name TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    sha256 TEXT NOT NULL DEFAULT '',
    rows INTEGER,
    chunk_index INTEGER NOT NULL DEFAULT 1,
    chunk_count INTEGER NOT NULL DEFAULT 1,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'CREATED',
    records_count INTEGER,
    records_failed_count INTEGER,
    PRIMARY KEY (host, job_id)
);
CREATE INDEX IF NOT EXISTS jobs_by_sha ON jobs (sha256, object_name, host, hub);
"""


def utc_now() -> str:
    """The current UTC time as ISO 8601 with seconds, e.g. ``2024-05-01T12:00:00+00:00``."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class JournalEntry:
    """One bulk job as bulkprep saw it."""

    job_id: str
    host: str
    hub: str
    object_name: str
    remote_name: str = ""
    source: str = ""
    sha256: str = ""
    rows: int | None = None
    chunk_index: int = 1
    chunk_count: int = 1
    created: str = ""
    updated: str = ""
    status: str = "CREATED"
    records_count: int | None = None
    records_failed_count: int | None = None

    @property
    def is_failed_or_cancelled(self) -> bool:
        return self.status.upper() in FAILURE_STATUSES | CANCELLED_STATUSES

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Journal:
    """The job journal at ``path`` (default: ``<state dir>/journal.sqlite3``)."""

    def __init__(self, path: str | Path | None = None, *, timeout: float = 30.0) -> None:
        self.path = Path(path) if path is not None else default_state_dir() / JOURNAL_FILE
        self._timeout = timeout
        self._ready = False

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            if not self._ready:
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with closing(sqlite3.connect(self.path, timeout=self._timeout)) as conn:
                conn.row_factory = sqlite3.Row
                if not self._ready:
                    conn.executescript(_SCHEMA)
                    self._ready = True
                with conn:
                    yield conn
        except (sqlite3.Error, OSError) as exc:
            raise OutputError(f"cannot use the job journal {self.path}: {exc}") from exc

    def add(self, entry: JournalEntry) -> JournalEntry:
        """Record a new job (or replace the entry with the same host and id)."""
        now = utc_now()
        entry = replace(
            entry,
            host=public_url(entry.host),
            created=entry.created or now,
            updated=entry.updated or entry.created or now,
        )
        values = asdict(entry)
        placeholders = ", ".join(f":{name}" for name in _COLUMNS)
        with self._connect() as conn:
            conn.execute(
                f"INSERT OR REPLACE INTO jobs ({', '.join(_COLUMNS)}) VALUES ({placeholders})",
                values,
            )
        return entry

    def update(self, job_id: str, host: str, /, **changes: Any) -> JournalEntry | None:
        """Change fields of an entry (``status=``, ``records_count=`` …); ``None`` if absent."""
        unknown = sorted(set(changes) - _UPDATABLE)
        if unknown:
            raise TypeError(f"cannot update journal field(s): {', '.join(unknown)}")
        changes.setdefault("updated", utc_now())
        assignments = ", ".join(f"{name} = :{name}" for name in changes)
        with self._connect() as conn:
            cursor = conn.execute(
                f"UPDATE jobs SET {assignments} WHERE job_id = :_job_id AND host = :_host",
                {**changes, "_job_id": str(job_id), "_host": public_url(host)},
            )
            if cursor.rowcount == 0:
                return None
        return self.get(job_id, host)

    def record_status(self, job_id: str, host: str, status: JobStatus) -> JournalEntry | None:
        """Keep the server's status and record counts of a job."""
        return self.update(
            job_id,
            host,
            status=status.status,
            records_count=status.records_count,
            records_failed_count=status.records_failed_count,
        )

    def remove(self, job_id: str, host: str) -> None:
        """Forget an entry (a placeholder written while an upload was being sent)."""
        with self._connect() as conn:
            conn.execute(
                "DELETE FROM jobs WHERE job_id = ? AND host = ?", (str(job_id), public_url(host))
            )

    def get(self, job_id: str, host: str | None = None) -> JournalEntry | None:
        """The entry for ``job_id`` (on ``host``, or the newest on any host)."""
        query = "SELECT * FROM jobs WHERE job_id = ?"
        params: list[Any] = [str(job_id)]
        if host is not None:
            query += " AND host = ?"
            params.append(public_url(host))
        with self._connect() as conn:
            row = conn.execute(query + " ORDER BY created DESC, rowid DESC", params).fetchone()
        return _entry(row) if row is not None else None

    def list(self, *, limit: int | None = None) -> builtins.list[JournalEntry]:
        """All entries, newest first."""
        query = "SELECT * FROM jobs ORDER BY created DESC, rowid DESC"
        if limit is not None:
            query += f" LIMIT {int(limit)}"
        with self._connect() as conn:
            return [_entry(row) for row in conn.execute(query)]

    def find_duplicate(
        self, sha256: str, object_name: str, host: str, hub: str
    ) -> JournalEntry | None:
        """The newest earlier upload of the same bytes to the same target that did not fail.

        An entry counts when its job completed or may still be running; failed and
        cancelled jobs do not, so re-uploading after a failure is not a duplicate.
        """
        if not sha256:
            return None
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT * FROM jobs WHERE sha256 = ? AND object_name = ? AND host = ? AND hub = ?"
                " ORDER BY created DESC, rowid DESC",
                (sha256, object_name, public_url(host), hub),
            ).fetchall()
        for row in rows:
            entry = _entry(row)
            if not entry.is_failed_or_cancelled:
                return entry
        return None


def _entry(row: sqlite3.Row) -> JournalEntry:
    return JournalEntry(**{f.name: row[f.name] for f in fields(JournalEntry)})
