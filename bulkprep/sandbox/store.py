"""SQLite persistence for the sandbox: jobs, imported records and failed records.

One :class:`Store` wraps one connection and serialises its use with a lock, so the
request threads share one store and the worker thread opens its own. The database runs
in WAL mode: status polls read while the worker writes a batch.

Tables:

``jobs``            one row per bulk job (its id is the public job id)
``records``         accepted records of every object, as JSON; ``key`` is the identity
                    used for duplicate checks (lower-cased email for contacts, else NULL)
``failed_records``  records a job refused: 1-based record number, fields and reason
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FINAL_STATUSES = frozenset({"COMPLETED", "FAILED", "CANCELLED"})
OPEN_STATUSES = ("CREATED", "RUNNING")

#: Columns a job listing may filter on, keyed by the API's ``where`` field names.
JOB_COLUMNS: dict[str, str] = {
    "id": "id",
    "object_name": "object_name",
    "job_status": "status",
    "status": "status",
    "file_name": "file_name",
    "action": "action",
    "created_date": "created_date",
    "updated_date": "updated_date",
}
COMPARISONS = ("=", "!=", "<>", "<", "<=", ">", ">=")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    object_name TEXT NOT NULL,
    status TEXT NOT NULL,
    records_count INTEGER NOT NULL DEFAULT 0,
    failed_count INTEGER NOT NULL DEFAULT 0,
    created_date TEXT NOT NULL,
    updated_date TEXT NOT NULL,
    file_name TEXT,
    path TEXT,
    action TEXT NOT NULL,
    identifier TEXT,
    callback_url TEXT
);
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY,
    object_name TEXT NOT NULL,
    key TEXT,
    job_id INTEGER NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (object_name, key)
);
CREATE TABLE IF NOT EXISTS failed_records (
    job_id INTEGER NOT NULL,
    record_number INTEGER NOT NULL,
    data TEXT NOT NULL,
    error TEXT NOT NULL,
    PRIMARY KEY (job_id, record_number)
) WITHOUT ROWID;
"""


