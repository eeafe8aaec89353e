"""Reports: the result of validating or cleaning one file, and its renderings.

The JSON form is a stable contract (``docs/report.md``)::

    {"object": "contact", "source": "contacts.csv",
     "rows": 10, "clean_rows": 10, "rejected_rows": 0,
     "findings": [{"line": 4, "row": 3, "column": "C_BusPhone", "value": "444) 444-1234",
                   "code": "phone-repaired", "severity": "warning", "message": "…"}]}

More keys may be added; these never change meaning. Always
``rows == clean_rows + rejected_rows``.
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any
from xml.sax.saxutils import escape, quoteattr

import polars as pl

from .codes import EXIT_OK, EXIT_PROBLEMS, OutputFormat
from .findings import CATALOG, Finding

_JSON_SLICE = 50_000
FINDING_SCHEMA = {
    "line": pl.Int64,
    "row": pl.Int64,
    "column": pl.String,
    "value": pl.String,
    "code": pl.String,
    "severity": pl.String,
    "message": pl.String,
}


class FindingSpool:
    """Findings written to Arrow IPC files batch by batch, so memory does not grow with
    them; read back lazily. The files live in a temporary folder removed with the spool.

    The spool counts findings by code and severity as they arrive, so the report's
    counts need no pass over the files.
    """

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="bulkprep-findings-")
        self._parts: list[str] = []
        self.height = 0
        self.counts: dict[tuple[str, str], int] = {}  # (code, severity) -> findings

    def add(self, frame: pl.DataFrame) -> None:
        if not frame.height:
            return
        path = f"{self._dir.name}/{len(self._parts):06d}.arrow"
        frame.write_ipc(path, compression="lz4")
        self._parts.append(path)
        for key, n in _tally(frame).items():
            self.counts[key] = self.counts.get(key, 0) + n
        self.height += frame.height

    def frames(self) -> Iterator[pl.DataFrame]:
        """The findings, one spooled batch at a time, in order."""
        for path in self._parts:
            yield pl.read_ipc(path)

    def scan(self) -> pl.LazyFrame:
        if not self._parts:
            return pl.LazyFrame(schema=FINDING_SCHEMA)
        return pl.scan_ipc(self._parts)


@dataclass
class Report:
    """What happened to one input file."""

    object: str
    source: str
    rows: int
    clean_rows: int
    rejected_rows: int
    findings_data: pl.DataFrame | FindingSpool
    clean_index: pl.DataFrame | None = None  # ``line``, ``row`` of each clean-file row
    encoding: str | None = None
    delimiter: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def findings_frame(self) -> pl.DataFrame:
        """Every finding as a polars frame (read from the spool on first use)."""
        if isinstance(self.findings_data, FindingSpool):
            self.findings_data = self.findings_data.scan().collect()
        return self.findings_data

    @findings_frame.setter
    def findings_frame(self, frame: pl.DataFrame) -> None:
        self.findings_data = frame

    def _scan(self) -> pl.LazyFrame:
        data = self.findings_data
        return data.scan() if isinstance(data, FindingSpool) else data.lazy()

    @property
    def total_findings(self) -> int:
        data = self.findings_data
        return data.height

    def head(self, n: int | None) -> pl.DataFrame:
        """The first ``n`` findings (all when ``n`` is None), without loading the rest."""
        scan = self._scan()
        return (scan if n is None else scan.head(n)).collect()

    def with_code(self, code: str) -> pl.DataFrame:
        """The findings with one code, without loading the others."""
        return self._scan().filter(pl.col("code") == code).collect()

    @property
    def findings(self) -> list[Finding]:
        return [Finding(**row) for row in self.findings_frame.iter_rows(named=True)]

    def flat(self) -> list[tuple[int | None, str | None, str]]:
        """``(line, column, code)`` of every finding, for tests and quick looks."""
        return list(self.findings_frame.select("line", "column", "code").iter_rows())

    def _tally(self) -> dict[tuple[str, str], int]:
        """Findings by (code, severity): the spool's running counts, or counted now."""
        data = self.findings_data
        return data.counts if isinstance(data, FindingSpool) else _tally(data)

    def _severities(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for (_, severity), n in self._tally().items():
            out[severity] = out.get(severity, 0) + n
        return out

    @property
    def errors(self) -> int:
        return self._severities().get("error", 0)

    @property
    def warnings(self) -> int:
        return self._severities().get("warning", 0)

    @property
    def exit_code(self) -> int:
        """0 when every row is clean and no finding is an error, else 1."""
        return EXIT_PROBLEMS if self.rejected_rows or self.errors else EXIT_OK

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for (code, _), n in self._tally().items():
            out[code] = out.get(code, 0) + n
        return dict(sorted(out.items()))

    def to_dict(self, *, max_findings: int | None = None) -> dict[str, Any]:
        frame = self.head(max_findings)
        data: dict[str, Any] = {
            "object": self.object,
            "source": self.source,
            "rows": self.rows,
            "clean_rows": self.clean_rows,
            "rejected_rows": self.rejected_rows,
            "findings": frame.to_dicts(),
            "finding_counts": self.counts(),
            "truncated": frame.height < self.total_findings,
        }
        if self.encoding:
            data["encoding"] = self.encoding
        if self.delimiter:
            data["delimiter"] = self.delimiter
        if self.outputs:
            data["outputs"] = dict(self.outputs)
        data.update(self.extra)
        return data

    def to_json(self, *, max_findings: int | None = None) -> str:
        """The report as JSON text (see :meth:`write_json` for files)."""
        out = io.BytesIO()
        self._write_json(out, max_findings)
        return out.getvalue().decode("utf-8")

    def write_json(self, handle: IO[bytes]) -> None:
        """Write the report as JSON to a binary file, the findings in slices, so a
        report of millions of findings never sits in memory as one string."""
        self._write_json(handle, None)
        handle.write(b"\n")

    def _write_json(self, out: IO[bytes], max_findings: int | None) -> None:
        head = self.to_dict(max_findings=0)
        del head["findings"]
        total = self.total_findings
        shown = total if max_findings is None else min(max_findings, total)
        head["truncated"] = shown < total
        text = json.dumps(head, indent=2, ensure_ascii=False)[:-2] + ',\n  "findings": ['
        out.write(text.encode("utf-8"))
        for i, frame in enumerate(self._slices(shown)):
            out.write(_json_rows(frame, first=i == 0))
        out.write(b"\n  ]\n}" if shown else b"]\n}")

    def _slices(self, limit: int) -> Iterator[pl.DataFrame]:
        """The first ``limit`` findings in frames of at most ``_JSON_SLICE`` rows,
        reading the spool one file at a time."""
        data = self.findings_data
        frames = data.frames() if isinstance(data, FindingSpool) else iter([data])
        for frame in frames:
            for start in range(0, min(frame.height, limit), _JSON_SLICE):
                yield frame.slice(start, min(_JSON_SLICE, limit - start))
            limit -= frame.height
            if limit <= 0:
                return

    def summary(self) -> str:
        return (
            f"{self.source}: {_n(self.rows, 'row')} read, {self.clean_rows} clean, "
            f"{self.rejected_rows} rejected ({_n(self.errors, 'error')}, "
            f"{_n(self.warnings, 'warning')})"
        )


def _tally(frame: pl.DataFrame) -> dict[tuple[str, str], int]:
    grouped = frame.group_by("code", "severity").len()
    return {(str(code), str(severity)): int(n) for code, severity, n in grouped.iter_rows()}


def _json_rows(frame: pl.DataFrame, *, first: bool) -> bytes:
    """Findings as the rows of the report's ``findings`` array (indented, comma-led)."""
    buffer = io.BytesIO()
    frame.write_ndjson(buffer)
    # JSON escapes newlines inside strings, so the raw newlines separate rows.
    rows = buffer.getvalue().rstrip(b"\n").replace(b"\n", b",\n    ")
    return (b"\n    " if first else b",\n    ") + rows


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def render(
    reports: Sequence[Report], fmt: OutputFormat | str, *, max_findings: int | None = None
) -> str:
    """Render reports in one of the output formats (the text ends with a newline)."""
    fmt = OutputFormat(fmt)
    if fmt is OutputFormat.JSON:
        if len(reports) == 1:
            return reports[0].to_json(max_findings=max_findings) + "\n"
        body = ",\n".join(r.to_json(max_findings=max_findings) for r in reports)
        return '{"reports": [\n' + body + "\n]}\n"
    if fmt is OutputFormat.GITHUB:
        return "".join(_github(r, max_findings) for r in reports)
    if fmt is OutputFormat.JUNIT:
        return _junit(reports, max_findings)
    return "".join(_text(r, max_findings) for r in reports)


def _limited(report: Report, max_findings: int | None) -> tuple[list[Finding], int]:
    frame = report.head(max_findings)
    return [Finding(**r) for r in frame.iter_rows(named=True)], report.total_findings


def _where(f: Finding) -> str:
    parts = [f"line {f.line}" if f.line is not None else "file"]
    if f.column:
        parts.append(f.column)
    return ", ".join(parts)


def _text(report: Report, max_findings: int | None) -> str:
    shown, total = _limited(report, max_findings)
    lines = [report.summary()]
    for f in shown:
        lines.append(f"  {report.source}: {_where(f)}: {f.severity} [{f.code}] {f.message}")
    if len(shown) < total:
        more = _n(total - len(shown), "more finding")
        lines.append(f"  … {more} (raise --max-findings to see them)")
    return "\n".join(lines) + "\n"


def _gh_escape(text: str, *, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def _github(report: Report, max_findings: int | None) -> str:
    shown, total = _limited(report, max_findings)
    out = []
    for f in shown:
        level = "error" if f.is_error else "warning"
        props = [f"file={_gh_escape(report.source, prop=True)}"]
        if f.line is not None:
            props.append(f"line={f.line}")
        props.append(f"title={_gh_escape(f.code, prop=True)}")
        where = f"{f.column}: " if f.column else ""
        out.append(f"::{level} {','.join(props)}::{_gh_escape(where + f.message)}\n")
    if len(shown) < total:
        more = _n(total - len(shown), "more finding")
        out.append(f"::notice::{more} in {report.source} not shown\n")
    return "".join(out)


def _junit(reports: Sequence[Report], max_findings: int | None) -> str:
    suites = []
    total_tests = total_failures = 0
    for report in reports:
        shown, _ = _limited(report, max_findings)
        errors = [f for f in shown if f.is_error]
        hidden = report.errors - len(errors)
        cases = []
        for f in errors:
            title = CATALOG[f.code].title if f.code in CATALOG else f.code
            name = f"{_where(f)}: {f.code}"
            cases.append(
                f"    <testcase classname={quoteattr(report.source)} name={quoteattr(name)}>\n"
                f"      <failure type={quoteattr(f.code)} message={quoteattr(title)}>"
                f"{escape(f.message)}</failure>\n    </testcase>"
            )
        if hidden:
            cases.append(
                f"    <testcase classname={quoteattr(report.source)} "
                f"name={quoteattr(f'{hidden} more errors')}>\n"
                f'      <failure type="truncated" message="more errors not shown">'
                f"{hidden} more errors not shown (raise --max-findings)</failure>\n"
                "    </testcase>"
            )
        if not errors and not hidden:
            cases.append(
                f"    <testcase classname={quoteattr(report.source)} "
                f"name={quoteattr(report.object + ' schema')}/>"
            )
        failures = len(errors) + (1 if hidden else 0)
        tests = max(1, failures)
        total_tests += tests
        total_failures += failures
        suites.append(
            f'  <testsuite name={quoteattr(report.source)} tests="{tests}" '
            f'failures="{failures}" errors="0">\n' + "\n".join(cases) + "\n  </testsuite>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<testsuites name="bulkprep" tests="{total_tests}" failures="{total_failures}">\n'
        + "\n".join(suites)
        + "\n</testsuites>\n"
    )
