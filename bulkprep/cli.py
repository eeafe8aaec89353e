"""The ``bulkprep`` command line: a thin layer over the library.

Each command parses its options, calls one library function, renders the result
and exits with 0 (clean), 1 (problems in the data) or 2 (could not run).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from . import schema as schemas
from ._exceptions import BulkprepError, WaitInterrupted
from .codes import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_PROBLEMS, OutputFormat

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _schemas_dir(ctx: click.Context) -> str | None:
    return ctx.find_root().params.get("schemas")


# How many findings `clean` and `upload` print (the report file has them all).
_max_findings_option = click.option(
    "--max-findings",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="Findings to print.",
)


def _input_options(func: Any) -> Any:
    func = click.option(
        "--delimiter",
        metavar="CHAR",
        help="Field delimiter; sniffed from the file when not given (comma, tab, ; or |).",
    )(func)
    func = click.option(
        "--encoding",
        metavar="NAME",
        help="Text encoding of the input (default: UTF-8, or UTF-16 when the file says so).",
    )(func)
    return func


class _EchoHandler(logging.Handler):
    """Log records of the library on stderr, one line each (retries, adopted jobs)."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"bulkprep: {record.getMessage()}", err=True)


def _show_library_log() -> None:
    logger = logging.getLogger("bulkprep")
    if not any(isinstance(h, _EchoHandler) for h in logger.handlers):
        logger.addHandler(_EchoHandler(logging.INFO))
        logger.setLevel(logging.INFO)
        logger.propagate = False


