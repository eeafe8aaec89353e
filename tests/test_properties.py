"""Property tests: rows in = clean + rejected, cleaning is idempotent, lines are right.

Random contact tables (commas, quotes, newlines, unicode, empty cells, padding,
formula-like starts, plausible and broken emails and phones) are written with
Python's csv module and cleaned with :func:`bulkprep.clean`; the outputs are read
back with the csv module. Start lines are computed from the written text, not by
the reader. Some examples use tiny blocks so records straddle block boundaries.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from helpers import HEADER
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bulkprep
from bulkprep.reader import DEFAULT_BATCH_BYTES

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

TRICKY = [
    "",
    " ",
    "  padded  ",
    ",",
    '"',
    '""',
    "a,b",
    'say "hi"',
    "line1\nline2",
    "line1\r\nline2",
    "old\rmac",
    "\n",
    "trailing\n",
    "=1+2",
    "+1",
    "-5",
    "@home",
    "\tTab",
    "Zoë",
    "Ćirić",
    "東京",
    "😀",
    "e\u0301",  # NFD: e + combining acute
    "\u00a0no-break\u00a0",
    "\u200bzero width",
    "x" * 101,
]
# Any text but surrogates and NUL.
TEXT = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
    max_size=16,
)
CELL = st.one_of(TEXT, st.sampled_from(TRICKY))
EMAIL = st.one_of(
    st.from_regex(
        r"[A-Za-z0-9._+-]{1,10}@[A-Za-z0-9-]{1,8}(\.[A-Za-z0-9-]{1,6})?\.(com|org|COM|io|local)",
        fullmatch=True,
    ),
    st.sampled_from(
        ["ann@example.com", "ANN@EXAMPLE.COM", " bob@example.org ", "bad@", "a..b@x.com", ""]
    ),
    CELL,
)
PHONE = st.one_of(
    st.from_regex(r"(\+?1[ .-]?)?\(?[0-9]{3}\)?[ .-]?[0-9]{3}[ .-]?[0-9]{4}", fullmatch=True),
    st.sampled_from(
        [
            "(415) 555-0134",
            "1-415-555-0134",
            "+1 415 555 0134",
            "415 555 0134 x12",
            "444) 444-1234",
            "12345",
            "+44 20 7946 0958",
            "1-800-FLOWERS",
            "",
        ]
    ),
    CELL,
)
URL = st.one_of(
    st.sampled_from(
        [
            "example.com",
            "https://example.com/a?b=c",
            "HTTP://Example.org",
            "ftp://x.org",
            "www.x.io",
        ]
    ),
    CELL,
)
ROW = st.tuples(EMAIL, CELL, CELL, CELL, PHONE, CELL, URL).map(list)


@st.composite
def tables(draw: Any) -> dict[str, Any]:
    rows = draw(st.lists(ROW, max_size=25))
    lineterminator = draw(st.sampled_from(["\r\n", "\n"]))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    if lineterminator == "\n" and any("\r" in cell for row in rows for cell in row):
        quoting = csv.QUOTE_ALL  # the csv module quotes a lone CR only when it ends lines
    return {
        "rows": rows,
        # blank lines written after these records (skipped by the reader, but counted)
        "blank_after": draw(st.sets(st.integers(0, max(0, len(rows) - 1)), max_size=3)),
        "lineterminator": lineterminator,
        "quoting": quoting,
        "batch_bytes": draw(st.sampled_from([DEFAULT_BATCH_BYTES, 1024])),
    }


def physical_lines(text: str) -> int:
    """Line ends in ``text``: LF, CRLF or a lone CR, as the csv module reads them."""
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def write_table(path: Path, table: dict[str, Any]) -> list[int]:
    """Write the table; return the physical start line of each record (header = 1)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator=table["lineterminator"], quoting=table["quoting"])
    writer.writerow(HEADER)
    starts = []
    for i, row in enumerate(table["rows"]):
        starts.append(1 + physical_lines(buffer.getvalue()))
        writer.writerow(row)
        if i in table["blank_after"]:
            buffer.write(table["lineterminator"])
    path.write_bytes(buffer.getvalue().encode("utf-8"))
    return starts


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def run_clean(folder: Path, source: Path, batch_bytes: int) -> tuple[Any, Path, Path]:
    output, rejects = folder / f"{source.stem}.out.csv", folder / f"{source.stem}.rej.csv"
    report = bulkprep.clean(
        "contact", source, output=output, rejects=rejects, batch_bytes=batch_bytes
    )
    return report, output, rejects


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> Any:
    def make() -> Path:
        return tmp_path_factory.mktemp("table")

    return make


