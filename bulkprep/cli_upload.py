"""Commands that talk to the Bulk API: upload, jobs, status, wait, errors, cancel,
objects, schema pull, sandbox and verify-callback.

Like ``cli.py``, each command parses options, calls the library and renders the
result; progress and status changes go to stderr, results to stdout.
"""

from __future__ import annotations

import itertools
import json
import signal
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import click

from .cli import _input_options, _max_findings_option, cli, schema_group
from .codes import EXIT_OK, EXIT_PROBLEMS, OutputFormat
from .config import Settings, load_settings, signature_key
from .findings import Finding


def _api_options(func: Any) -> Any:
    func = click.option("--hub", help="Hub of the API (default: marketing).")(func)
    func = click.option(
        "--base-url", metavar="URL", help="API base URL (default: the Open Connectors US2 one)."
    )(func)
    func = click.option(
        "--profile", metavar="NAME", help="Profile of the config file to use for credentials."
    )(func)
    return func


_text_or_json = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for people, json for programs.",
)


# How long `upload` and `wait` wait for jobs.
_timeout_option = click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=3600,
    show_default=True,
    help="Seconds to wait for the job(s) before giving up (they keep running).",
)


def _sandbox_option(func: Any) -> Any:
    return click.option(
        "--sandbox",
        is_flag=True,
        help="Start a local sandbox on 127.0.0.1 for this command and use it (no account needed).",
    )(func)


@contextmanager
def _connection(
    *, profile: str | None, base_url: str | None, hub: str | None, sandbox: bool = False
) -> Iterator[tuple[Any, Any]]:
    """(client, journal) for the configured target, or for a sandbox started here."""
    from .client import Client
    from .journal import Journal

    with ExitStack() as stack:
        if sandbox:
            settings = _sandbox_settings(stack)
        else:
            overrides = {"base_url": base_url, "hub": hub}
            settings = load_settings(profile=profile, overrides=overrides)
        client = stack.enter_context(Client(settings))
        yield client, Journal(settings.journal_path)


def _sandbox_settings(stack: ExitStack) -> Settings:
    """Start a sandbox (stopped when ``stack`` closes); the settings that reach it."""
    from .sandbox import Sandbox

    tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="bulkprep-sandbox-"))
    stack.callback(click.echo, "sandbox: stopped", err=True)
    sb = stack.enter_context(Sandbox(step_seconds=1.0, data_dir=Path(tmp) / "data"))
    click.echo(f"sandbox: started on {sb.base_url}", err=True)
    creds = sb.credentials
    return Settings(
        base_url=sb.base_url,
        hub=sb.hub,
        user_secret=creds.user,
        org_secret=creds.organization,
        element_token=creds.element,
        state_dir=Path(tmp),
    )


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _status_line(status: Any, previous: Any) -> str:
    """``RUNNING -> COMPLETED (10 records, 0 failed)``; the arrow only when the status moved."""
    moved = previous is not None and previous.status != status.status
    text = f"{previous.status} -> {status.status}" if moved else status.status
    if status.records_count is not None:
        failed = status.records_failed_count or 0
        text += f" ({_plural(status.records_count, 'record')}, {failed:,} failed)"
    if status.note:
        text += f"  [{status.note}]"
    return text


