"""Upload: clean → guard → upload each chunk → wait → reconcile.

Nothing is lost: every row read ends up clean and imported, rejected here (the
rejects file), or refused by the server (a ``server-rejected`` finding mapped back
to its source line, and a row appended to the rejects file). The summary states
``read = rejected locally + imported + refused by the server``.
"""

from __future__ import annotations

import csv
import itertools
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

import polars as pl

from . import api
from ._exceptions import (
    BulkprepError,
    ConfigError,
    DuplicateUploadError,
    WaitInterrupted,
    WaitTimeout,
)
from .client import Client
from .engine import FINDING_SCHEMA, REJECTS_ERRORS, REJECTS_LINE
from .jobs import Job, JobStatus, file_sha256, wait_for_job
from .journal import Journal, JournalEntry
from .outputs import AtomicFile, check_not_input
from .reader import LINE_COLUMN, cell_name, open_csv
from .report import EXIT_OK, EXIT_PROBLEMS, Report
from .schema import Schema

Event = Callable[..., object]


@dataclass(frozen=True)
class Chunk:
    """One file sent as one bulk job: rows ``offset`` … ``offset + rows - 1`` of the clean file."""

    index: int
    count: int
    path: Path
    rows: int
    offset: int
    sha256: str = ""


@dataclass
class JobOutcome:
    chunk: Chunk
    job_id: str
    remote_name: str
    adopted: bool = False
    final: JobStatus | None = None
    failed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def refused(self) -> int:
        if self.final is None:
            return 0
        if not self.final.is_success:
            return self.chunk.rows
        return len(self.failed)

    @property
    def imported(self) -> int:
        if self.final is None or not self.final.is_success:
            return 0
        return self.chunk.rows - len(self.failed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "chunk": self.chunk.index,
            "file": str(self.chunk.path),
            "remote_name": self.remote_name,
            "rows": self.chunk.rows,
            "status": self.final.status if self.final else None,
            "imported": self.imported if self.final else None,
            "refused": self.refused if self.final else None,
            "adopted": self.adopted,
        }


@dataclass
class UploadResult:
    """What happened to every row of one upload."""

    report: Report
    # dry-run | refused-invalid | nothing-to-upload | submitted | finished | interrupted
    state: str
    target: str
    chunks: list[Chunk] = field(default_factory=list)
    jobs: list[JobOutcome] = field(default_factory=list)

    @property
    def read(self) -> int:
        return self.report.rows

    @property
    def rejected(self) -> int:
        return self.report.rejected_rows

    @property
    def imported(self) -> int:
        return sum(j.imported for j in self.jobs)

    @property
    def refused(self) -> int:
        return sum(j.refused for j in self.jobs)

    @property
    def exit_code(self) -> int:
        if self.rejected or self.refused or self.report.errors:
            return EXIT_PROBLEMS
        return EXIT_OK

    def summary(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "target": self.target,
            "read": self.read,
            "rejected_locally": self.rejected,
            "imported": self.imported if self.state in ("finished", "interrupted") else None,
            "refused_by_server": self.refused
            if self.state in ("finished", "interrupted")
            else None,
            "jobs": [j.to_dict() for j in self.jobs],
        }


def _emit(on_event: Event | None, kind: str, **data: Any) -> None:
    if on_event is not None:
        on_event(kind, **data)


