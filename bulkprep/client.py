"""The Open Connectors Bulk API client.

Every request carries the settings' timeout. Failures are translated here, once:
401/403 → ``AuthError``, 404 → ``NotFoundError``, 429 after every retry →
``RateLimitError``, other HTTP errors → ``ApiError`` (each with the platform's
``message``, ``requestId`` and ``providerMessage``); connection failures and
timeouts → ``TransportError``. Messages are built here, never copied from
``requests`` exceptions, and any secret a server echoes back is masked.

Retry rules, and why an upload is never posted twice: see :mod:`bulkprep._retry`.
A lost upload answer means finding the job by its unique remote file name.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from requests_toolbelt import MultipartEncoder, MultipartEncoderMonitor

from bulkprep._exceptions import (
    AmbiguousUploadError,
    ApiError,
    AuthError,
    BulkprepError,
    InputError,
    NotFoundError,
    RateLimitError,
    TransportError,
)
from bulkprep._retry import (
    RETRY_STATUSES,
    TRANSPORT_ERRORS,
    UPLOAD_AMBIGUOUS_STATUSES,
    UPLOAD_RETRY_STATUSES,
    Retrier,
    RetryPolicy,
    connect_failed,
    describe_failure,
    scrub,
)
from bulkprep.config import Settings
from bulkprep.jobs import Job, JobStatus, file_sha256, find_upload_job, unique_remote_name

log = logging.getLogger(__name__)

LOOKUP_CHECKS = 3  # times the job list is read for an upload whose answer was lost
_PROGRESS_STEP = 256 * 1024


class Client:
    """A client for one hub of the Bulk API. Use as a context manager, or call ``close``."""

    def __init__(
        self,
        settings: Settings,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], object] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.settings = settings
        self._credentials = settings.require_credentials()
        self._base = settings.base_url.rstrip("/")
        self._hub = quote(settings.hub, safe="")
        self._own_session = session is None
        self._session = session if session is not None else requests.Session()
        if self._own_session and urlsplit(self._base).hostname in ("127.0.0.1", "localhost", "::1"):
            self._session.trust_env = False  # never send loopback traffic through a proxy
        self._sleep = sleep
        self._clock = clock
        self._wall_clock = wall_clock
        self.retry = retry if retry is not None else RetryPolicy()
        # the version is read here, not at import: bulkprep/__init__ may import this module
        self._user_agent = f"bulkprep/{getattr(sys.modules.get('bulkprep'), '__version__', '0')}"

    def __repr__(self) -> str:
        return f"Client(base_url={self.settings.host!r}, hub={self.settings.hub!r})"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._own_session:
            self._session.close()

    # ---- reading -------------------------------------------------------------------

    def list_objects(self) -> list[str]:
        """``GET /hubs/{hub}/objects``: the names of the objects the hub offers."""
        return [str(name) for name in self._get_json(f"/hubs/{self._hub}/objects", list)[0]]

    def object_metadata(self, name: str) -> dict[str, Any]:
        """``GET /hubs/{hub}/objects/{name}/metadata``: ``{"fields": [...]}`` for one object."""
        path = f"/hubs/{self._hub}/objects/{quote(name, safe='')}/metadata"
        return dict(self._get_json(path, dict)[0])

    def job_status(self, job_id: str) -> JobStatus:
        """``GET /hubs/{hub}/bulk/{id}/status``."""
        path = f"/hubs/{self._hub}/bulk/{quote(str(job_id), safe='')}/status"
        return JobStatus.from_json(self._get_json(path, dict)[0])

    def iter_job_errors(self, job_id: str, *, page_size: int = 200) -> Iterator[dict[str, Any]]:
        """Each failed record of a job (``{"recordNumber", "record", "error"}``), all pages."""
        path = f"/hubs/{self._hub}/bulk/{quote(str(job_id), safe='')}/errors"
        for item in self._paged(path, {}, page_size):
            if isinstance(item, dict):
                yield item

    def iter_jobs(self, where: str | None = None, *, page_size: int = 200) -> Iterator[JobStatus]:
        """The hub's bulk jobs, newest first, following pages lazily."""
        params = {"where": where} if where else {}
        for item in self._paged(f"/hubs/{self._hub}/bulk/jobs", params, page_size):
            if isinstance(item, dict):
                yield JobStatus.from_json(item)

    def list_jobs(self, where: str | None = None) -> list[JobStatus]:
        """``GET /hubs/{hub}/bulk/jobs`` (e.g. ``where="object_name='contact'"``), all pages."""
        return list(self.iter_jobs(where))

    def cancel_job(self, job_id: str) -> bool:
        """Ask the platform to cancel a job: ``False`` if it was already final (409)."""
        path = f"/hubs/{self._hub}/bulk/{quote(str(job_id), safe='')}/cancel"
        response = self._request("PUT", path, accept=(409,))
        return response.status_code != 409

    # ---- uploading -----------------------------------------------------------------

    def create_bulk_upload(
        self,
        object_name: str,
        path: str | os.PathLike[str],
        *,
        remote_name: str | None = None,
        identifier_field: str | None = None,
        action: str | None = None,
        callback_url: str | None = None,
        progress: Callable[[int, int], object] | None = None,
        sha256: str | None = None,
    ) -> Job:
        """Upload a CSV file as a bulk job for ``object_name`` and return the new job.

        The file is streamed, never loaded. The remote file name is made unique
        (``STEM-<sha8>-<UTC time>-<random>.csv``, STEM from ``remote_name`` or the
        file) so the job can be recognised if the answer is lost; ``Job.remote_name``
        has it. ``progress(bytes_sent, total)`` is called as the body goes out. Pass
        ``sha256`` when it is already known, to skip hashing the file again.
        """
        source = Path(path)
        if not source.is_file():
            raise InputError(f"cannot upload {source}: no such file")
        digest = sha256 or file_sha256(source)
        started = self._wall_clock()
        name = unique_remote_name(remote_name or source, digest, started)
        api_path = f"/hubs/{self._hub}/bulk/{quote(object_name, safe='')}"
        meta = {"identifierFieldName": identifier_field, "action": action}
        meta = {key: value for key, value in meta.items() if value}
        headers = {"Elements-Async-Callback-Url": callback_url} if callback_url else {}

        def lookup(reason: str) -> Job:
            return self._adopt_upload(object_name, name, digest, started, source, reason)

        retrier = self._retrier()
        answered = False
        while True:
            if answered:  # a 429/503 came back: make sure it really took nothing
                found = find_upload_job(self, object_name, name, since=started, source=source)
                if found is not None:
                    return Job(found.id, found.status, name, digest, adopted=True)
            fields: list[tuple[str, Any]] = []
            if meta:
                fields.append(("metaData", json.dumps(meta)))
            try:
                fh = source.open("rb")
            except OSError as exc:
                raise InputError(f"cannot read {source}: {exc.strerror}") from exc
            with fh:
                fields.append(("file", (name, fh, "text/csv")))
                report = _progress_callback(progress) if progress else None
                monitor = MultipartEncoderMonitor(MultipartEncoder(fields=fields), report)
                try:
                    response = self._send(
                        "POST",
                        api_path,
                        params={"path": "/" + name},
                        data=monitor,
                        headers={**headers, "Content-Type": monitor.content_type},
                    )
                except TRANSPORT_ERRORS as exc:
                    sent_all = monitor.bytes_read >= monitor.len
                    if connect_failed(exc) or not sent_all:
                        log.info("upload %s: %s before it was sent", name, describe_failure(exc))
                        if retrier.pause():
                            continue
                        raise self._transport_error(exc, "POST", api_path, retrier) from scrub(exc)
                    scrub(exc)
                    return lookup(f"{describe_failure(exc)} after the file was sent")
            status = response.status_code
            if status in UPLOAD_RETRY_STATUSES:
                answered = True
                log.info("upload %s: HTTP %s, will retry", name, status)
                if retrier.pause(response.headers):
                    continue
                raise self._api_error(response, "POST", api_path, retrier.reason)
            if status in UPLOAD_AMBIGUOUS_STATUSES:
                return lookup(f"the server answered HTTP {status}")
            if status >= 400:
                raise self._api_error(response, "POST", api_path)
            try:
                data = response.json()
                job_id = str(data["id"])
            except (ValueError, KeyError, TypeError):
                return lookup("the server's answer could not be read")
            return Job(job_id, str(data.get("status") or "CREATED"), name, digest)

    def _adopt_upload(
        self, object_name: str, name: str, digest: str, started: float, source: Path, why: str
    ) -> Job:
        """Find the job an upload whose answer was lost created; never post again."""
        log.warning("upload %s: %s; looking for the job instead of posting again", name, why)
        problem = ""
        for check in range(1, LOOKUP_CHECKS + 1):
            try:
                found = find_upload_job(self, object_name, name, since=started, source=source)
            except AmbiguousUploadError:
                raise
            except BulkprepError as exc:
                found, problem = None, f"; the job list could not be read: {exc}"
            if found is not None:
                log.warning("upload %s: adopted job %s", name, found.id)
                return Job(found.id, found.status, name, digest, adopted=True)
            if check < LOOKUP_CHECKS:
                self._sleep(self.retry.backoff(check))
        raise AmbiguousUploadError(
            f"the upload of {source} to {object_name} may or may not have created a job "
            f"({why}) and no job for it was found{problem}. Do not upload it again before "
            f"checking: run `bulkprep jobs --remote --object {object_name}` and look for the "
            f"file name {name}, then `bulkprep status ID`"
        )

    # ---- plumbing ------------------------------------------------------------------

    def _authorize(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._credentials.authorization_header()
        return request

    def _retrier(self) -> Retrier:
        return Retrier(self.retry, sleep=self._sleep, clock=self._wall_clock, monotonic=self._clock)

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        return self._session.request(
            method,
            self._base + path,
            params=params,
            data=data,
            auth=self._authorize,  # an explicit auth also keeps ~/.netrc out of the way
            headers={
                "Accept": "application/json",
                "User-Agent": self._user_agent,
                **(headers or {}),
            },
            timeout=self.settings.timeout,
            allow_redirects=False,
        )

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        accept: tuple[int, ...] = (),
    ) -> requests.Response:
        """Send a request that is safe to repeat, retrying transient failures."""
        retrier = self._retrier()
        while True:
            try:
                response = self._send(method, path, params=params)
            except TRANSPORT_ERRORS as exc:
                log.info("%s %s: %s", method, path, describe_failure(exc))
                if retrier.pause():
                    continue
                raise self._transport_error(exc, method, path, retrier) from scrub(exc)
            status = response.status_code
            if status in accept or status < 400:
                return response
            if status in RETRY_STATUSES:
                log.info("%s %s: HTTP %d (attempt %d)", method, path, status, retrier.attempts)
                if retrier.pause(response.headers):
                    response.close()
                    continue
                raise self._api_error(response, method, path, retrier.reason)
            raise self._api_error(response, method, path)

    def _paged(self, path: str, params: Mapping[str, Any], page_size: int) -> Iterator[Any]:
        seen: set[str] = set()
        token = ""
        while True:
            query = {**params, "pageSize": page_size, **({"nextPage": token} if token else {})}
            items, response = self._get_json(path, list, query)
            yield from items
            token = response.headers.get("elements-next-page-token", "").strip()
            if not token or not items:
                return
            if token in seen:
                raise ApiError(f"GET {path}: the server repeated a page token; stopping")
            seen.add(token)

    def _get_json(
        self, path: str, kind: type, params: Mapping[str, Any] | None = None
    ) -> tuple[Any, requests.Response]:
        response = self._request("GET", path, params=params)
        data = _json_body(response)
        if not isinstance(data, kind):
            raise ApiError(f"GET {path}: expected a JSON {kind.__name__} in the answer")
        return data, response

    def _redact(self, text: str) -> str:
        for secret in self._credentials.secrets():
            if len(secret) >= 4:
                text = text.replace(secret, "****")
        return text

    def _api_error(
        self, response: requests.Response, method: str, path: str, note: str = ""
    ) -> ApiError:
        status = response.status_code
        body = _json_body(response)
        body = body if isinstance(body, dict) else {}
        message = str(body.get("message") or "").strip()
        if not message:
            message = " ".join(response.text[:200].split()) or response.reason or "error"
        text = f"{method} {path} failed: {message}"
        if status in (401, 403):
            text += " (check the user secret, organization secret and element token)"
        if note:
            text += f" ({note})"
        cls: type[ApiError] = {401: AuthError, 403: AuthError, 404: NotFoundError}.get(
            status, RateLimitError if status == 429 else ApiError
        )
        request_id, provider = body.get("requestId"), body.get("providerMessage")
        return cls(
            self._redact(text),
            status=status,
            request_id=self._redact(str(request_id)) if request_id else None,
            provider_message=self._redact(str(provider)) if provider else None,
        )

    def _transport_error(
        self, exc: requests.RequestException, method: str, path: str, retrier: Retrier
    ) -> TransportError:
        return TransportError(
            f"cannot reach the API at {self.settings.host}: {method} {path} "
            f"{describe_failure(exc)} ({retrier.reason or 'not retried'})"
        )


def _json_body(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _progress_callback(
    progress: Callable[[int, int], object],
) -> Callable[[MultipartEncoderMonitor], None]:
    """Report progress every ``_PROGRESS_STEP`` bytes and once at the end, not per read."""
    last = -_PROGRESS_STEP

    def callback(monitor: MultipartEncoderMonitor) -> None:
        nonlocal last
        done, total = monitor.bytes_read, monitor.len
        if done - last >= _PROGRESS_STEP or (done >= total and done != last):
            last = done
            progress(done, total)

    return callback
