"""The engine: header mapping, then per batch normalize → check → split.

For each raw batch from the reader the engine adds row numbers, normalizes the
cells (``bulkprep.normalize``), runs the compiled pandera checks
(``bulkprep.checks``), applies keep-first uniqueness across batches, and splits the
rows into clean and rejected. Findings stay polars frames end to end; nothing here
loops over rows in Python.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import polars as pl

from .checks import compile_checks
from .findings import CATALOG, Finding
from .normalize import INDEX, normalize, ok_col
from .reader import LINE_COLUMN, CsvSource, RawBatch
from .report import FINDING_SCHEMA
from .schema import Schema, fold_header
from .unique import SeenValues

ROW = "_row"


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
        sources[target] = f"c{i}"
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


@dataclass
class BatchResult:
    """One processed batch: clean rows (schema order), rejected raw rows, findings."""

    rows: int
    clean: pl.DataFrame  # schema columns, canonical values
    clean_index: pl.DataFrame  # line and row of each clean row, in clean-file order
    rejects: pl.DataFrame  # raw cells, _line, _errors
    findings: pl.DataFrame  # FINDING_SCHEMA


class Engine:
    """Processes the batches of one file against one schema."""

    def __init__(self, schema: Schema, source: CsvSource) -> None:
        self.schema = schema
        self.source = source
        self.headers = map_headers(source.header, schema)
        present = {k for k, v in self.headers.sources.items() if v is not None}
        self.checks = compile_checks(schema, present)
        self.unique = {
            c.name: SeenValues() for c in schema.columns if c.unique and c.name in present
        }
        self._seen_exact: dict[str, dict[str, int]] = {n: {} for n in self.unique}
        self.rows = 0
        width = len(source.header)
        self.raw_names = _unique_names(source.header, width)
        self._file_errors = "; ".join(f"{f.code}: {f.message}" for f in self.headers.fatal)

    def batches(self) -> Iterator[BatchResult]:
        """Process the file batch by batch; the next block is read and parsed in a
        background thread while this one is processed (polars releases the GIL)."""
        raws = self.source.batches()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="bulkprep-read") as pool:
            upcoming = pool.submit(next, raws, None)
            while (raw := upcoming.result()) is not None:
                upcoming = pool.submit(next, raws, None)
                yield self.process(raw)

    def process(self, raw: RawBatch) -> BatchResult:
        frame = raw.frame.with_columns(
            pl.int_range(self.rows + 1, self.rows + 1 + raw.height, dtype=pl.Int64).alias(ROW),
            pl.int_range(0, raw.height, dtype=pl.Int64).alias(INDEX),
        )
        self.rows += raw.height
        if self._file_errors:
            return self._reject_all(frame)
        broken = {issue.index: issue for issue in raw.issues}
        structural = _structural_findings(frame, raw, self.raw_names)
        good = frame.filter(~pl.col(INDEX).is_in(list(broken))) if broken else frame
        normalized, repairs = normalize(good, self.schema, self.headers.sources)
        failures = self.checks.run(normalized)
        parts = [*repairs, failures]
        errors = self._error_indices(parts)
        parts.append(self._duplicates(normalized, errors))
        findings = self._findings(normalized, parts, structural)
        return self._split(frame, normalized, findings)

    # -- helpers ------------------------------------------------------------

    def _severity(self, part: pl.DataFrame) -> pl.DataFrame:
        """Attach each finding's severity from its column's settings."""
        if "severity" in part.columns:
            return part
        mapping = {
            (c.name, code): c.severity_of(code) for c in self.schema.columns for code in c.severity
        }
        default = pl.col("code").replace_strict(
            {code: entry.severity.value for code, entry in CATALOG.items()}
        )
        if not mapping:
            return part.with_columns(default.alias("severity"))
        overrides = pl.DataFrame(
            {
                "column": [k[0] for k in mapping],
                "code": [k[1] for k in mapping],
                "§sev": list(mapping.values()),
            }
        )
        return (
            part.join(overrides, on=["column", "code"], how="left", maintain_order="left")
            .with_columns(pl.coalesce(pl.col("§sev"), default).alias("severity"))
            .drop("§sev")
        )

    def _error_indices(self, parts: list[pl.DataFrame]) -> pl.Series:
        frames = [
            self._severity(p).filter(pl.col("severity") == "error") for p in parts if p.height
        ]
        if not frames:
            return pl.Series(INDEX, [], dtype=pl.Int64)
        return pl.concat([f.select(INDEX) for f in frames])[INDEX].unique()

    def _duplicates(self, frame: pl.DataFrame, errors: pl.Series) -> pl.DataFrame:
        eligible = ~frame[INDEX].is_in(errors.implode())
        if len(self.unique) > 1:
            firsts = self._multi_unique(frame, eligible)
        else:
            firsts = {
                name: seen.first_lines(
                    frame[name], frame[LINE_COLUMN], eligible & frame[ok_col(name)].fill_null(True)
                )
                for name, seen in self.unique.items()
            }
        out = []
        for name, first in firsts.items():
            dups = frame.with_columns(first.alias("§first")).filter(pl.col("§first").is_not_null())
            if dups.height:
                out.append(
                    dups.select(
                        pl.col(INDEX),
                        pl.lit(name).alias("column"),
                        pl.lit("duplicate-value").alias("code"),
                        pl.format(
                            "'{}' already appears on line {}; the first occurrence is kept",
                            pl.col(name),
                            pl.col("§first"),
                        ).alias("message"),
                    )
                )
        return pl.concat(out) if out else pl.DataFrame(schema={INDEX: pl.Int64})

    def _multi_unique(self, frame: pl.DataFrame, eligible: pl.Series) -> dict[str, pl.Series]:
        """Several unique columns: row by row, so that a row rejected as a duplicate in
        one column does not claim its values in the others (keep-first, exactly)."""
        names = list(self.unique)
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

    def _findings(
        self, frame: pl.DataFrame, parts: list[pl.DataFrame], structural: pl.DataFrame
    ) -> pl.DataFrame:
        sources = self.headers.sources
        lookup = frame.select(
            INDEX,
            LINE_COLUMN,
            ROW,
            *[pl.col(s).alias(f"§raw:{n}") for n, s in sources.items() if s],
        )
        frames = [structural]
        for part in parts:
            if not part.height:
                continue
            part = self._severity(part).join(lookup, on=INDEX, how="left")
            raw_value = pl.coalesce(
                [
                    pl.when(pl.col("column") == n).then(pl.col(f"§raw:{n}"))
                    for n, s in sources.items()
                    if s
                ]
            )
            if "value" not in part.columns:
                part = part.with_columns(raw_value.alias("value"))
            frames.append(
                part.select(
                    pl.col(LINE_COLUMN).alias("line"),
                    pl.col(ROW).alias("row"),
                    "column",
                    "value",
                    "code",
                    "severity",
                    "message",
                )
            )
        findings = pl.concat([f.cast(FINDING_SCHEMA) for f in frames])  # type: ignore[arg-type]
        order = {n: i for i, n in enumerate(self.schema.names)}
        return (
            findings.with_columns(pl.col("column").replace_strict(order, default=-1).alias("§o"))
            .sort("row", "§o", maintain_order=True)
            .drop("§o")
        )

    def _split(
        self, frame: pl.DataFrame, normalized: pl.DataFrame, findings: pl.DataFrame
    ) -> BatchResult:
        errors = (
            findings.filter(pl.col("severity") == "error")
            .group_by("row", maintain_order=True)
            .agg(
                pl.format("{}: {}", pl.col("code"), pl.col("message"))
                .str.join("; ")
                .alias("_errors")
            )
        )
        rejected_rows = errors["row"]
        clean = normalized.filter(~pl.col(ROW).is_in(rejected_rows.implode()))
        rejects = frame.join(
            errors, left_on=ROW, right_on="row", how="inner", maintain_order="left"
        ).select(
            *[pl.col(f"c{i}").alias(n) for i, n in enumerate(self.raw_names)],
            pl.col(LINE_COLUMN),
            pl.col("_errors"),
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
            *[pl.col(f"c{i}").alias(n) for i, n in enumerate(self.raw_names)],
            pl.col(LINE_COLUMN),
            pl.lit(self._file_errors).alias("_errors"),
        )
        return BatchResult(
            rows=frame.height,
            clean=pl.DataFrame(schema=dict.fromkeys(self.schema.names, pl.String)),
            clean_index=pl.DataFrame(schema={"line": pl.UInt32, "row": pl.UInt32}),
            rejects=rejects,
            findings=pl.DataFrame(schema=FINDING_SCHEMA),
        )


def _structural_findings(frame: pl.DataFrame, raw: RawBatch, names: list[str]) -> pl.DataFrame:
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


def _unique_names(header: list[str], width: int) -> list[str]:
    """Header names made unique and non-empty, for the rejects file."""
    out: list[str] = []
    seen: set[str] = set()
    for i in range(width):
        base = header[i] if header[i].strip() else f"column_{i + 1}"
        name, n = base, 2
        while name in seen or name in (LINE_COLUMN, "_errors"):
            name, n = f"{base}_{n}", n + 1
        seen.add(name)
        out.append(name)
    return out
