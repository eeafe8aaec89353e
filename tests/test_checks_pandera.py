"""The engine's checks agree with pandera's lazy validation, failure by failure.

bulkprep evaluates a schema's checks as polars expressions in one pass per batch
(``bulkprep.checks``). Here the same constraints are written as a pandera polars
schema with pandera's own built-in checks (``str_length``, ``str_matches``,
``isin``, ``ge``, ``le``, ``nullable``), both are run on the same normalized
batches, and the failures, as (row, column, code), must be the same sets: on every
table-driven case and on random tables.
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path
from typing import Any

import pandera.polars as pa
import polars as pl
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandera.errors import SchemaErrors

from bulkprep.checks import TYPE_CODES
from bulkprep.engine import INDEX, Engine
from bulkprep.normalize import FORMULA_START, normalize, num_col, ok_col
from bulkprep.reader import open_csv
from bulkprep.schema import Schema, load_schema, parse_schema

CASES = yaml.safe_load((Path(__file__).parent / "cases" / "checks" / "cases.yaml").read_text())
Failure = tuple[int, str, str]


Meaning = dict[tuple[str, int | None], tuple[str, str]]


def pandera_schema(schema: Schema, present: set[str]) -> tuple[pa.DataFrameSchema, Meaning]:
    """The schema's checks in pandera, and what each (column, check number) means."""
    columns: dict[str, pa.Column] = {}
    meaning: Meaning = {}
    for col in schema.columns:
        if col.name not in present:
            continue
        checks: list[tuple[pa.Check, str]] = []
        if col.type in TYPE_CODES:
            ok = ok_col(col.name)
            readable = pa.Check(lambda d, ok=ok: d.lazyframe.select(pl.col(ok)))
            checks.append((readable, TYPE_CODES[col.type]))
        if col.min_length is not None:
            checks.append((pa.Check.str_length(min_value=col.min_length), "too-short"))
        if col.max_length is not None:
            checks.append((pa.Check.str_length(max_value=col.max_length), "too-long"))
        if col.pattern is not None:
            checks.append((pa.Check.str_matches(f"^(?:{col.pattern})$"), "pattern-mismatch"))
        if col.values:
            checks.append((pa.Check.isin(list(col.values)), "not-allowed-value"))
        if col.is_text and col.formula == "reject":
            formula = pa.Check(
                lambda d: d.lazyframe.select(~pl.col(d.key).str.contains(FORMULA_START))
            )
            checks.append((formula, "formula-injection"))
        columns[col.name] = pa.Column(
            pl.String, checks=[c for c, _ in checks], nullable=not col.required
        )
        meaning[(col.name, None)] = (col.name, "missing-value")
        for number, (_, code) in enumerate(checks):
            meaning[(col.name, number)] = (col.name, code)
        bounds = []
        if col.type in ("integer", "number") and col.minimum is not None:
            bounds.append(pa.Check.ge(col.minimum))
        if col.type in ("integer", "number") and col.maximum is not None:
            bounds.append(pa.Check.le(col.maximum))
        if bounds:
            columns[num_col(col.name)] = pa.Column(pl.Float64, checks=bounds, nullable=True)
            for number in range(len(bounds)):
                meaning[(num_col(col.name), number)] = (col.name, "out-of-range")
    return pa.DataFrameSchema(columns, strict=False), meaning


def pandera_failures(frame: pl.DataFrame, schema: Schema, present: set[str]) -> set[Failure]:
    checks, meaning = pandera_schema(schema, present)
    try:
        checks.validate(frame, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return set()
    out = set()
    for case in cases.iter_rows(named=True):
        number = None if case["check"] == "not_nullable" else case["check_number"]
        column, code = meaning[(case["column"], number)]
        out.add((int(case["index"]), column, code))
    return out


def engine_failures(path: Path, schema: Schema) -> tuple[set[Failure], set[Failure]]:
    """(bulkprep's failures, pandera's failures) over every batch of ``path``."""
    source = open_csv(path, batch_bytes=256)
    engine = Engine(schema, source)
    present = {k for k, v in engine.headers.sources.items() if v is not None}
    ours: set[Failure] = set()
    theirs: set[Failure] = set()
    offset = 0
    for raw in source.batches():
        broken = {issue.index for issue in raw.issues}
        frame = raw.frame.with_row_index(INDEX).with_columns(pl.col(INDEX).cast(pl.Int64))
        frame = frame.filter(~pl.col(INDEX).is_in(list(broken)))
        normalized, _ = normalize(frame, schema, engine.headers.sources)
        flagged = engine.checks.flag(normalized)
        for rule, name in zip(flagged.rules, flagged.names, strict=True):
            for i in flagged.frame.with_row_index("§i").filter(pl.col(name))["§i"]:
                ours.add((offset + i, rule.column, rule.code))
        failed = pandera_failures(normalized, schema, present)
        theirs |= {(offset + i, column, code) for i, column, code in failed}
        offset += normalized.height
    return ours, theirs


def _schema(spec: Any) -> Schema:
    return load_schema(spec) if isinstance(spec, str) else parse_schema(spec, source="case")


def _checked_cases() -> list[str]:
    """The cases whose rows reach the checks (in the others the header rejects all)."""
    names = []
    for name, case in sorted(CASES.items()):
        source = open_csv(io.BytesIO(case["csv"].encode("utf-8")))
        if not Engine(_schema(case["schema"]), source).headers.fatal:
            names.append(name)
    return names


@pytest.mark.parametrize("name", _checked_cases())
def test_cases_agree_with_pandera(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    source = tmp_path / "input.csv"
    source.write_bytes(case["csv"].encode("utf-8"))
    schema = _schema(case["schema"])
    ours, theirs = engine_failures(source, schema)
    assert ours == theirs


RICH = parse_schema(
    {
        "object": "thing",
        "columns": [
            {"name": "Email", "type": "email", "required": True},
            {"name": "Code", "type": "string", "pattern": "[A-Z]{2}-[0-9]{2}", "min_length": 2},
            {"name": "Name", "type": "string", "max_length": 5, "formula": "reject"},
            {"name": "Tier", "type": "enum", "values": ["Gold", "Silver"]},
            {"name": "Size", "type": "integer", "minimum": 0, "maximum": 99},
            {"name": "Rate", "type": "number", "minimum": -1.5},
            {"name": "When", "type": "date", "required": True},
            {"name": "Site", "type": "url"},
        ],
    },
    source="rich",
)
CELLS = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "a@b.co",
            "A@B.CO",
            "not-an-email",
            "AB-12",
            "ab-12",
            "AB-123",
            "=1+1",
            "-3",
            "+7",
            "Gold",
            "gold",
            "Bronze",
            "0",
            "99",
            "100",
            "-1.5",
            "-1.6",
            "1e3",
            "2026-12-04",
            "2026-02-30",
            "example.com",
            "ftp://example.com",
            "Ünïcode",
            "@home",
        ]
    ),
    st.text(alphabet="aZ09 .-+=@é", max_size=7),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(CELLS, min_size=8, max_size=8), min_size=1, max_size=25))
def test_random_tables_agree_with_pandera(rows: list[list[str]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow([c.name for c in RICH.columns])
            writer.writerows(rows)
        ours, theirs = engine_failures(path, RICH)
    assert ours == theirs