class _UploadView:
    """Renders upload events on stderr: a progress bar per file and status changes."""

    def __init__(self, max_findings: int) -> None:
        self.max_findings = max_findings
        self._bar: Any = None
        self._sent = 0

    def __call__(self, kind: str, **data: Any) -> None:
        getattr(self, f"on_{kind}")(**data)

    def on_cleaned(self, report: Any) -> None:
        from .report import render

        click.echo(render([report], OutputFormat.TEXT, max_findings=self.max_findings), nl=False)

    def on_uploading(self, chunk: Any) -> None:
        size = chunk.path.stat().st_size
        part = f" (part {chunk.index} of {chunk.count})" if chunk.count > 1 else ""
        click.echo(
            f"uploading {chunk.path}{part}: {_plural(chunk.rows, 'row')}, {_plural(size, 'byte')}",
            err=True,
        )
        self._bar = click.progressbar(length=size, file=sys.stderr, label="  sending")
        self._bar.__enter__()
        self._sent = 0

    def on_progress(self, chunk: Any, sent: int, total: int) -> None:
        if self._bar is not None:
            self._bar.length = total
            self._bar.update(sent - self._sent)
            self._sent = sent

    def on_created(self, outcome: Any) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None
        adopted = " (found again after a lost answer)" if outcome.adopted else ""
        click.echo(f"job {outcome.job_id} created{adopted}", err=True)

    def on_reused(self, outcome: Any) -> None:
        chunk = outcome.chunk
        click.echo(
            f"{chunk.path} (part {chunk.index} of {chunk.count}) was already sent as job "
            f"{outcome.job_id}; not sending it again",
            err=True,
        )

    def on_status(self, outcome: Any, status: Any, previous: Any) -> None:
        click.echo(f"job {outcome.job_id}: {_status_line(status, previous)}", err=True)

    def on_finished(self, outcome: Any) -> None:
        click.echo(
            f"job {outcome.job_id}: {outcome.final.status}, imported {outcome.imported}, "
            f"refused {outcome.refused}",
            err=True,
        )


@cli.command("upload")
@click.argument("object_name", metavar="OBJECT")
@click.argument("file", metavar="FILE")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Clean CSV path.")
@click.option("--rejects", type=click.Path(dir_okay=False), help="Rejected rows CSV path.")
@click.option("--report", type=click.Path(dir_okay=False), help="Write the report JSON here.")
@click.option(
    "--skip-invalid", is_flag=True, help="Upload the clean rows even if some were rejected."
)
@click.option("--dry-run", is_flag=True, help="Clean and show what would be sent; send nothing.")
@click.option("--no-wait", is_flag=True, help="Create the job(s) and return without waiting.")
@click.option("--chunk-rows", type=click.IntRange(min=1), help="Send at most N rows per job.")
@click.option("--identifier", metavar="FIELD", help="Identifier field for the job (metaData).")
@click.option("--upsert", is_flag=True, help="Update records that exist (by the identifier).")
@click.option("--callback-url", metavar="URL", help="Elements-Async-Callback-Url for the job(s).")
@_timeout_option
@click.option("--force", is_flag=True, help="Upload even if the same bytes were uploaded before.")
@_max_findings_option
@_input_options
@_api_options
@_sandbox_option
@click.pass_context
def upload_cmd(ctx: click.Context, object_name: str, file: str, **opts: Any) -> None:
    """Clean FILE, upload its clean rows as OBJECT records, wait, and reconcile.

    Rows rejected by the cleaning stop the upload unless --skip-invalid. Every row
    ends up imported, rejected here, or refused by the server, each with its source
    line. Exit 0 when every row was imported, 1 when any was rejected or refused,
    2 when it could not run.
    """
    from .upload import upload

    if opts["no_wait"] and opts["sandbox"]:
        raise click.UsageError(
            "--no-wait cannot be used with --sandbox: the sandbox stops when the command ends"
        )
    view = _UploadView(opts["max_findings"])
    schemas_dir = ctx.find_root().params.get("schemas")

    def run(client: Any, journal: Any) -> Any:
        return upload(
            object_name,
            file,
            client=client,
            journal=journal,
            schemas_dir=schemas_dir,
            output=opts["output"],
            rejects=opts["rejects"],
            report=opts["report"],
            encoding=opts["encoding"],
            delimiter=opts["delimiter"],
            skip_invalid=opts["skip_invalid"],
            dry_run=opts["dry_run"],
            wait=not opts["no_wait"],
            chunk_rows=opts["chunk_rows"],
            identifier=opts["identifier"],
            upsert=opts["upsert"],
            callback_url=opts["callback_url"],
            timeout=opts["timeout"],
            force=opts["force"],
            on_event=view,
            # the local sandbox answers at once: poll it often; a real platform gently
            poll_max=2.0 if opts["sandbox"] else 10.0,
        )

    if opts["dry_run"]:
        result = run(None, None)
    else:
        with _connection(
            profile=opts["profile"],
            base_url=opts["base_url"],
            hub=opts["hub"],
            sandbox=opts["sandbox"],
        ) as (client, journal):
            result = run(client, journal)
    _render_upload(result)
    ctx.exit(result.exit_code)


