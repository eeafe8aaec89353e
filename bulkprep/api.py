"""The library entry points behind ``bulkprep validate`` and ``bulkprep clean``.

>>> report = bulkprep.clean("contact", "contacts.csv")      # doctest: +SKIP
>>> report.rows == report.clean_rows + report.rejected_rows  # doctest: +SKIP
True
"""

from __future__ import annotations

from pathlib import Path
from typing import IO

import polars as pl

from .engine import FINDING_SCHEMA, REJECTS_ERRORS, REJECTS_LINE, Engine
from .findings import Finding
from .outputs import AtomicFile, CsvSink, check_not_input
from .reader import DEFAULT_BATCH_BYTES, open_csv
from .report import FindingSpool, Report
from .schema import Schema, load_schema

Source = str | Path | IO[bytes]


def schema_of(obj: str | Path | Schema, schemas_dir: str | Path | None) -> Schema:
    """``obj`` itself if it is a Schema, else the schema it names."""
    return obj if isinstance(obj, Schema) else load_schema(obj, schemas_dir=schemas_dir)


def source_name(source: Source) -> str:
    """The name a report gives ``source``: its path, ``<stdin>``, or a stream's name."""
    if isinstance(source, (str, Path)):
        return "<stdin>" if str(source) == "-" else str(source)
    return str(getattr(source, "name", "<stream>"))


def default_outputs(source: Source) -> tuple[Path, Path]:
    """``NAME.clean.csv`` and ``NAME.rejects.csv`` beside the input (cwd for stdin)."""
    if isinstance(source, (str, Path)) and str(source) != "-":
        path = Path(source)
        stem = path.name[: -len(path.suffix)] if path.suffix else path.name
        return path.with_name(f"{stem}.clean.csv"), path.with_name(f"{stem}.rejects.csv")
    return Path("stdin.clean.csv"), Path("stdin.rejects.csv")


def validate(
    obj: str | Path | Schema,
    source: Source,
    *,
    schemas_dir: str | Path | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
) -> Report:
    """Check ``source`` against the schema of ``obj``; write nothing."""
    return _run(
        schema_of(obj, schemas_dir),
        source,
        encoding=encoding,
        delimiter=delimiter,
        batch_bytes=batch_bytes,
        outputs=None,
    )


def clean(
    obj: str | Path | Schema,
    source: Source,
    *,
    output: str | Path | None = None,
    rejects: str | Path | None = None,
    report: str | Path | None = None,
    schemas_dir: str | Path | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
    keep_index: bool = False,
) -> Report:
    """Check and repair ``source``; write the clean file, the rejects file and a report.

    The clean file holds the schema's columns in schema order with canonical values;
    the rejects file holds the raw cells of each rejected row plus ``_line`` and
    ``_errors``. Outputs default to ``NAME.clean.csv`` / ``NAME.rejects.csv`` beside
    the input; the report JSON is written only when ``report`` is given. With
    ``keep_index`` the report's ``clean_index`` maps each clean-file row to its source
    line and row (the uploader uses it to place the server's refusals).
    """
    default_clean, default_rejects = default_outputs(source)
    output = Path(output) if output else default_clean
    rejects = Path(rejects) if rejects else default_rejects
    check_not_input(source_name(source), output, rejects, report)
    result = _run(
        schema_of(obj, schemas_dir),
        source,
        encoding=encoding,
        delimiter=delimiter,
        batch_bytes=batch_bytes,
        outputs=(output, rejects),
        keep_index=keep_index,
    )
    if report is not None:
        result.outputs["report"] = str(report)
        with AtomicFile(report) as out:
            result.write_json(out.handle)
    return result


def _run(
    schema: Schema,
    source: Source,
    *,
    encoding: str | None,
    delimiter: str | None,
    batch_bytes: int,
    outputs: tuple[Path, Path] | None,
    keep_index: bool = False,
) -> Report:
    csv_source = open_csv(source, encoding=encoding, delimiter=delimiter, batch_bytes=batch_bytes)
    clean_sink = rejects_sink = None
    findings = FindingSpool()
    clean_index: list[pl.DataFrame] = []
    rows = clean_rows = 0
    try:
        engine = Engine(schema, csv_source)
        if outputs is not None:
            clean_sink = CsvSink(outputs[0], schema.names)
            rejects_sink = CsvSink(outputs[1], [*engine.raw_names, REJECTS_LINE, REJECTS_ERRORS])
        findings.add(_file_findings(engine.headers.findings))
        for batch in engine.batches():
            rows += batch.rows
            clean_rows += batch.clean.height
            findings.add(batch.findings)
            if clean_sink is not None and rejects_sink is not None:
                clean_sink.write(batch.clean)
                rejects_sink.write(batch.rejects)
                if keep_index:
                    clean_index.append(batch.clean_index)
        if clean_sink is not None and rejects_sink is not None:
            rejects_sink.commit()  # the clean file last: it is the one that gets uploaded
            clean_sink.commit()
    except BaseException:
        for sink in (clean_sink, rejects_sink):
            if sink is not None:
                sink.discard()
        raise
    finally:
        csv_source.close()
    report = Report(
        object=schema.object,
        source=csv_source.name,
        rows=rows,
        clean_rows=clean_rows,
        rejected_rows=rows - clean_rows,
        findings_data=findings,
        clean_index=pl.concat(clean_index) if clean_index else None,
        encoding=csv_source.encoding,
        delimiter=csv_source.delimiter,
    )
    if outputs is not None:
        report.outputs.update(clean=str(outputs[0]), rejects=str(outputs[1]))
    return report


def _file_findings(findings: list[Finding]) -> pl.DataFrame:
    return pl.DataFrame([f.to_dict() for f in findings], schema=FINDING_SCHEMA)
