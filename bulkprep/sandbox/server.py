"""The :class:`Sandbox`: a local Open Connectors Bulk API on 127.0.0.1, in background threads.

``start()`` binds the port, opens the SQLite store, starts the worker and serves
requests with werkzeug's threaded server; ``stop()`` undoes all of it. With a
``data_dir`` the database (``sandbox.db``) is kept and a later sandbox on the same
folder picks up where this one stopped: jobs still CREATED are queued again, jobs
that were RUNNING end as FAILED.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import socket
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .._exceptions import SandboxError
from .app import API_PREFIX, SandboxApp, SandboxCredentials
from .faults import FaultInjector, FaultPlan
from .handlers import Handlers
from .store import Store
from .worker import Worker

log = logging.getLogger("bulkprep.sandbox")

HOST = "127.0.0.1"


class _RequestHandler(WSGIRequestHandler):
    """werkzeug's handler, quiet, and closing the connection when the app drops it."""

    def connection_dropped(self, error: BaseException, environ: Any = None) -> None:
        self.close_connection = True

    def log(self, level: str, message: str, *args: Any) -> None:
        log.debug("sandbox http: " + message, *args)


class Sandbox:
    """A local imitation of the Open Connectors Bulk API. See the package docstring."""

    def __init__(
        self,
        *,
        port: int = 0,
        data_dir: str | Path | None = None,
        credentials: SandboxCredentials | None = None,
        faults: FaultPlan | None = None,
        latency_ms: float = 0,
        fail_jobs: bool = False,
        step_seconds: float = 0.05,
        signature_key: str | None = None,
        hub: str = "marketing",
    ) -> None:
        self.credentials = credentials or SandboxCredentials()
        self.faults = faults or FaultPlan()
        self.latency_ms = latency_ms
        self.fail_jobs = fail_jobs
        self.step_seconds = step_seconds
        self.signature_key = signature_key
        self.hub = hub
        self._requested_port = port
        self._data_dir = Path(data_dir) if data_dir is not None else None
        self._injector = FaultInjector(self.faults)
        #: Answer the next matching requests with a fault (:meth:`FaultInjector.inject`).
        self.inject = self._injector.inject
        self._port: int | None = None
        self._tmp_dir: Path | None = None
        self._store: Store | None = None
        self._worker: Worker | None = None
        self._app: SandboxApp | None = None
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> Sandbox:
        """Bind 127.0.0.1, start serving and processing. Raises SandboxError if it cannot."""
        if self._server is not None:
            return self
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        if self._data_dir is None:
            self._tmp_dir = Path(tempfile.mkdtemp(prefix="bulkprep-sandbox-"))
        data_dir = self._data_dir or self._tmp_dir
        assert data_dir is not None
        upload_dir = data_dir / "uploads"
        try:
            upload_dir.mkdir(parents=True, exist_ok=True)
            self._store = Store(data_dir / "sandbox.db")
        except (OSError, sqlite3.Error) as exc:
            raise SandboxError(f"sandbox cannot use data folder {data_dir}: {exc}") from exc
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((HOST, self._requested_port))
            listener.listen(128)
        except OSError as exc:
            listener.close()
            reason = exc.strerror or str(exc)
            raise SandboxError(
                f"sandbox cannot listen on {HOST}:{self._requested_port}: {reason}"
            ) from exc
        self._worker = Worker(
            self._store.path,
            upload_dir,
            step_seconds=self.step_seconds,
            fail_jobs=self.fail_jobs,
            signature_key=self.signature_key,
        )
        self._app = SandboxApp(
            handlers=Handlers(self._store, self._worker),
            credentials=self.credentials,
            injector=self._injector,
            upload_dir=upload_dir,
            latency_ms=self.latency_ms,
            hub=self.hub,
        )
        try:
            self._server = make_server(
                HOST,
                self._requested_port,
                self._app,
                threaded=True,
                request_handler=_RequestHandler,
                fd=listener.fileno(),
            )
        finally:
            listener.close()  # the server holds its own duplicate of the socket
        self._port = self._server.port
        self._resume_jobs()
        self._worker.start()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"bulkprep-sandbox-{self._port}",
            daemon=True,
        )
        self._thread.start()

    def _resume_jobs(self) -> None:
        assert self._store is not None and self._worker is not None
        for job in self._store.list_jobs([("status", "=", "RUNNING")]):
            log.warning("sandbox job %s was interrupted by a stop; marking it FAILED", job.id)
            self._store.set_status(job.id, "FAILED", expect=("RUNNING",))
        for job in self._store.list_jobs([("status", "=", "CREATED")], newest_first=False):
            if self._worker.upload_path(job.id).exists():
                self._worker.submit(job.id)
            else:
                self._store.set_status(job.id, "FAILED", expect=("CREATED",))

    def stop(self) -> None:
        """Stop serving and processing, close the database, free the port. Idempotent."""
        server, self._server = self._server, None
        if server is not None:
            if self._thread is not None and self._thread.is_alive():
                server.shutdown()  # waits for serve_forever, so only once it runs
                self._thread.join(5)
            server.server_close()
        if self._app is not None:
            self._app.wait_idle(2.0)
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.stop()
        store, self._store = self._store, None
        if store is not None:
            with contextlib.suppress(sqlite3.Error):
                store.close()
        tmp_dir, self._tmp_dir = self._tmp_dir, None
        if tmp_dir is not None:
            shutil.rmtree(tmp_dir, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.base_url if self.running else "stopped"
        return f"<Sandbox {where}>"

    # -- what clients need --------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        """The bound port once started (the requested one before)."""
        return self._port if self._port is not None else self._requested_port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/elements/api-v2``."""
        if self._port is None:
            raise SandboxError("the sandbox has not been started")
        return f"http://{HOST}:{self._port}{API_PREFIX}"

    @property
    def auth_header(self) -> str:
        """The ``Authorization`` header value the sandbox accepts."""
        return self.credentials.auth_header

    # -- what tests need ----------------------------------------------------------------

    @property
    def requests_log(self) -> list[tuple[str, str, int | None]]:
        """``(method, path below the API base, status)`` per request; status None = dropped."""
        return list(self._app.requests_log) if self._app is not None else []

    def records(self, object_name: str) -> list[dict[str, Any]]:
        """Stored records of one object, as dicts of their fields."""
        return self._require_store().records(object_name)

    def jobs(self) -> list[dict[str, Any]]:
        """Every job's status object, oldest first."""
        return [job.to_json() for job in self._require_store().list_jobs(newest_first=False)]

    def _require_store(self) -> Store:
        if self._store is None:
            raise SandboxError("the sandbox is not running")
        return self._store


def serve_forever(sandbox: Sandbox | None = None) -> None:
    """Run ``sandbox`` (a default one if None) in the foreground until Ctrl+C, printing
    where and how to reach it."""
    sandbox = (sandbox or Sandbox()).start()
    creds = sandbox.credentials
    print(f"bulkprep sandbox listening on {sandbox.base_url}", file=sys.stderr)
    print(f"  user secret:         {creds.user}", file=sys.stderr)
    print(f"  organization secret: {creds.organization}", file=sys.stderr)
    print(f"  element token:       {creds.element}", file=sys.stderr)
    print("Press Ctrl+C to stop.", file=sys.stderr, flush=True)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
        print("bulkprep sandbox stopped", file=sys.stderr)