def _render_upload(result: Any) -> None:
    report = result.report
    click.echo(f"  clean rows:    {report.outputs.get('clean')}")
    click.echo(f"  rejected rows: {report.outputs.get('rejects')}")
    if "report" in report.outputs:
        click.echo(f"  report:        {report.outputs['report']}")
    if result.state == "refused-invalid":
        click.echo(
            f"not uploaded: {result.rejected} rows were rejected; fix them (see the rejects "
            "file) or pass --skip-invalid to upload the clean rows only"
        )
    elif result.state == "nothing-to-upload":
        click.echo("not uploaded: no clean rows")
    elif result.state == "dry-run":
        for chunk in result.chunks:
            click.echo(
                f"would upload {chunk.path}: {chunk.rows} rows as {report.object} "
                f"(rows {chunk.offset + 1}-{chunk.offset + chunk.rows} of the clean file)"
            )
    elif result.state == "submitted":
        for job in result.jobs:
            click.echo(f"job {job.job_id} submitted; follow it with: bulkprep wait {job.job_id}")
    else:
        server = [Finding(**r) for r in report.with_code("server-rejected").iter_rows(named=True)]
        for f in server[:20]:
            where = f"line {f.line}" if f.line is not None else "file"
            if f.column:
                where += f", {f.column}"
            click.echo(f"  {report.source}: {where}: error [server-rejected] {f.message}")
        if len(server) > 20:
            click.echo(f"  … {len(server) - 20} more refused rows: see the rejects file")
        click.echo(
            f"read {result.read}, rejected locally {result.rejected}, "
            f"imported {result.imported}, refused by the server {result.refused}"
        )


@cli.command("jobs")
@click.option(
    "--limit", type=click.IntRange(min=1), default=20, show_default=True, help="Jobs to list."
)
@_text_or_json
@click.option("--remote", is_flag=True, help="List the platform's jobs instead of the journal.")
@click.option("--object", "object_name", metavar="OBJECT", help="Only jobs of this object.")
@_api_options
def jobs_cmd(
    limit: int,
    fmt: str,
    remote: bool,
    object_name: str | None,
    profile: str | None,
    base_url: str | None,
    hub: str | None,
) -> None:
    """List bulk jobs, newest first: the local journal, or with --remote the platform's list.

    The journal holds every job bulkprep created, with the file and its sha256; the
    platform's list also shows jobs whose creation bulkprep could not confirm.
    """
    if remote:
        from .jobs import object_filter

        where = object_filter(object_name) if object_name else None
        with _connection(profile=profile, base_url=base_url, hub=hub) as (client, _):
            jobs = list(itertools.islice(client.iter_jobs(where), limit))
        if fmt == "json":
            click.echo(json.dumps([dict(j.raw) for j in jobs], indent=2))
            return
        for j in jobs:
            click.echo(
                f"{j.id:>8}  {j.created}  {j.raw.get('objectName', ''):<10} {j.status:<10}"
                f" {j.records_count or 0} records, {j.records_failed_count or 0} failed"
                f"  {j.file_name}"
            )
        if not jobs:
            click.echo("no jobs on the platform" + (f" for {object_name}" if object_name else ""))
        return
    from .journal import Journal

    journal = Journal()
    entries = [e for e in journal.list() if not object_name or e.object_name == object_name]
    entries = entries[:limit]
    if fmt == "json":
        click.echo(json.dumps([e.to_dict() for e in entries], indent=2))
        return
    if not entries:
        click.echo(f"no jobs in the journal ({journal.path})")
        return
    for e in entries:
        part = f" part {e.chunk_index}/{e.chunk_count}" if e.chunk_count > 1 else ""
        counts = (
            f" {e.records_count} records, {e.records_failed_count or 0} failed"
            if e.records_count is not None
            else ""
        )
        click.echo(
            f"{e.job_id:>8}  {e.created}  {e.object_name:<10} {e.status:<10}{counts}"
            f"  {e.source}{part}  {e.remote_name}  {e.host}"
        )


