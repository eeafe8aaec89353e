"""The sandbox's WSGI application: request lifecycle, faults, auth, routing, error bodies.

Every request goes through :meth:`SandboxApp.__call__`: optional latency, then the fault
draw (before handling), then auth and routing, then the handler, then an
``after_handling`` fault if one was injected. Every answer carries
``Elements-Request-Id``; every error is the platform body
``{"message", "requestId", "providerMessage"}``. The endpoint handlers live in
:mod:`bulkprep.sandbox.handlers`.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from ..config import Credentials
from .faults import Fault, FaultInjector

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger("bulkprep.sandbox")

#: Path of the API below the server root.
API_PREFIX = "/elements/api-v2"

_FAULT_MESSAGES = {
    429: "Rate limit exceeded: too many requests, retry later",
    500: "Internal server error",
    502: "Bad gateway: the vendor did not answer",
    503: "Service unavailable, retry later",
}

URLS = Map(
    [
        Rule("/hubs/<hub>/objects", endpoint="objects", methods=["GET"]),
        Rule("/objects/<name>/metadata", endpoint="metadata", methods=["GET"]),
        Rule("/hubs/<hub>/objects/<name>/metadata", endpoint="metadata", methods=["GET"]),
        Rule("/hubs/<hub>/bulk/jobs", endpoint="jobs", methods=["GET"]),
        Rule("/hubs/<hub>/bulk/<name>", endpoint="upload", methods=["POST"]),
        Rule("/hubs/<hub>/bulk/<job_id>/status", endpoint="status", methods=["GET"]),
        Rule("/hubs/<hub>/bulk/<job_id>/errors", endpoint="errors", methods=["GET"]),
        Rule("/hubs/<hub>/bulk/<job_id>/cancel", endpoint="cancel", methods=["PUT"]),
    ],
    strict_slashes=False,
)


@dataclass(frozen=True)
class SandboxCredentials:
    """The three secrets the sandbox accepts (sandbox-only values, still masked in repr)."""

    user: str = "sandbox-user-secret"
    organization: str = "sandbox-org-secret"
    element: str = "sandbox-element-token"

    @property
    def auth_header(self) -> str:
        """The ``Authorization`` header value a client must send."""
        return Credentials(self.user, self.organization, self.element).authorization_header()

    def accepts(self, header: str | None) -> bool:
        """True if an ``Authorization`` header carries exactly these three secrets."""
        parts = parse_authorization(header or "")
        if parts is None:
            return False
        expected = {"user": self.user, "organization": self.organization, "element": self.element}
        return all(
            hmac.compare_digest(parts[name].encode("utf-8"), value.encode("utf-8"))
            for name, value in expected.items()
        )

    def __repr__(self) -> str:
        return "SandboxCredentials(user='***', organization='***', element='***')"


def parse_authorization(header: str) -> dict[str, str] | None:
    """Split ``User u, Organization o, Element e`` (any order, any spacing) into a dict."""
    parts: dict[str, str] = {}
    for piece in header.split(","):
        words = piece.split(None, 1)
        if not words:
            continue
        if len(words) != 2:
            return None
        name = words[0].lower()
        if name not in ("user", "organization", "element") or name in parts:
            return None
        parts[name] = words[1].strip()
    return parts if len(parts) == 3 else None


class ApiFailure(Exception):
    """Raised by a handler to answer with the platform error body."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


class DropConnection(ConnectionError):
    """Raised to make the server close the connection without answering."""


class SandboxRequest(Request):
    """A request whose uploaded files stream to temporary files in the upload folder."""

    max_form_memory_size = 1_000_000  # the non-file fields; files go to disk
    max_form_parts = 100
    upload_dir: Path | None = None

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        return tempfile.NamedTemporaryFile(  # closed and moved by the handler
            mode="w+b", dir=self.upload_dir, prefix="incoming-", suffix=".part", delete=False
        )


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(data), status=status, headers=headers, mimetype="application/json")


def error_response(status: int, message: str, request_id: str) -> Response:
    body = {"message": message, "requestId": request_id, "providerMessage": None}
    return json_response(body, status)