def upload(
    obj: str | Path | Schema,
    source: str | Path,
    *,
    client: Client | None,
    journal: Journal | None,
    schemas_dir: str | Path | None = None,
    output: str | Path | None = None,
    rejects: str | Path | None = None,
    report: str | Path | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    skip_invalid: bool = False,
    dry_run: bool = False,
    wait: bool = True,
    chunk_rows: int | None = None,
    identifier: str | None = None,
    upsert: bool = False,
    callback_url: str | None = None,
    timeout: float = 3600.0,
    force: bool = False,
    on_event: Event | None = None,
    sleep: Callable[[float], object] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    poll_first: float = 0.5,
    poll_max: float = 10.0,
) -> UploadResult:
    """Clean ``source`` and upload its clean rows as one or more bulk jobs.

    Rows rejected by the cleaning stop the upload unless ``skip_invalid``. With
    ``dry_run`` nothing is sent (``client`` may be None). With ``wait=False`` the
    jobs are created and journaled, and the result's state is ``submitted``.
    """
    schema = api.schema_of(obj, schemas_dir)
    key = identifier or schema.identifier_column
    if key is not None and key not in schema.names:
        raise ConfigError(f"identifier {key!r} is not a column of schema {schema.object!r}")
    target = client.settings.host if client is not None else "(dry run)"
    if str(source) != "-":
        check_not_input(source, output, rejects, report)
    with ExitStack() as stack:
        path = _readable(source, stack)
        default_clean, default_rejects = api.default_outputs(source)
        result_report = api.clean(
            schema,
            path,
            output=output or default_clean,
            rejects=rejects or default_rejects,
            encoding=encoding,
            delimiter=delimiter,
            keep_index=True,
        )
        result_report.source = api.source_name(source)
        _emit(on_event, "cleaned", report=result_report)
        result = UploadResult(result_report, "nothing-to-upload", target)
        if result_report.rejected_rows and not skip_invalid:
            result.state = "refused-invalid"
            return _finish(result, report)
        if result_report.clean_rows == 0:
            return _finish(result, report)
        clean_path = Path(result_report.outputs["clean"])
        if dry_run or client is None:
            result.chunks = _plan(clean_path, result_report.clean_rows, chunk_rows)
            result.state = "dry-run"
            return _finish(result, report)
        result.chunks = _split(clean_path, result_report.clean_rows, chunk_rows)
        if journal is None:
            raise ConfigError("upload needs a journal to record its jobs (bulkprep.Journal)")
        result.chunks, earlier = _guard(result.chunks, schema.object, client, journal, force)
        for chunk in result.chunks:
            if chunk.index in earlier:
                entry = earlier[chunk.index]
                outcome = JobOutcome(chunk, entry.job_id, entry.remote_name, adopted=True)
                result.jobs.append(outcome)
                _emit(on_event, "reused", outcome=outcome)
                continue
            _emit(on_event, "uploading", chunk=chunk)
            entry = JournalEntry(
                job_id=f"{PENDING}{chunk.sha256[:16]}",
                host=client.settings.host,
                hub=client.settings.hub,
                object_name=schema.object,
                source=result_report.source,
                sha256=chunk.sha256,
                rows=chunk.rows,
                chunk_index=chunk.index,
                chunk_count=chunk.count,
                status="SENDING",
            )
            # Journaled before sending: if the run dies while the server may be taking
            # the file, the next run finds this entry and does not send the bytes again.
            journal.add(entry)
            job = _send(
                client,
                journal,
                entry,
                chunk,
                schema,
                key,
                upsert,
                identifier,
                callback_url,
                on_event,
            )
            outcome = JobOutcome(chunk, job.id, job.remote_name, job.adopted)
            # The job's entry replaces the placeholder: written first, so that at no
            # moment the journal lacks both.
            journal.add(
                replace(entry, job_id=job.id, remote_name=job.remote_name, status=job.status)
            )
            journal.remove(entry.job_id, client.settings.host)
            result.jobs.append(outcome)
            _emit(on_event, "created", outcome=outcome)
        if not wait:
            result.state = "submitted"
            return _finish(result, report)
        try:
            for outcome in result.jobs:
                _wait(
                    client,
                    journal,
                    outcome,
                    timeout,
                    on_event,
                    sleep,
                    clock,
                    poll_first,
                    poll_max,
                    result,
                )
        except (WaitTimeout, WaitInterrupted):
            # Account for the jobs that did end, and keep the report, before stopping.
            result.state = "interrupted"
            _reconcile(result, schema, key, path, encoding, delimiter)
            _finish(result, report)
            raise
        result.state = "finished"
        _reconcile(result, schema, key, path, encoding, delimiter)
        return _finish(result, report)
    raise AssertionError("unreachable")  # pragma: no cover


PENDING = "pending-"  # job id of a journal entry written before the job id is known