@SETTINGS
@given(table=tables())
def test_every_row_is_clean_or_rejected(folders: Any, table: dict[str, Any]) -> None:
    folder = folders()
    source = folder / "in.csv"
    write_table(source, table)
    report, output, rejects = run_clean(folder, source, table["batch_bytes"])

    assert report.rows == len(table["rows"])
    assert report.rows == report.clean_rows + report.rejected_rows
    clean_records, reject_records = read_csv(output), read_csv(rejects)
    assert clean_records[0] == HEADER
    assert reject_records[0] == [*HEADER, "_line", "_errors"]
    assert len(clean_records) - 1 == report.clean_rows
    assert len(reject_records) - 1 == report.rejected_rows
    rows_with_errors = {f.row for f in report.findings if f.is_error and f.row is not None}
    assert len(rows_with_errors) == report.rejected_rows


@SETTINGS
@given(table=tables())
def test_cleaning_a_clean_file_changes_nothing(folders: Any, table: dict[str, Any]) -> None:
    folder = folders()
    source = folder / "in.csv"
    write_table(source, table)
    first, output, _ = run_clean(folder, source, table["batch_bytes"])
    second, again, _ = run_clean(folder, output, table["batch_bytes"])

    assert again.read_bytes() == output.read_bytes()
    assert [f for f in second.findings if f.is_error] == []
    assert second.flat() == []  # not even a warning: every value is already canonical
    assert (second.rows, second.clean_rows, second.rejected_rows) == (first.clean_rows,) * 2 + (0,)


@SETTINGS
@given(table=tables())
def test_lines_are_where_records_start(folders: Any, table: dict[str, Any]) -> None:
    folder = folders()
    source = folder / "in.csv"
    starts = write_table(source, table)
    report, _, rejects = run_clean(folder, source, table["batch_bytes"])
    record_at = {line: row for line, row in zip(starts, table["rows"], strict=True)}

    for finding in report.findings:
        if finding.row is None:
            assert finding.line is None
            continue
        assert finding.line == starts[finding.row - 1], finding
        if finding.column in HEADER:
            raw = table["rows"][finding.row - 1][HEADER.index(finding.column)]
            assert (finding.value or "") == raw, finding

    rejected_lines = []
    for record in read_csv(rejects)[1:]:
        *cells, line, _errors = record
        rejected_lines.append(int(line))
        assert cells == record_at[int(line)]
    error_rows = {f.row for f in report.findings if f.is_error and f.row is not None}
    assert rejected_lines == sorted(starts[row - 1] for row in error_rows)


def test_a_clean_file_with_an_extension_has_no_findings(tmp_path: Path) -> None:
    # The clean form '+1…;ext=N' used to be flagged phone-repaired when cleaned again.
    source = tmp_path / "in.csv"
    write_table(
        source,
        {
            "rows": [["ann@example.com", "", "", "", "415 555 0134 x12", "", ""]],
            "blank_after": set(),
            "lineterminator": "\n",
            "quoting": csv.QUOTE_MINIMAL,
        },
    )
    first, output, _ = run_clean(tmp_path, source, DEFAULT_BATCH_BYTES)
    assert read_csv(output)[1][4] == "+14155550134;ext=12"
    assert first.flat() == []
    second, _, _ = run_clean(tmp_path, output, DEFAULT_BATCH_BYTES)
    assert second.flat() == []