def _job_command(name: str, help_text: str) -> Any:
    def decorate(func: Any) -> Any:
        func = click.argument("job_id", metavar="JOB")(func)
        func = _api_options(func)
        return cli.command(name, help=help_text)(func)

    return decorate


@_job_command("status", "Show a job's status and record counts (and update the journal).")
def status_cmd(job_id: str, profile: str | None, base_url: str | None, hub: str | None) -> None:
    with _connection(profile=profile, base_url=base_url, hub=hub) as (client, journal):
        status = client.job_status(job_id)
        journal.record_status(job_id, client.settings.host, status)
    click.echo(json.dumps(dict(status.raw), indent=2))


@_job_command("wait", "Wait for a job to finish, showing status changes on stderr.")
@_timeout_option
@click.pass_context
def wait_cmd(
    ctx: click.Context,
    job_id: str,
    timeout: float,
    profile: str | None,
    base_url: str | None,
    hub: str | None,
) -> None:
    from ._exceptions import WaitInterrupted
    from .jobs import wait_for_job

    def changed(status: Any, previous: Any) -> None:
        click.echo(f"job {job_id}: {_status_line(status, previous)}", err=True)

    with _connection(profile=profile, base_url=base_url, hub=hub) as (client, journal):
        try:
            final = wait_for_job(client, job_id, timeout=timeout, on_change=changed)
        except KeyboardInterrupt:
            raise WaitInterrupted(
                f"stopped waiting; job {job_id} keeps running on the server. "
                f"Resume with: bulkprep wait {job_id}",
                [job_id],
            ) from None
        journal.record_status(job_id, client.settings.host, final)
    failed = final.records_failed_count or 0
    records = _plural(final.records_count or 0, "record")
    click.echo(f"job {job_id}: {final.status}, {records}, {failed} failed")
    if failed:
        click.echo(f"see the failed records with: bulkprep errors {job_id}")
    ctx.exit(EXIT_OK if final.is_success and not failed else EXIT_PROBLEMS)


@_job_command("errors", "List a job's failed records with the server's reasons.")
@_text_or_json
@click.pass_context
def errors_cmd(
    ctx: click.Context,
    job_id: str,
    fmt: str,
    profile: str | None,
    base_url: str | None,
    hub: str | None,
) -> None:
    with _connection(profile=profile, base_url=base_url, hub=hub) as (client, _):
        failed = list(client.iter_job_errors(job_id))
    if fmt == "json":
        click.echo(json.dumps(failed, indent=2, ensure_ascii=False))
    else:
        for item in failed:
            record = item.get("record") or {}
            first = next(iter(record.values()), "") if isinstance(record, dict) else ""
            click.echo(f"record {item.get('recordNumber')}: {first}: {item.get('error')}")
        click.echo(f"{len(failed)} failed records in job {job_id}")
    ctx.exit(EXIT_PROBLEMS if failed else EXIT_OK)


@_job_command("cancel", "Ask the platform to cancel a job that has not finished.")
def cancel_cmd(job_id: str, profile: str | None, base_url: str | None, hub: str | None) -> None:
    with _connection(profile=profile, base_url=base_url, hub=hub) as (client, journal):
        cancelled = client.cancel_job(job_id)
        status = client.job_status(job_id)
        journal.update(job_id, client.settings.host, status=status.status)
    if cancelled:
        click.echo(f"job {job_id}: cancel requested, status {status.status}")
    else:
        click.echo(f"job {job_id}: already finished ({status.status}); nothing to cancel")


