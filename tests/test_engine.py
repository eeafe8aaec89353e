"""The engine's pipeline end to end: many small blocks, errors in a late block, and
the report's running counts."""

from __future__ import annotations

import threading
from pathlib import Path

import polars as pl
import pytest

import bulkprep
from bulkprep import EncodingError
from bulkprep.schema import parse_schema

SCHEMA = parse_schema(
    {
        "object": "t",
        "columns": [
            {"name": "Email", "type": "email", "unique": True},
            {
                "name": "Name",
                "type": "string",
                "max_length": 4,
                "severity": {"too-long": "warning"},
            },
            {"name": "Site", "type": "url"},
        ],
    },
    source="test",
)


def _rows(n: int) -> str:
    out = ["Email,Name,Site"]
    for i in range(n):
        email = f"p{i % 700}@example.com" if i % 5 else f"bad{i}.example.com"
        out.append(f"{email},{'Nameless' if i % 3 else 'Ann'},{'www.a.com' if i % 2 else ''}")
    return "\n".join(out) + "\n"


def test_small_blocks_give_the_same_result_as_one(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(_rows(1500), encoding="utf-8")
    results = []
    for batch_bytes in (1024, 64 * 1024 * 1024):
        report = bulkprep.clean(
            SCHEMA,
            source,
            output=tmp_path / f"clean-{batch_bytes}.csv",
            rejects=tmp_path / f"rejects-{batch_bytes}.csv",
            batch_bytes=batch_bytes,
        )
        clean = (tmp_path / f"clean-{batch_bytes}.csv").read_bytes()
        rejects = (tmp_path / f"rejects-{batch_bytes}.csv").read_bytes()
        results.append((report.flat(), report.counts(), clean, rejects))
    assert results[0] == results[1]
    assert report.rows == 1500
    assert report.clean_rows + report.rejected_rows == 1500


def test_running_counts_equal_the_findings(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(_rows(2000), encoding="utf-8")
    report = bulkprep.clean(
        SCHEMA, source, output=tmp_path / "c.csv", rejects=tmp_path / "r.csv", batch_bytes=2048
    )
    frame = report.findings_frame
    by_code = frame.group_by("code").len().sort("code")
    assert report.counts() == dict(by_code.iter_rows())
    assert report.warnings == frame.filter(pl.col("severity") == "warning").height
    assert report.errors == frame.filter(pl.col("severity") == "error").height
    assert report.counts()["too-long"] > 0  # demoted to a warning by the schema
    assert report.warnings >= report.counts()["too-long"]


def test_an_error_in_a_late_block_stops_the_run_and_leaves_no_output(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    data = _rows(1500).encode("utf-8")
    cut = data.index(b"\n", len(data) * 3 // 4) + 1
    source.write_bytes(data[:cut] + b"\xff,x,y\n" + data[cut:])
    line = data[:cut].count(b"\n") + 1
    with pytest.raises(EncodingError, match=f"line {line}:"):
        bulkprep.clean(
            SCHEMA, source, output=tmp_path / "c.csv", rejects=tmp_path / "r.csv", batch_bytes=1024
        )
    assert not (tmp_path / "c.csv").exists()
    assert not (tmp_path / "r.csv").exists()
    pipeline = [t.name for t in threading.enumerate() if t.name.startswith("bulkprep-")]
    assert pipeline == []  # the pipeline's threads are gone


def test_a_file_without_any_schema_column_keeps_its_rows(tmp_path: Path) -> None:
    """No column of the schema in the file: no checks to run, every row is clean."""
    schema = parse_schema({"object": "t", "columns": [{"name": "A"}]}, source="test")
    source = tmp_path / "in.csv"
    source.write_text("B\n1\n2\n", encoding="utf-8")
    report = bulkprep.clean(schema, source, output=tmp_path / "c.csv", rejects=tmp_path / "r.csv")
    assert (report.rows, report.clean_rows, report.rejected_rows) == (2, 2, 0)
    assert report.flat() == [(None, "B", "extra-column"), (None, "A", "missing-column")]
    # one column of empty values: written as "" so that the rows survive reading back
    assert (tmp_path / "c.csv").read_text(encoding="utf-8") == 'A\n""\n""\n'
    again = bulkprep.clean(schema, tmp_path / "c.csv", output=tmp_path / "c2.csv")
    assert (again.rows, again.clean_rows) == (2, 2)


def test_column_names_like_the_working_columns(tmp_path: Path) -> None:
    """Schema columns named like the raw cells or the rejects file's columns stay apart
    from the engine's working columns: raw values and line numbers are right."""
    schema = parse_schema(
        {
            "object": "t",
            "columns": [
                {"name": "c0", "unique": True, "case": "upper"},
                {"name": "_line", "type": "integer"},
            ],
        },
        source="test",
    )
    source = tmp_path / "in.csv"
    source.write_text("c0,_line\n a ,1\nA,2\nb,x\n", encoding="utf-8")
    report = bulkprep.clean(schema, source, output=tmp_path / "c.csv", rejects=tmp_path / "r.csv")
    found = [(f.line, f.column, f.value, f.code) for f in report.findings]
    assert found == [
        (2, "c0", " a ", "whitespace-trimmed"),
        (3, "c0", "A", "duplicate-value"),
        (4, "_line", "x", "invalid-integer"),
    ]
    assert (tmp_path / "c.csv").read_text(encoding="utf-8") == "c0,_line\nA,1\n"
    rejects = (tmp_path / "r.csv").read_text(encoding="utf-8").splitlines()
    assert rejects[0] == "c0,_line_2,_line,_errors"
    assert rejects[1].startswith("A,2,3,duplicate-value: ")


def test_a_column_name_with_the_working_mark_is_refused() -> None:
    with pytest.raises(bulkprep.SchemaError, match=r"columns\[0\] \(A§ok\) > name: .*§"):
        parse_schema({"object": "t", "columns": [{"name": "A§ok"}]}, source="t.yaml")
