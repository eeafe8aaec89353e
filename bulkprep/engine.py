"""The engine: header mapping, then per batch normalize → check → split.

For each raw batch from the reader the engine adds row numbers, normalizes the
cells (``bulkprep.normalize``), evaluates the compiled checks and the repairs in
one pass (``bulkprep.checks``), applies keep-first uniqueness across batches, and
splits the rows into clean and rejected. Messages are built for failing rows only,
and findings stay polars frames end to end.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import polars as pl

from .checks import ERROR, ROW, FlaggedBatch, compile_checks
from .findings import Finding
from .normalize import normalize, ok_col
from .reader import LINE_COLUMN, CsvSource, RawBatch, cell_name
from .report import FINDING_SCHEMA
from .schema import Schema, fold_header
from .unique import SeenValues

INDEX = "§index"  # a row's position in its batch (working column)
# The columns the rejects file adds after the raw cells.
REJECTS_LINE = "_line"
REJECTS_ERRORS = "_errors"


@dataclass(frozen=True)
class HeaderMap:
    """Which raw column feeds each schema column, and what the header said."""

    sources: dict[str, str | None]
    findings: list[Finding]

    @property
    def fatal(self) -> list[Finding]:
        return [f for f in self.findings if f.is_error]


def map_headers(header: list[str], schema: Schema) -> HeaderMap:
    """Match headers to schema columns by name or alias, ignoring case and white space."""
    keys: dict[str, str] = {}
    for col in schema.columns:
        for name in (col.name, *col.aliases):
            keys[fold_header(name)] = col.name
    sources: dict[str, str | None] = dict.fromkeys(schema.names)
    first_seen: dict[str, int] = {}
    findings: list[Finding] = []
    for i, name in enumerate(header):
        target = keys.get(fold_header(name))
        if target is None:
            label = f"column {i + 1} has no header name" if not name.strip() else repr(name)
            findings.append(
                _file_finding(
                    schema,
                    "extra-column",
                    name or None,
                    f"{label} is not in schema {schema.object!r}; it is dropped from the "
                    "clean file (add it to the schema or an alias if it should be kept)",
                )
            )
            continue
        if target in first_seen:
            j = first_seen[target]
            findings.append(
                _file_finding(
                    schema,
                    "duplicate-header",
                    target,
                    f"headers {header[j]!r} (column {j + 1}) and {name!r} (column {i + 1}) "
                    f"both map to {target!r}; rename or remove one of them",
                )
            )
            continue
        first_seen[target] = i
        sources[target] = cell_name(i)
    for col in schema.columns:
        if sources[col.name] is not None:
            continue
        if col.required:
            findings.append(
                _file_finding(
                    schema,
                    "missing-column",
                    col.name,
                    f"required column {col.name!r} is missing from the header "
                    f"(accepted names: {', '.join([col.name, *col.aliases])}); "
                    "every row is rejected",
                )
            )
        else:
            findings.append(
                Finding(
                    None,
                    None,
                    col.name,
                    None,
                    "missing-column",
                    col.severity.get("missing-column", "warning"),
                    f"optional column {col.name!r} is missing from the header; "
                    "it is left empty in the clean file",
                )
            )
    return HeaderMap(sources, findings)


def _file_finding(schema: Schema, code: str, column: str | None, message: str) -> Finding:
    return Finding(None, None, column, None, code, schema.severity_of(code), message)


@dataclass(frozen=True)
class _Checked:
    """A batch after the stages that need no other batch."""

    frame: pl.DataFrame  # raw cells with the working columns §line, §row and §index
    flagged: FlaggedBatch | None  # None when the header rejects every row
    structural: pl.DataFrame  # findings of broken records


@dataclass
class BatchResult:
    """One processed batch: clean rows (schema order), rejected raw rows, findings."""

    rows: int
    clean: pl.DataFrame  # schema columns, canonical values
    clean_index: pl.DataFrame  # line and row of each clean row, in clean-file order
    rejects: pl.DataFrame  # raw cells, _line, _errors (REJECTS_LINE, REJECTS_ERRORS)
    findings: pl.DataFrame  # FINDING_SCHEMA


class Engine:
    """Processes the batches of one file against one schema."""

    def __init__(self, schema: Schema, source: CsvSource) -> None:
        self.schema = schema
        self.source = source
        self.headers = map_headers(source.header, schema)
        present = {k for k, v in self.headers.sources.items() if v is not None}
        self.checks = compile_checks(schema, present)
        unique = [c.name for c in schema.columns if c.unique and c.name in present]
        # One unique column: compact fingerprints; several: exact values, row by row.
        self.unique = {n: SeenValues() for n in unique} if len(unique) == 1 else {}
        self._seen_exact: dict[str, dict[str, int]] = (
            {n: {} for n in unique} if len(unique) > 1 else {}
        )
        self.rows = 0
        self.raw_names = _unique_names(source.header)
        # the raw cells under the rejects file's names, and the schema's column order
        self._raw_cells = [pl.col(cell_name(i)).alias(n) for i, n in enumerate(self.raw_names)]
        self._order = {n: i for i, n in enumerate(schema.names)}
        self._file_errors = "; ".join(f"{f.code}: {f.message}" for f in self.headers.fatal)

    def batches(self) -> Iterator[BatchResult]:
        """Process the file batch by batch, in a pipeline of three stages that overlap
        (polars releases the GIL while it works): a background thread reads and parses
        block n + 2, another normalizes and checks block n + 1, and this thread applies
        uniqueness to block n, which needs every block before it, and splits its rows."""
        raws = self.source.batches()
        with (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="bulkprep-read") as reader,
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="bulkprep-check") as checker,
        ):
            upcoming = reader.submit(next, raws, None)
            pending: deque[Future[_Checked]] = deque()
            while (raw := upcoming.result()) is not None:
                upcoming = reader.submit(next, raws, None)
                pending.append(checker.submit(self._check, raw, self._number(raw)))
                if len(pending) > 1:
                    yield self._finish(pending.popleft().result())
            while pending:
                yield self._finish(pending.popleft().result())

    def _number(self, raw: RawBatch) -> int:
        """The row number of the batch's first row; batches are numbered in file order."""
        first = self.rows + 1
        self.rows += raw.height
        return first

    def _check(self, raw: RawBatch, first_row: int) -> _Checked:
        """Normalize and check one batch: everything that needs no other batch."""
        frame = raw.frame.with_columns(
            pl.int_range(first_row, first_row + raw.height, dtype=pl.Int64).alias(ROW),
            pl.int_range(0, raw.height, dtype=pl.Int64).alias(INDEX),
        )
        if self._file_errors:
            return _Checked(frame, None, pl.DataFrame(schema=FINDING_SCHEMA))
        broken = {issue.index for issue in raw.issues}
        structural = _structural_findings(frame, raw)
        good = frame.filter(~pl.col(INDEX).is_in(list(broken))) if broken else frame
        normalized, repairs = normalize(good, self.schema, self.headers.sources)
        return _Checked(frame, self.checks.flag(normalized, repairs), structural)

    def _finish(self, checked: _Checked) -> BatchResult:
        """Keep-first uniqueness (in file order), then the findings and the split."""
        if checked.flagged is None:
            return self._reject_all(checked.frame)
        firsts = self._duplicates(checked.flagged.frame)
        findings = self._findings(checked.flagged, firsts, checked.structural)
        return self._split(checked.frame, checked.flagged.frame, findings)

    # -- helpers ------------------------------------------------------------

    def _findings(
        self, flagged: FlaggedBatch, firsts: dict[str, pl.Series], structural: pl.DataFrame
    ) -> pl.DataFrame:
        """Every finding of the batch, by row, then in schema column order."""
        sources = self.headers.sources

        def value_of(column: str) -> pl.Expr:
            src = sources[column]
            return pl.col(src) if src is not None else pl.lit(None, dtype=pl.String)

        parts = [structural.lazy(), flagged.findings(value_of)]
        for name, first in firsts.items():
            parts.append(
                flagged.frame.lazy()
                .select(LINE_COLUMN, ROW, name, sources[name], first.alias("§first"))
                .filter(pl.col("§first").is_not_null())
                .select(
                    pl.col(LINE_COLUMN).alias("line"),
                    pl.col(ROW).alias("row"),
                    pl.lit(name).alias("column"),
                    value_of(name).alias("value"),
                    pl.lit("duplicate-value").alias("code"),
                    pl.lit(self.checks.columns[name].severity_of("duplicate-value")).alias(
                        "severity"
                    ),
                    pl.format(
                        "'{}' already appears on line {}; the first occurrence is kept",
                        pl.col(name),
                        pl.col("§first"),
                    ).alias("message"),
                )
            )
        return (
            pl.concat([p.cast(FINDING_SCHEMA) for p in parts])  # type: ignore[arg-type]
            .with_columns(pl.col("column").replace_strict(self._order, default=-1).alias("§o"))
            .sort("row", "§o", maintain_order=True)
            .drop("§o")
            .collect()
        )

    def _duplicates(self, frame: pl.DataFrame) -> dict[str, pl.Series]:
        """Per unique column: the line of an earlier occurrence of each row's value."""
        eligible = ~frame[ERROR]
        if self._seen_exact:
            return self._multi_unique(frame, eligible)
        return {
            name: seen.first_lines(
                frame[name], frame[LINE_COLUMN], eligible & frame[ok_col(name)].fill_null(True)
            )
            for name, seen in self.unique.items()
        }

    def _multi_unique(self, frame: pl.DataFrame, eligible: pl.Series) -> dict[str, pl.Series]:
        """Several unique columns: row by row, so that a row rejected as a duplicate in
        one column does not claim its values in the others (keep-first, exactly)."""
        names = list(self._seen_exact)
        values = {n: frame[n].to_list() for n in names}
        valid = {n: frame[ok_col(n)].fill_null(True).to_list() for n in names}
        lines = frame[LINE_COLUMN].to_list()
        ok = eligible.to_list()
        firsts: dict[str, list[int | None]] = {n: [None] * frame.height for n in names}
        for i, line in enumerate(lines):
            if not ok[i]:
                continue
            keys = {n: values[n][i] for n in names if valid[n][i] and values[n][i] is not None}
            hits = {n: self._seen_exact[n].get(k) for n, k in keys.items()}
            if any(v is not None for v in hits.values()):
                for n, first in hits.items():
                    firsts[n][i] = first
                continue
            for n, k in keys.items():
                self._seen_exact[n][k] = line
        return {n: pl.Series(n, firsts[n], dtype=pl.Int64) for n in names}

    def _split(
        self, frame: pl.DataFrame, normalized: pl.DataFrame, findings: pl.DataFrame
    ) -> BatchResult:
        errors = (
            findings.filter(pl.col("severity") == "error")
            .group_by("row", maintain_order=True)
            .agg(
                pl.format("{}: {}", pl.col("code"), pl.col("message"))
                .str.join("; ")
                .alias(REJECTS_ERRORS)
            )
        )
        rejected = errors["row"].implode()
        clean = (
            normalized.lazy()
            .select(*self.schema.names, LINE_COLUMN, ROW)
            .filter(~pl.col(ROW).is_in(rejected))
            .collect()
        )
        rejects = frame.join(
            errors, left_on=ROW, right_on="row", how="inner", maintain_order="left"
        ).select(
            *self._raw_cells,
            pl.col(LINE_COLUMN).alias(REJECTS_LINE),
            pl.col(REJECTS_ERRORS),
        )
        return BatchResult(
            rows=frame.height,
            clean=clean.select(self.schema.names),
            clean_index=clean.select(
                pl.col(LINE_COLUMN).cast(pl.UInt32).alias("line"),
                pl.col(ROW).cast(pl.UInt32).alias("row"),
            ),
            rejects=rejects,
            findings=findings,
        )

    def _reject_all(self, frame: pl.DataFrame) -> BatchResult:
        rejects = frame.select(
            *self._raw_cells,
            pl.col(LINE_COLUMN).alias(REJECTS_LINE),
            pl.lit(self._file_errors).alias(REJECTS_ERRORS),
        )
        return BatchResult(
            rows=frame.height,
            clean=pl.DataFrame(schema=dict.fromkeys(self.schema.names, pl.String)),
            clean_index=pl.DataFrame(schema={"line": pl.UInt32, "row": pl.UInt32}),
            rejects=rejects,
            findings=pl.DataFrame(schema=FINDING_SCHEMA),
        )


def _structural_findings(frame: pl.DataFrame, raw: RawBatch) -> pl.DataFrame:
    if not raw.issues:
        return pl.DataFrame(schema=FINDING_SCHEMA)
    idx = [i.index for i in raw.issues]
    rows = frame[ROW].gather(idx).to_list()
    lines = frame[LINE_COLUMN].gather(idx).to_list()
    return pl.DataFrame(
        {
            "line": lines,
            "row": rows,
            "column": [None] * len(idx),
            "value": [None] * len(idx),
            "code": [i.code for i in raw.issues],
            "severity": ["error"] * len(idx),
            "message": [i.message for i in raw.issues],
        },
        schema=FINDING_SCHEMA,
    )


def _unique_names(header: list[str]) -> list[str]:
    """Header names made unique and non-empty, for the rejects file."""
    out: list[str] = []
    seen: set[str] = set()
    for i, given in enumerate(header):
        base = given if given.strip() else f"column_{i + 1}"
        name, n = base, 2
        while name in seen or name in (REJECTS_LINE, REJECTS_ERRORS):
            name, n = f"{base}_{n}", n + 1
        seen.add(name)
        out.append(name)
    return out