class BulkprepGroup(click.Group):
    """Turns errors that stop a run into one clear line and exit code 2, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        _show_library_log()
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except WaitInterrupted as exc:
            click.echo(f"bulkprep: {exc}", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except BulkprepError as exc:
            click.echo(f"bulkprep: error: {exc}", err=True)
            ctx.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            click.echo("bulkprep: interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except Exception as exc:  # a bug: one line, the traceback only with --debug
            if ctx.params.get("debug"):
                raise
            # Only the exception's type: its text may quote data or request headers.
            click.echo(
                f"bulkprep: internal error ({type(exc).__name__}); please report it, and "
                "rerun with --debug for the details",
                err=True,
            )
            ctx.exit(EXIT_ERROR)


@click.group(cls=BulkprepGroup, context_settings=CONTEXT)
@click.version_option(package_name="bulkprep")
@click.option(
    "--schemas",
    type=click.Path(file_okay=False, path_type=str),
    envvar="BULKPREP_SCHEMAS",
    show_envvar=True,
    help="Folder of schema YAML files (default: ./schemas if present, else the bundled ones).",
)
@click.option("--debug", is_flag=True, hidden=True, help="Show tracebacks of internal errors.")
def cli(schemas: str | None, debug: bool) -> None:
    """Validate, repair and bulk-upload CSV files for the Open Connectors Bulk API."""


@cli.command("clean")
@click.argument("object_name", metavar="OBJECT")
@click.argument("file", metavar="FILE")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Clean CSV (default: NAME.clean.csv beside FILE).",
)
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False),
    help="Rejected rows CSV (default: NAME.rejects.csv beside FILE).",
)
@click.option(
    "--report", type=click.Path(dir_okay=False), help="Also write the report as JSON to this path."
)
@_max_findings_option
@_input_options
@click.pass_context
def clean_cmd(
    ctx: click.Context,
    object_name: str,
    file: str,
    output: str | None,
    rejects: str | None,
    report: str | None,
    max_findings: int,
    encoding: str | None,
    delimiter: str | None,
) -> None:
    """Check FILE against the OBJECT schema, repair what can be repaired, and split it.

    Writes the clean rows (schema columns, canonical values) and the rejected rows
    (raw cells plus _line and _errors). FILE may be - for standard input.
    Exit 0 when every row is clean (warnings allowed), 1 when rows were rejected or
    the file has an error, 2 when it could not run.
    """
    from . import api
    from .report import render

    result = api.clean(
        object_name,
        file,
        output=output,
        rejects=rejects,
        report=report,
        schemas_dir=_schemas_dir(ctx),
        encoding=encoding,
        delimiter=delimiter,
    )
    click.echo(render([result], OutputFormat.TEXT, max_findings=max_findings), nl=False)
    click.echo(f"  clean rows:    {result.outputs['clean']}")
    click.echo(f"  rejected rows: {result.outputs['rejects']}")
    if report:
        click.echo(f"  report:        {report}")
    ctx.exit(result.exit_code)


@cli.command("validate")
@click.argument("object_name", metavar="OBJECT")
@click.argument("files", metavar="FILE...", nargs=-1, required=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice([f.value for f in OutputFormat]),
    default=OutputFormat.TEXT.value,
    show_default=True,
    help="text for people, json for programs, github for workflow annotations, junit for CI.",
)
@click.option(
    "--max-findings", type=click.IntRange(min=0), default=None, help="Findings to show per file."
)
@_input_options
@click.pass_context
def validate_cmd(
    ctx: click.Context,
    object_name: str,
    files: tuple[str, ...],
    fmt: str,
    max_findings: int | None,
    encoding: str | None,
    delimiter: str | None,
) -> None:
    """Check each FILE against the OBJECT schema; write no files.

    Exit 0 when every file is clean (warnings allowed), 1 when any row would be
    rejected or a file has an error, 2 when it could not run.
    """
    from . import api
    from .report import render

    schema = schemas.load_schema(object_name, schemas_dir=_schemas_dir(ctx))
    reports = [api.validate(schema, f, encoding=encoding, delimiter=delimiter) for f in files]
    click.echo(render(reports, fmt, max_findings=max_findings), nl=False)
    ctx.exit(max(r.exit_code for r in reports))


@cli.group("schema")
def schema_group() -> None:
    """List, show and check schema files."""


@schema_group.command("list")
@click.pass_context
def schema_list(ctx: click.Context) -> None:
    """List the objects that have a schema, with the file each comes from."""
    dirs = schemas.search_dirs(_schemas_dir(ctx))
    for path in schemas.list_schemas(dirs):
        try:
            loaded = schemas.parse_schema_file(path)
            about = loaded.description or f"{len(loaded.columns)} columns"
        except BulkprepError as exc:
            about = f"INVALID: {exc}"
        click.echo(f"{path.stem:<12} {about}  ({path})")


@schema_group.command("show")
@click.argument("object_name", metavar="OBJECT")
@click.pass_context
def schema_show(ctx: click.Context, object_name: str) -> None:
    """Show the columns of the OBJECT schema and their rules."""
    loaded = schemas.load_schema(object_name, schemas_dir=_schemas_dir(ctx))
    click.echo(f"object: {loaded.object}   ({loaded.path})")
    if loaded.description:
        click.echo(loaded.description)
    for col in loaded.columns:
        rules = [col.type]
        if col.required:
            rules.append("required")
        if col.unique:
            rules.append("unique")
        for key in ("min_length", "max_length", "pattern", "minimum", "maximum", "values"):
            value = getattr(col, key)
            if value is not None:
                rules.append(f"{key}={list(value) if isinstance(value, tuple) else value}")
        if col.type == "phone":
            rules.append(
                f"region={col.region_column + '|' if col.region_column else ''}{col.region}"
            )
        if col.is_text and col.formula != "reject":
            rules.append(f"formula={col.formula}")
        aliases = f"  aliases: {', '.join(col.aliases)}" if col.aliases else ""
        click.echo(f"  {col.name:<20} {' '.join(rules)}{aliases}")


@schema_group.command("check")
@click.argument("files", metavar="[FILE...]", nargs=-1, type=click.Path(dir_okay=False))
@click.pass_context
def schema_check(ctx: click.Context, files: tuple[str, ...]) -> None:
    """Check schema files (default: every visible schema). Exit 1 if any is invalid."""
    paths = [Path(f) for f in files] or schemas.list_schemas(schemas.search_dirs(_schemas_dir(ctx)))
    bad = 0
    for path in paths:
        try:
            schemas.parse_schema_file(path)
        except BulkprepError as exc:
            bad += 1
            click.echo(f"{exc}")
        else:
            click.echo(f"{path}: ok")
    ctx.exit(EXIT_PROBLEMS if bad else EXIT_OK)


def main() -> None:
    """Console entry point."""
    cli(prog_name="bulkprep")


# The API commands live in their own module; importing it registers them.
from . import cli_upload  # noqa: E402, F401
