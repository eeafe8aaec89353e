"""Asynchronous job processing: one thread works through a queue of job ids.

A job goes CREATED → RUNNING → COMPLETED with ``step_seconds`` between the state
changes; the import in between is real. The uploaded CSV (UTF-8, comma, header line)
is streamed with :mod:`csv` and stored in batches, each in one transaction together
with the job's counts, so a status poll sees the counts grow and a cancel takes effect
at the next batch. Server-side checks stand in for the vendor's:

- ``contact``: ``C_EmailAddress`` must be present and look like an address, and an
  address already stored (case-insensitive) fails with "Email address already exists",
  unless the job is an upsert on ``C_EmailAddress``, which updates the stored record.
- every object: a record with more or fewer fields than the header fails.

When a job reaches a final status and its upload named a callback URL, the final
status JSON is POSTed there, signed when a signature key is set. Callback problems are
logged; they never stop the worker.
"""

from __future__ import annotations

import csv
import json
import logging
import queue
import re
import threading
from pathlib import Path
from urllib.parse import urlsplit

import requests

from ..signature import HEADER, sign
from .store import Job, Store

log = logging.getLogger("bulkprep.sandbox")

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
BATCH_SIZE = 5000
ALREADY_EXISTS = "Email address already exists"


def is_local_url(url: str) -> bool:
    """True for an http(s) URL whose host is the loopback interface."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and host is not None and host.lower() in LOCAL_HOSTS


class _Stopped(Exception):
    """The sandbox is stopping: leave the job where it is."""


class Worker:
    """The background thread that processes bulk jobs in submission order."""

    def __init__(
        self,
        db_path: Path,
        upload_dir: Path,
        *,
        step_seconds: float,
        fail_jobs: bool,
        signature_key: str | None,
    ) -> None:
        self.db_path = db_path
        self.upload_dir = upload_dir
        self.step_seconds = step_seconds
        self.fail_jobs = fail_jobs
        self.signature_key = signature_key
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="bulkprep-sandbox-worker", daemon=True
        )
        self._http = requests.Session()
        self._http.trust_env = False  # a callback goes to loopback, never through a proxy

    def upload_path(self, job_id: int) -> Path:
        return self.upload_dir / f"{job_id}.csv"

    def start(self) -> None:
        self._thread.start()

    def submit(self, job_id: int) -> None:
        self._queue.put(job_id)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._http.close()

    # -- the loop -----------------------------------------------------------------------

    def _run(self) -> None:
        store = Store(self.db_path)
        try:
            while not self._stop.is_set():
                job_id = self._queue.get()
                if job_id is None:
                    break
                try:
                    self._process(store, job_id)
                except _Stopped:
                    break
                except Exception:
                    log.exception("sandbox job %s: unexpected error", job_id)
                    if store.set_status(job_id, "FAILED", expect=("CREATED", "RUNNING")):
                        self._finish(store, job_id)
        finally:
            store.close()

    def _pause(self) -> None:
        if self._stop.wait(self.step_seconds):
            raise _Stopped

    def _process(self, store: Store, job_id: int) -> None:
        job = store.get_job(job_id)
        if job is None:
            return
        if job.status != "CREATED":
            if job.final:  # cancelled while queued
                self._finish(store, job_id)
            return
        self._pause()
        if not store.set_status(job_id, "RUNNING", expect=("CREATED",)):
            self._finish(store, job_id)
            return
        if self.fail_jobs:
            self._pause()
            store.set_status(job_id, "FAILED", expect=("RUNNING",))
            self._finish(store, job_id)
            return
        try:
            completed = self._import(store, job)
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            log.warning("sandbox job %s failed: %s", job_id, exc)
            store.set_status(job_id, "FAILED", expect=("RUNNING",))
            self._finish(store, job_id)
            return
        if completed:
            self._pause()
            store.set_status(job_id, "COMPLETED", expect=("RUNNING",))
        self._finish(store, job_id)

    # -- the import ---------------------------------------------------------------------

    def _import(self, store: Store, job: Job) -> bool:
        """Import the job's file. False if the job was cancelled part way."""
        with self.upload_path(job.id).open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise csv.Error("the file is empty: no header line")
            header = [name.strip() for name in header]
            counts = [0, 0]  # records read, records failed
            batch: list[tuple[int, list[str]]] = []
            for row in reader:
                if not row:
                    continue  # a blank line is not a record
                counts[0] += 1
                batch.append((counts[0], row))
                if len(batch) >= BATCH_SIZE:
                    if not self._flush(store, job, header, batch, counts):
                        return False
                    batch = []
                    if self._stop.is_set():
                        raise _Stopped
            if batch and not self._flush(store, job, header, batch, counts):
                return False
        return True

    def _flush(
        self,
        store: Store,
        job: Job,
        header: list[str],
        batch: list[tuple[int, list[str]]],
        counts: list[int],
    ) -> bool:
        contact = job.object_name == "contact"
        upsert = (
            contact
            and job.action == "upsert"
            and (job.identifier or "").lower() == "c_emailaddress"
        )
        inserts: list[tuple[str | None, str]] = []
        upserts: list[tuple[str, str]] = []
        failed: list[tuple[int, str, str]] = []
        checked: list[tuple[int, str, str]] = []  # (number, json, key) passing the row checks
        for number, row in batch:
            record = dict(zip(header, row, strict=False))
            data = json.dumps(record, ensure_ascii=False)
            if len(row) != len(header):
                reason = f"Record has {len(row)} fields, the header has {len(header)}"
                failed.append((number, data, reason))
            elif not contact:
                inserts.append((None, data))
            else:
                email = (record.get("C_EmailAddress") or "").strip()
                if not email:
                    failed.append((number, data, "C_EmailAddress is required"))
                elif not EMAIL_RE.match(email):
                    failed.append((number, data, "Invalid email address"))
                else:
                    checked.append((number, data, email.lower()))
        if upsert:
            upserts = [(key, data) for _, data, key in checked]
        elif checked:
            taken = store.existing_keys(job.object_name, [key for _, _, key in checked])
            for number, data, key in checked:
                if key in taken:
                    failed.append((number, data, ALREADY_EXISTS))
                else:
                    taken.add(key)
                    inserts.append((key, data))
        counts[1] += len(failed)
        failed.sort()
        return store.write_batch(
            job.id,
            job.object_name,
            records_count=counts[0],
            failed_count=counts[1],
            inserts=inserts,
            upserts=upserts,
            failed=failed,
        )

    # -- the end of a job ---------------------------------------------------------------

    def _finish(self, store: Store, job_id: int) -> None:
        self.upload_path(job_id).unlink(missing_ok=True)
        job = store.get_job(job_id)
        if job is not None and job.callback_url:
            self._callback(job)

    def _callback(self, job: Job) -> None:
        url = job.callback_url or ""
        if not is_local_url(url):
            log.warning("sandbox job %s: callback URL is not on loopback; not called", job.id)
            return
        body = json.dumps(job.to_json()).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self.signature_key:
            headers[HEADER] = sign(body, self.signature_key)
        try:
            response = self._http.post(url, data=body, headers=headers, timeout=5)
        except requests.RequestException as exc:
            log.warning("sandbox job %s: callback to %s failed: %s", job.id, url, exc)
            return
        if response.status_code >= 400:
            log.warning(
                "sandbox job %s: callback to %s answered %s", job.id, url, response.status_code
            )