def _send(
    client: Client,
    journal: Journal,
    entry: JournalEntry,
    chunk: Chunk,
    schema: Schema,
    key: str | None,
    upsert: bool,
    identifier: str | None,
    callback_url: str | None,
    on_event: Event | None,
) -> Job:
    """Create the job of one chunk. The placeholder entry is dropped when the client has
    settled that no job was made (a refusal, or an ambiguity it reported after reading
    the job list); on success the caller replaces it with the job's entry; it is kept
    when the run stops in the middle of sending."""
    host = client.settings.host
    try:
        job = client.create_bulk_upload(
            schema.object,
            chunk.path,
            identifier_field=key if (upsert or identifier) else None,
            action="upsert" if upsert else None,
            callback_url=callback_url,
            progress=_progress(on_event, chunk),
            sha256=chunk.sha256,
        )
    except BulkprepError:
        # Settled by the client: no job, or an AmbiguousUploadError that already says
        # how to check the job list before uploading again.
        journal.remove(entry.job_id, host)
        raise
    except KeyboardInterrupt:
        raise WaitInterrupted(
            f"interrupted while sending {chunk.path}; the server may have created a job. "
            f"Check `bulkprep jobs --remote --object {schema.object}` for it before "
            "uploading again (a rerun refuses these bytes until then, or with --force)",
            [],
        ) from None
    return job


def _readable(source: str | Path, stack: ExitStack) -> Path:
    """A path that can be read twice: standard input is spooled to a temporary file."""
    if str(source) != "-":
        return Path(source)
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bulkprep-")))
    path = folder / "stdin.csv"
    with path.open("wb") as out:
        shutil.copyfileobj(sys.stdin.buffer, out)
    return path