def now() -> str:
    """The current UTC time as the API writes it: ``2024-05-01T12:00:00.123Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Job:
    """One row of the ``jobs`` table."""

    id: int
    object_name: str
    status: str
    records_count: int
    failed_count: int
    created_date: str
    updated_date: str
    file_name: str | None
    path: str | None
    action: str
    identifier: str | None
    callback_url: str | None

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES

    def to_json(self) -> dict[str, Any]:
        """The job status object the API returns."""
        return {
            "id": str(self.id),
            "status": self.status,
            "objectName": self.object_name,
            "recordsCount": self.records_count,
            "recordsFailedCount": self.failed_count,
            "createdDate": self.created_date,
            "updatedDate": self.updated_date,
            "fileName": self.file_name,
            "action": self.action,
            "identifierFieldName": self.identifier,
        }


_JOB_FIELDS = ", ".join(Job.__dataclass_fields__)


class Store:
    """A thread-safe handle on the sandbox database file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(
            path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        with self._lock:
            self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- jobs ---------------------------------------------------------------------------

    def create_job(
        self,
        *,
        object_name: str,
        file_name: str | None,
        path: str | None,
        action: str,
        identifier: str | None,
        callback_url: str | None,
    ) -> Job:
        stamp = now()
        with self._lock:
            cursor = self._conn.execute(
                "INSERT INTO jobs (object_name, status, created_date, updated_date, file_name,"
                " path, action, identifier, callback_url)"
                " VALUES (?, 'CREATED', ?, ?, ?, ?, ?, ?, ?)",
                (object_name, stamp, stamp, file_name, path, action, identifier, callback_url),
            )
            job = self.get_job(int(cursor.lastrowid or 0))
        assert job is not None
        return job

    def get_job(self, job_id: int) -> Job | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_JOB_FIELDS} FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
        return Job(*row) if row else None

    def list_jobs(
        self,
        conditions: Sequence[tuple[str, str, str | int]] = (),
        *,
        before_id: int | None = None,
        limit: int | None = None,
        newest_first: bool = True,
    ) -> list[Job]:
        """Jobs matching all ``(column, operator, value)`` conditions (whitelisted names)."""
        clauses, params = [], []
        for column, op, value in conditions:
            if column not in JOB_COLUMNS.values() or op not in COMPARISONS:
                raise ValueError(f"cannot filter on {column} {op}")
            clauses.append(f"{column} {op} ?")
            params.append(value)
        if before_id is not None:
            clauses.append("id < ?")
            params.append(before_id)
        sql = f"SELECT {_JOB_FIELDS} FROM jobs"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY id DESC" if newest_first else " ORDER BY id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        return [Job(*row) for row in rows]

    def set_status(self, job_id: int, status: str, *, expect: Iterable[str]) -> bool:
        """Move a job to ``status`` if its status is one of ``expect``; report whether it did."""
        expected = tuple(expect)
        marks = ", ".join("?" * len(expected))
        with self._lock:
            cursor = self._conn.execute(
                "UPDATE jobs SET status = ?, updated_date = ?"
                f" WHERE id = ? AND status IN ({marks})",
                (status, now(), job_id, *expected),
            )
        return cursor.rowcount == 1

    def cancel_job(self, job_id: int) -> tuple[Job | None, bool]:
        """Cancel an unfinished job. Returns the job after the attempt, and whether it cancelled."""
        with self._lock:
            cancelled = self.set_status(job_id, "CANCELLED", expect=OPEN_STATUSES)
            return self.get_job(job_id), cancelled

    # -- records ------------------------------------------------------------------------

    def existing_keys(self, object_name: str, keys: Sequence[str]) -> set[str]:
        """The subset of ``keys`` already stored for ``object_name``."""
        found: set[str] = set()
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                rows = self._conn.execute(
                    f"SELECT key FROM records WHERE object_name = ? AND key IN ({marks})",
                    (object_name, *chunk),
                )
                found.update(row[0] for row in rows)
        return found

    def write_batch(
        self,
        job_id: int,
        object_name: str,
        *,
        records_count: int,
        failed_count: int,
        inserts: Sequence[tuple[str | None, str]],
        upserts: Sequence[tuple[str, str]],
        failed: Sequence[tuple[int, str, str]],
    ) -> bool:
        """Store one batch of a running job in one transaction, with its new counts.

        ``inserts`` and ``upserts`` are ``(key, json)`` pairs, ``failed`` holds
        ``(record_number, json, reason)``. Returns False, writing nothing, when the job is
        no longer RUNNING (it was cancelled).
        """
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                cursor = conn.execute(
                    "UPDATE jobs SET records_count = ?, failed_count = ?, updated_date = ?"
                    " WHERE id = ? AND status = 'RUNNING'",
                    (records_count, failed_count, now(), job_id),
                )
                if cursor.rowcount != 1:
                    conn.execute("ROLLBACK")
                    return False
                conn.executemany(
                    "INSERT INTO records (object_name, key, job_id, data) VALUES (?, ?, ?, ?)",
                    ((object_name, key, job_id, data) for key, data in inserts),
                )
                conn.executemany(
                    "INSERT INTO records (object_name, key, job_id, data) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (object_name, key) DO UPDATE SET"
                    " data = json_patch(records.data, excluded.data), job_id = excluded.job_id",
                    ((object_name, key, job_id, data) for key, data in upserts),
                )
                conn.executemany(
                    "INSERT INTO failed_records (job_id, record_number, data, error)"
                    " VALUES (?, ?, ?, ?)",
                    ((job_id, number, data, error) for number, data, error in failed),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return True

    def failed_records(
        self, job_id: int, *, after: int = 0, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Failed records of a job with record number above ``after``, in order."""
        sql = (
            "SELECT record_number, data, error FROM failed_records"
            " WHERE job_id = ? AND record_number > ? ORDER BY record_number"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._lock:
            rows = self._conn.execute(sql, (job_id, after)).fetchall()
        return [
            {"recordNumber": number, "record": json.loads(data), "error": error}
            for number, data, error in rows
        ]

    def records(self, object_name: str) -> list[dict[str, Any]]:
        """All stored records of an object, in the order they were first stored."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT data FROM records WHERE object_name = ? ORDER BY id", (object_name,)
            ).fetchall()
        return [json.loads(row[0]) for row in rows]
