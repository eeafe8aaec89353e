"""Table-driven engine cases from tests/cases/checks/cases.yaml.

Each case may list ``ignore`` codes left out of the comparison (most cases use
only some of the contact columns and are not about the missing-column warnings).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
import yaml

import bulkprep
from bulkprep.schema import parse_schema

CASES = yaml.safe_load((Path(__file__).parent / "cases" / "checks" / "cases.yaml").read_text())


def _schema(spec: Any) -> Any:
    return spec if isinstance(spec, str) else parse_schema(spec, source="case")


@pytest.mark.parametrize("batch_bytes", [16 * 1024 * 1024, 1024])
@pytest.mark.parametrize("name", sorted(CASES))
def test_case(name: str, batch_bytes: int, tmp_path: Path) -> None:
    case = CASES[name]
    source = tmp_path / "input.csv"
    source.write_bytes(case["csv"].encode("utf-8"))
    report = bulkprep.clean(
        _schema(case["schema"]),
        source,
        output=tmp_path / "clean.csv",
        rejects=tmp_path / "rejects.csv",
        batch_bytes=batch_bytes,
    )
    ignore = set(case.get("ignore", []))
    assert [list(f) for f in report.flat() if f[2] not in ignore] == case["findings"]
    assert [report.rows, report.clean_rows, report.rejected_rows] == case["rows"]
    with (tmp_path / "clean.csv").open(newline="", encoding="utf-8") as fh:
        clean = list(csv.reader(fh))[1:]
    with (tmp_path / "rejects.csv").open(newline="", encoding="utf-8") as fh:
        rejects = list(csv.reader(fh))[1:]
    assert len(clean) == report.clean_rows
    assert len(rejects) == report.rejected_rows
    if "clean" in case:
        assert clean == case["clean"]