def _plan(clean: Path, rows: int, chunk_rows: int | None) -> list[Chunk]:
    """The chunks an upload would send, without writing them."""
    if not chunk_rows or rows <= chunk_rows:
        return [Chunk(1, 1, clean, rows, 0)]
    count = -(-rows // chunk_rows)
    stem = clean.name.removesuffix(".csv")
    return [
        Chunk(
            i + 1,
            count,
            clean.with_name(f"{stem}.part{i + 1}of{count}.csv"),
            min(chunk_rows, rows - i * chunk_rows),
            i * chunk_rows,
        )
        for i in range(count)
    ]


def _split(clean: Path, rows: int, chunk_rows: int | None) -> list[Chunk]:
    """The clean file as one chunk, or cut into the files :func:`_plan` names."""
    chunks = _plan(clean, rows, chunk_rows)
    if len(chunks) == 1:
        return chunks
    with clean.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        for chunk in chunks:
            with AtomicFile(chunk.path) as out, _text(out.handle) as text:
                writer = csv.writer(text, lineterminator="\n")
                writer.writerow(header)
                writer.writerows(itertools.islice(reader, chunk.rows))
    return chunks


class _text:
    """A text view of a binary handle that is flushed, not closed, at the end."""

    def __init__(self, handle: IO[bytes]) -> None:
        import io

        self._wrapper = io.TextIOWrapper(handle, encoding="utf-8", newline="")

    def __enter__(self) -> IO[str]:
        return self._wrapper

    def __exit__(self, *exc: object) -> None:
        self._wrapper.flush()
        self._wrapper.detach()


def _guard(
    chunks: list[Chunk], object_name: str, client: Client, journal: Journal, force: bool
) -> tuple[list[Chunk], dict[int, JournalEntry]]:
    """Hash every chunk; find the chunks already uploaded to the same target.

    When every chunk was uploaded before (a job that completed or may still be
    running), the upload is refused unless ``force``. When only some were, as after
    an interrupted chunked upload, their earlier jobs are reused and only the rest is
    sent. Returns the hashed chunks and the earlier entry of each reused chunk.
    """
    hashed: list[Chunk] = []
    earlier: dict[int, JournalEntry] = {}
    for chunk in chunks:
        digest = file_sha256(chunk.path)
        hashed.append(replace(chunk, sha256=digest))
        entry = journal.find_duplicate(
            digest, object_name, client.settings.host, client.settings.hub
        )
        if entry is not None and not force:
            if entry.job_id.startswith(PENDING):
                raise DuplicateUploadError(
                    f"an earlier upload of {chunk.path} to {object_name} on {entry.host} was "
                    f"cut off ({entry.created}) before its job id was known, so the server "
                    f"may have it. Check `bulkprep jobs --remote --object {object_name}`; "
                    "pass --force to upload it anyway"
                )
            earlier[chunk.index] = entry
    if earlier and len(earlier) == len(hashed):
        first = earlier[hashed[0].index]
        what = hashed[0].path if len(hashed) == 1 else f"all {len(hashed)} parts of this file"
        raise DuplicateUploadError(
            f"{what} {'was' if len(hashed) == 1 else 'were'} already uploaded to {object_name} "
            f"on {first.host} (job {first.job_id}, {first.status}, {first.created}); check it "
            f"with `bulkprep status {first.job_id}`, or pass --force to upload again"
        )
    return hashed, earlier


def _progress(on_event: Event | None, chunk: Chunk) -> Callable[[int, int], object] | None:
    if on_event is None:
        return None

    def report(sent: int, total: int) -> None:
        on_event("progress", chunk=chunk, sent=sent, total=total)

    return report


def _wait(
    client: Client,
    journal: Journal,
    outcome: JobOutcome,
    timeout: float,
    on_event: Event | None,
    sleep: Callable[[float], object],
    clock: Callable[[], float],
    first: float,
    cap: float,
    result: UploadResult,
) -> None:
    last: list[JobStatus] = []

    def changed(status: JobStatus, previous: JobStatus | None) -> None:
        last[:] = [status]
        _emit(on_event, "status", outcome=outcome, status=status, previous=previous)

    try:
        final = wait_for_job(
            client,
            outcome.job_id,
            timeout=timeout,
            on_change=changed,
            sleep=sleep,
            clock=clock,
            first_interval=first,
            max_interval=max(cap, first),
        )
    except WaitTimeout:
        if last:
            journal.update(outcome.job_id, client.settings.host, status=last[0].status)
        raise
    except KeyboardInterrupt:
        pending = [j.job_id for j in result.jobs if j.final is None]
        waits = "; ".join(f"bulkprep wait {j}" for j in pending)
        raise WaitInterrupted(
            f"stopped waiting; job{'s' if len(pending) > 1 else ''} {', '.join(pending)} "
            f"keep{'' if len(pending) > 1 else 's'} running on the server. Resume with: {waits}",
            pending,
        ) from None
    outcome.final = final
    if final.is_success:
        outcome.failed = list(client.iter_job_errors(outcome.job_id))
    journal.record_status(outcome.job_id, client.settings.host, final)
    _emit(on_event, "finished", outcome=outcome)


def _reconcile(
    result: UploadResult,
    schema: Schema,
    key: str | None,
    source: Path,
    encoding: str | None,
    delimiter: str | None,
) -> None:
    """Map the server's failed records back to source lines; add findings and rejects."""
    report = result.report
    index = report.clean_index
    assert index is not None
    rows: list[dict[str, Any]] = []
    whole_chunks: list[pl.DataFrame] = []  # rows of failed jobs: line, message
    for outcome in result.jobs:
        chunk = outcome.chunk
        if outcome.final is not None and not outcome.final.is_success:
            first, last = index.row(chunk.offset), index.row(chunk.offset + chunk.rows - 1)
            reason = f"job {outcome.job_id} ended {outcome.final.status}; the row was not imported"
            whole_chunks.append(
                index.slice(chunk.offset, chunk.rows).select(
                    pl.col("line").cast(pl.Int64),
                    pl.lit(f"server-rejected: {reason}").alias("message"),
                )
            )
            rows.append(
                {
                    "line": None,
                    "row": None,
                    "column": None,
                    "value": None,
                    "code": "server-rejected",
                    "severity": "error",
                    "message": f"job {outcome.job_id} ended {outcome.final.status}: none of the "
                    f"{chunk.rows} rows of {chunk.path} (lines {first[0]}–{last[0]}) were imported",
                }
            )
            continue
        if outcome.final is not None:
            rows.extend(_count_checks(outcome))
        positions = _positions(chunk, outcome.failed, key)
        for failure, position in zip(outcome.failed, positions, strict=True):
            raw_record = failure.get("record")
            record: dict[str, Any] = raw_record if isinstance(raw_record, dict) else {}
            reason = str(failure.get("error") or failure.get("message") or "no reason given")
            line = row = None
            if position is not None and 0 <= position < chunk.rows:
                line, row = index.row(chunk.offset + position)
            rows.append(
                {
                    "line": line,
                    "row": row,
                    "column": key,
                    "value": None if key is None else record.get(key),
                    "code": "server-rejected",
                    "severity": "error",
                    "message": f"the server refused the record (job {outcome.job_id}): {reason}",
                }
            )
    if not rows:
        return
    found = pl.DataFrame(rows, schema=FINDING_SCHEMA)
    report.findings_frame = pl.concat(
        [report.findings_frame, found.cast(report.findings_frame.schema)]  # type: ignore[arg-type]
    ).sort("row", nulls_last=False, maintain_order=True)
    per_row = found.filter(pl.col("line").is_not_null()).select(
        "line", pl.format("{}: {}", pl.col("code"), pl.col("message")).alias("message")
    )
    _append_rejects(report, pl.concat([per_row, *whole_chunks]), source, encoding, delimiter)


def _count_checks(outcome: JobOutcome) -> list[dict[str, Any]]:
    """Warnings where the job's own counts disagree with what was sent or listed."""
    final, chunk = outcome.final, outcome.chunk
    assert final is not None
    problems = []
    if final.records_count is not None and final.records_count != chunk.rows:
        problems.append(f"reports {final.records_count} records but {chunk.rows} rows were sent")
    failed = final.records_failed_count
    if failed is not None and failed != len(outcome.failed):
        problems.append(
            f"reports {failed} failed records but its error list has {len(outcome.failed)}"
        )
    return [
        {
            "line": None,
            "row": None,
            "column": None,
            "value": None,
            "code": "server-count-mismatch",
            "severity": "warning",
            "message": f"job {outcome.job_id} {problem}; check it with `bulkprep status "
            f"{outcome.job_id}` and `bulkprep errors {outcome.job_id}`",
        }
        for problem in problems
    ]


def _positions(chunk: Chunk, failed: list[dict[str, Any]], key: str | None) -> list[int | None]:
    """0-based positions in the chunk of each failed record: by identifier, else number."""
    lookup: dict[str, int] = {}
    if key is not None and failed:
        values = pl.read_csv(chunk.path, columns=[key], infer_schema=False)[key]
        for position, value in enumerate(values.to_list()):
            if value is not None:
                lookup.setdefault(value, position)
    out: list[int | None] = []
    for failure in failed:
        raw_record = failure.get("record")
        record: dict[str, Any] = raw_record if isinstance(raw_record, dict) else {}
        value = record.get(key) if key else None
        if isinstance(value, str) and value in lookup:
            out.append(lookup[value])
            continue
        number = failure.get("recordNumber")
        out.append(int(number) - 1 if isinstance(number, int) and number > 0 else None)
    return out


def _append_rejects(
    report: Report, refused: pl.DataFrame, source: Path, encoding: str | None, delimiter: str | None
) -> None:
    """Append the raw cells of server-refused rows (``line``, ``message``) to the rejects
    file, atomically, reading them again from the source."""
    if not refused.height or "rejects" not in report.outputs:
        return
    reasons = refused.group_by("line", maintain_order=True).agg(
        pl.col("message").str.join("; ").alias(REJECTS_ERRORS)
    )
    raw = open_csv(source, encoding=encoding, delimiter=delimiter)
    names = list(pl.read_csv(report.outputs["rejects"], n_rows=0, infer_schema=False).columns)
    cells = names[: len(raw.header)]
    wanted = reasons["line"].implode()
    picked = [batch.frame.filter(pl.col(LINE_COLUMN).is_in(wanted)) for batch in raw.batches()]
    extra = (
        pl.concat(picked)
        .join(reasons, left_on=LINE_COLUMN, right_on="line", how="left", maintain_order="left")
        .select(
            *[pl.col(cell_name(i)).alias(n) for i, n in enumerate(cells)],
            pl.col(LINE_COLUMN).alias(REJECTS_LINE),
            REJECTS_ERRORS,
        )
    )
    path = Path(report.outputs["rejects"])
    with AtomicFile(path) as out, path.open("rb") as old:
        shutil.copyfileobj(old, out.handle)
        extra.write_csv(out.handle, include_header=False)


def _finish(result: UploadResult, report_path: str | Path | None) -> UploadResult:
    result.report.extra["upload"] = result.summary()
    if report_path is not None:
        result.report.outputs["report"] = str(report_path)
        with AtomicFile(report_path) as out:
            result.report.write_json(out.handle)
    return result