@cli.command("objects")
@_api_options
@_sandbox_option
def objects_cmd(profile: str | None, base_url: str | None, hub: str | None, sandbox: bool) -> None:
    """List the objects the hub offers for bulk upload."""
    with _connection(profile=profile, base_url=base_url, hub=hub, sandbox=sandbox) as (client, _):
        for name in client.list_objects():
            click.echo(name)


@schema_group.command("pull")
@click.argument("object_name", metavar="OBJECT")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Where to write (default: stdout)."
)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@_api_options
@_sandbox_option
def schema_pull(
    object_name: str,
    output: str | None,
    force: bool,
    profile: str | None,
    base_url: str | None,
    hub: str | None,
    sandbox: bool,
) -> None:
    """Write a draft schema YAML for OBJECT from the target's metadata."""
    from ._exceptions import OutputError
    from .outputs import write_text
    from .pull import draft_schema

    if output is not None and Path(output).exists() and not force:
        raise OutputError(f"{output} exists; pass --force to overwrite it")
    with _connection(profile=profile, base_url=base_url, hub=hub, sandbox=sandbox) as (client, _):
        metadata = client.object_metadata(object_name)
        text = draft_schema(object_name, metadata, source=client.settings.host)
    if output is None:
        click.echo(text, nl=False)
        return
    write_text(output, text)
    click.echo(f"wrote {output}; check it with: bulkprep schema check {output}", err=True)


@cli.command("sandbox")
@click.option(
    "--port",
    type=click.IntRange(min=0, max=65535),
    default=8080,
    show_default=True,
    help="Port on 127.0.0.1 (0: any free port).",
)
@click.option(
    "--data", "data_dir", type=click.Path(file_okay=False), help="Keep the SQLite store here."
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="KIND:RATE",
    help="Inject faults: 429:0.2, 503:0.1, drop:0.05 …",
)
@click.option(
    "--latency", type=click.FloatRange(min=0), default=0, help="Milliseconds added to every answer."
)
@click.option("--fail-job", is_flag=True, help="Every job ends FAILED.")
@click.option("--seed", type=int, help="Seed for the fault draws.")
def sandbox_cmd(
    port: int,
    data_dir: str | None,
    faults: tuple[str, ...],
    latency: float,
    fail_job: bool,
    seed: int | None,
) -> None:
    """Run a local Bulk API sandbox on 127.0.0.1 until Ctrl-C."""
    from .sandbox import FaultPlan, Sandbox, serve_forever

    try:
        plan = FaultPlan.parse(list(faults), seed=seed) if faults else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--fault") from exc

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt  # `kill` stops it as cleanly as Ctrl-C

    signal.signal(signal.SIGTERM, stop)
    serve_forever(
        Sandbox(
            port=port,
            data_dir=data_dir,
            faults=plan,
            latency_ms=latency,
            fail_jobs=fail_job,
            signature_key=signature_key(),
        )
    )


@cli.command("verify-callback")
@click.option(
    "--signature", "header", required=True, help="The Elements-Webhook-Signature header value."
)
@click.option(
    "--body", type=click.File("rb"), default="-", help="File holding the raw body (default: stdin)."
)
@click.pass_context
def verify_callback(ctx: click.Context, header: str, body: Any) -> None:
    """Check a callback body against its signature, keyed with BULKPREP_SIGNATURE_KEY.

    Exit 0 when the signature is valid, 1 when it is not, 2 when no key is set.
    """
    from ._exceptions import ConfigError
    from .signature import verify_signature

    key = signature_key()
    if not key:
        raise ConfigError("set BULKPREP_SIGNATURE_KEY to the callback signature key")
    if verify_signature(body.read(), header, key):
        click.echo("valid signature")
        ctx.exit(EXIT_OK)
    click.echo("INVALID signature: the body was changed or the key is wrong")
    ctx.exit(EXIT_PROBLEMS)
