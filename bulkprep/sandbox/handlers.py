"""The sandbox's endpoint handlers: objects, metadata and the bulk job routes.

Paging (``/bulk/{id}/errors`` and ``/bulk/jobs``): ``pageSize`` (default 200, at most
1000) and ``nextPage`` (an opaque token from the previous page's
``elements-next-page-token`` header, which is absent on the last page). Every page has
an ``elements-returned-count`` header.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from pathlib import Path
from typing import Any

from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Request, Response

from .app import ApiFailure, json_response
from .catalog import OBJECTS, field_names, object_metadata
from .store import COMPARISONS, JOB_COLUMNS, Job, Store
from .worker import Worker, is_local_url

DEFAULT_PAGE_SIZE = 200
MAX_PAGE_SIZE = 1000
ACTIONS = ("insert", "upsert")

_CONDITION = re.compile(
    r"\s*(?P<field>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>!=|<>|<=|>=|=|<|>)\s*"
    r"(?P<value>'(?:[^']|'')*'|-?[0-9]+)\s*"
)
_AND = re.compile(r"and\b", re.IGNORECASE)


def page_size(request: Request) -> int:
    raw = request.args.get("pageSize")
    if raw is None or raw == "":
        return DEFAULT_PAGE_SIZE
    try:
        size = int(raw)
    except ValueError:
        raise ApiFailure(400, f"pageSize must be a whole number, got {raw!r}") from None
    if size < 1:
        raise ApiFailure(400, f"pageSize must be at least 1, got {size}")
    return min(size, MAX_PAGE_SIZE)


def encode_token(kind: str, value: int) -> str:
    raw = json.dumps([kind, value]).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_token(request: Request, kind: str) -> int | None:
    token = request.args.get("nextPage")
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        token_kind, value = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise ApiFailure(400, "Invalid nextPage token") from None
    if token_kind != kind or not isinstance(value, int) or value < 0:
        raise ApiFailure(400, "Invalid nextPage token")
    return value


def paged(items: list[Any], next_token: str | None) -> Response:
    headers = {"elements-returned-count": str(len(items))}
    if next_token:
        headers["elements-next-page-token"] = next_token
    return json_response(items, headers=headers)


def parse_where(where: str) -> list[tuple[str, str, str | int]]:
    """Parse ``object_name='contact' and job_status='COMPLETED'`` into column conditions."""
    conditions: list[tuple[str, str, str | int]] = []
    position = 0
    while True:
        match = _CONDITION.match(where, position)
        if match is None:
            raise ApiFailure(400, f"Cannot parse where clause near: {where[position:]!r}")
        field = match["field"].lower()
        if field not in JOB_COLUMNS:
            known = ", ".join(sorted(JOB_COLUMNS))
            raise ApiFailure(
                400, f"Unknown field in where clause: {match['field']} (known: {known})"
            )
        raw = match["value"]
        value: str | int = raw[1:-1].replace("''", "'") if raw.startswith("'") else int(raw)
        column = JOB_COLUMNS[field]
        if column == "status" and isinstance(value, str):
            value = "CANCELLED" if value.upper() == "CANCELED" else value.upper()
        if column == "id" and isinstance(value, str):
            value = int(value) if value.isascii() and value.isdigit() else -1
        op = "!=" if match["op"] == "<>" else match["op"]
        assert op in COMPARISONS
        conditions.append((column, op, value))
        position = match.end()
        if position == len(where):
            return conditions
        more = _AND.match(where, position)
        if more is None:
            raise ApiFailure(400, f"Cannot parse where clause near: {where[position:]!r}")
        position = more.end()


def job_number(job_id: str) -> int:
    if not re.fullmatch(r"[0-9]{1,18}", job_id):
        raise ApiFailure(404, f"No bulk job with id {job_id}")
    return int(job_id)


def _text_of(part: FileStorage | str | None) -> str | None:
    if part is None or isinstance(part, str):
        return part
    return part.stream.read().decode("utf-8", errors="replace")


class Handlers:
    """One method per route endpoint; each returns a response or raises ApiFailure."""

    def __init__(self, store: Store, worker: Worker) -> None:
        self.store = store
        self.worker = worker

    def objects(self, request: Request, hub: str) -> Response:
        return json_response(list(OBJECTS))

    def metadata(self, request: Request, name: str, hub: str | None = None) -> Response:
        metadata = object_metadata(name)
        if metadata is None:
            raise ApiFailure(404, f"No such object: {name}")
        return json_response(metadata)

    def _job(self, job_id: str) -> Job:
        job = self.store.get_job(job_number(job_id))
        if job is None:
            raise ApiFailure(404, f"No bulk job with id {job_id}")
        return job

    def status(self, request: Request, hub: str, job_id: str) -> Response:
        return json_response(self._job(job_id).to_json())

    def cancel(self, request: Request, hub: str, job_id: str) -> Response:
        job, cancelled = self.store.cancel_job(job_number(job_id))
        if job is None:
            raise ApiFailure(404, f"No bulk job with id {job_id}")
        if not cancelled:
            raise ApiFailure(
                409, f"Bulk job {job_id} has already finished with status {job.status}"
            )
        return json_response(job.to_json())

    def errors(self, request: Request, hub: str, job_id: str) -> Response:
        number = self._job(job_id).id
        size = page_size(request)
        after = decode_token(request, f"errors:{number}") or 0
        rows = self.store.failed_records(number, after=after, limit=size + 1)
        token = (
            encode_token(f"errors:{number}", rows[size - 1]["recordNumber"])
            if len(rows) > size
            else None
        )
        return paged(rows[:size], token)

    def jobs(self, request: Request, hub: str) -> Response:
        conditions = parse_where(request.args["where"]) if request.args.get("where") else []
        size = page_size(request)
        before = decode_token(request, "jobs")
        found = self.store.list_jobs(conditions, before_id=before, limit=size + 1)
        token = encode_token("jobs", found[size - 1].id) if len(found) > size else None
        return paged([job.to_json() for job in found[:size]], token)

    def upload(self, request: Request, hub: str, name: str) -> Response:
        if name not in OBJECTS:
            raise ApiFailure(404, f"No such object: {name}")
        if request.mimetype != "multipart/form-data":
            raise ApiFailure(
                415, "Content-Type must be multipart/form-data with the file in 'file'"
            )
        callback = request.headers.get("Elements-Async-Callback-Url")
        if callback is not None:
            callback = callback.strip()
            if not is_local_url(callback):
                raise ApiFailure(
                    400,
                    "Elements-Async-Callback-Url must be an http(s) URL on 127.0.0.1, localhost"
                    " or ::1 (the sandbox never calls out)",
                )
        try:
            return self._create_job(request, name, callback)
        finally:
            if "files" in request.__dict__:  # the form was parsed: remove leftover parts
                for _, part in request.files.items(multi=True):
                    part.stream.close()
                    stream_name = getattr(part.stream, "name", None)
                    if isinstance(stream_name, str):
                        Path(stream_name).unlink(missing_ok=True)

    def _create_job(self, request: Request, name: str, callback: str | None) -> Response:
        upload = request.files.get("file")
        text = request.form.get("file") if upload is None else None
        if upload is None and text is None:
            raise ApiFailure(400, "No file: send the CSV in the multipart form field 'file'")
        meta_text = _text_of(request.form.get("metaData") or request.files.get("metaData"))
        meta: Any = {}
        if meta_text is not None and meta_text.strip():
            try:
                meta = json.loads(meta_text)
            except ValueError as exc:
                raise ApiFailure(400, f"metaData is not valid JSON: {exc}") from None
            if not isinstance(meta, dict):
                raise ApiFailure(400, "metaData must be a JSON object")
        fmt = str(meta.get("format", "csv")).lower()
        if fmt != "csv":
            raise ApiFailure(400, f"Unsupported format {fmt!r}: the sandbox accepts csv")
        action = str(meta.get("action", "insert")).lower()
        if action not in ACTIONS:
            raise ApiFailure(400, f"Unsupported action {action!r}: expected insert or upsert")
        identifier = meta.get("identifierFieldName")
        if identifier is not None and identifier not in field_names(name):
            raise ApiFailure(400, f"identifierFieldName {identifier!r} is not a field of {name}")
        if action == "upsert" and not identifier:
            raise ApiFailure(400, "identifierFieldName is required for an upsert")
        path = request.args.get("path")
        # The name as the client sent it (only ever shown, never used as a path).
        file_name = (upload.filename if upload is not None else None) or (path or "").lstrip("/")
        job = self.store.create_job(
            object_name=name,
            file_name=file_name or None,
            path=path,
            action=action,
            identifier=identifier,
            callback_url=callback,
        )
        target = self.worker.upload_path(job.id)
        if upload is not None:
            upload.stream.close()
            os.replace(upload.stream.name, target)
        else:
            target.write_text(text or "", encoding="utf-8")
        self.worker.submit(job.id)
        return json_response({"id": str(job.id), "status": job.status})