class SandboxApp:
    """The WSGI callable; ``handlers`` has one method per endpoint: ``f(request, **args)``."""

    def __init__(
        self,
        *,
        handlers: Any,
        credentials: SandboxCredentials,
        injector: FaultInjector,
        upload_dir: Path,
        latency_ms: float,
        hub: str,
    ) -> None:
        self.handlers = handlers
        self.credentials = credentials
        self.injector = injector
        self.upload_dir = upload_dir
        self.latency_ms = latency_ms
        self.hub = hub
        self.requests_log: list[tuple[str, str, int | None]] = []
        self._log_lock = threading.Lock()
        self._inflight = 0
        self._idle = threading.Condition()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        with self._idle:
            self._inflight += 1
        try:
            return self._serve(environ, start_response)
        finally:
            with self._idle:
                self._inflight -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is being handled; False if the timeout ran out first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._inflight == 0, timeout)

    def _record(self, method: str, path: str, status: int | None) -> None:
        with self._log_lock:
            self.requests_log.append((method, path, status))

    def _serve(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        full_path = environ.get("PATH_INFO", "") or "/"
        inside = full_path == API_PREFIX or full_path.startswith(API_PREFIX + "/")
        path = (full_path[len(API_PREFIX) :] or "/") if inside else full_path
        if self.latency_ms > 0:
            time.sleep(self.latency_ms / 1000)
        request_id = str(uuid.uuid4())
        fault = self.injector.choose(method, path)
        if fault is not None and not fault.after_handling:
            response = self._fault(fault, method, path, request_id, environ)
        else:
            request = SandboxRequest(environ)
            request.upload_dir = self.upload_dir
            try:
                response = self._handle(request, path if inside else None, request_id)
            finally:
                request.close()
            if fault is not None:
                response = self._fault(fault, method, path, request_id, environ)
        response.headers["Elements-Request-Id"] = request_id
        self._record(method, path, response.status_code)
        return response(environ, start_response)

    def _fault(
        self, fault: Fault, method: str, path: str, request_id: str, environ: WSGIEnvironment
    ) -> Response:
        if fault.kind == "drop":
            self._record(method, path, None)
            sock = environ.get("werkzeug.socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            raise DropConnection("sandbox fault: connection dropped")
        status = int(fault.kind)
        response = error_response(status, _FAULT_MESSAGES[status], request_id)
        if status == 429:
            response.headers["Retry-After"] = str(self.injector.plan.retry_after)
        return response

    def _handle(self, request: Request, path: str | None, request_id: str) -> Response:
        try:
            if path is None:
                raise ApiFailure(404, f"No such resource: {request.path}")
            if "Authorization" not in request.headers:
                raise ApiFailure(401, "Authorization header is missing")
            if not self.credentials.accepts(request.headers.get("Authorization")):
                raise ApiFailure(
                    401, "Invalid Organization or User secret, or invalid Element token"
                )
            try:
                endpoint, args = URLS.bind("127.0.0.1").match(path, method=request.method)
            except MethodNotAllowed as exc:
                allowed = ", ".join(exc.valid_methods or ())
                message = f"Method {request.method} is not allowed here"
                raise ApiFailure(405, message, {"Allow": allowed}) from exc
            except NotFound as exc:
                raise ApiFailure(404, f"No such resource: {request.path}") from exc
            hub = args.get("hub")
            if hub is not None and hub != self.hub:
                raise ApiFailure(404, f"No such hub: {hub}")
            handler: Callable[..., Response] = getattr(self.handlers, str(endpoint))
            return handler(request, **args)
        except ApiFailure as failure:
            response = error_response(failure.status, failure.message, request_id)
            response.headers.update(failure.headers)
            return response
        except HTTPException as exc:  # e.g. 413 from the form parser
            status = exc.code or 400
            return error_response(status, exc.description or exc.name, request_id)
        except Exception:
            log.exception("sandbox: error handling %s %s", request.method, request.path)
            return error_response(500, "Internal server error", request_id)
