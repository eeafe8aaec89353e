"""The CSV reader: table-driven cases, batch boundaries, and a csv-module reference.

Cases live in ``tests/cases/reader/``: an input file ``NAME.ext`` and its sidecar
``NAME.yaml``. A sidecar holds a ``description``, optional ``file`` (another input
of the folder), ``options`` (keyword arguments of ``open_csv``), and either
``expect`` (``encoding``, ``delimiter``, ``header_line``, ``header``, ``rows`` as
``{line, cells}``, ``issues`` as ``[row_index, code]``) or ``error`` (``type`` and
strings the message must contain). ``xfail`` names a known bug.

Every case is read with the default block size and with tiny blocks. Longer
generated inputs, where record boundaries fall inside quoted fields, are compared
with an independent reading by Python's csv module.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import bulkprep
from bulkprep import EncodingError, InputError, open_csv
from bulkprep.reader import DEFAULT_BATCH_BYTES, LINE_COLUMN

ROOT = Path(__file__).resolve().parents[1]
CASES_DIR = Path(__file__).parent / "cases" / "reader"
ERRORS = {"InputError": InputError, "EncodingError": EncodingError}
BATCHES = [DEFAULT_BATCH_BYTES, 1024, 64]  # 64 is clamped to the reader's minimum, 1024


def read_all(source: Any, **options: Any) -> dict[str, Any]:
    """Everything the reader yields, flattened: header, rows with lines, issues."""
    reader = open_csv(source, **options)
    rows: list[dict[str, Any]] = []
    issues: list[list[Any]] = []
    for batch in reader.batches():
        cells = [c for c in batch.frame.columns if c != LINE_COLUMN]
        issues += [[len(rows) + issue.index, issue.code] for issue in batch.issues]
        for record in batch.frame.iter_rows(named=True):
            rows.append({"line": record[LINE_COLUMN], "cells": [record[c] for c in cells]})
    return {
        "encoding": reader.encoding,
        "delimiter": reader.delimiter,
        "header_line": reader.header_line,
        "header": reader.header,
        "rows": rows,
        "issues": issues,
    }


# -- table-driven cases --------------------------------------------------------


def _load_cases() -> dict[str, dict[str, Any]]:
    cases = {}
    for sidecar in sorted(CASES_DIR.glob("*.yaml")):
        case = yaml.safe_load(sidecar.read_text(encoding="utf-8"))
        if "file" in case:
            case["path"] = CASES_DIR / case["file"]
        else:
            (case["path"],) = [
                p for p in CASES_DIR.glob(f"{sidecar.stem}.*") if p.suffix != ".yaml"
            ]
        cases[sidecar.stem] = case
    return cases


CASES = _load_cases()


def _case_params() -> list[Any]:
    params = []
    for name, case in CASES.items():
        marks = [pytest.mark.xfail(strict=True, reason=case["xfail"])] if case.get("xfail") else []
        params.append(pytest.param(name, marks=marks, id=name))
    return params


def check_case(case: dict[str, Any], source: Any, **extra: Any) -> None:
    options = {**case.get("options", {}), **extra}
    if "error" in case:
        error = case["error"]
        with pytest.raises(ERRORS[error["type"]]) as info:
            read_all(source, **options)
        assert type(info.value) is ERRORS[error["type"]]
        message = str(info.value)
        assert "\n" not in message
        for part in error["match"]:
            assert part in message
        return
    got = read_all(source, **options)
    expect = case["expect"]
    for key in ("encoding", "delimiter", "header_line"):
        if key in expect:
            assert got[key] == expect[key], key
    assert got["header"] == expect["header"]
    assert got["rows"] == expect["rows"]
    assert got["issues"] == expect.get("issues", [])


def test_every_case_has_an_input_and_an_outcome() -> None:
    assert len(CASES) >= 40
    for name, case in CASES.items():
        assert case["path"].is_file(), name
        assert case.get("description"), name
        assert ("expect" in case) != ("error" in case), name


@pytest.mark.parametrize("batch_bytes", BATCHES, ids=lambda b: f"batch{b}")
@pytest.mark.parametrize("name", _case_params())
def test_case(name: str, batch_bytes: int) -> None:
    case = CASES[name]
    check_case(case, case["path"], batch_bytes=batch_bytes)


@pytest.mark.parametrize("name", _case_params())
def test_case_from_a_binary_stream(name: str) -> None:
    case = CASES[name]
    check_case(case, io.BytesIO(case["path"].read_bytes()))


CODECS = {"utf-8": "utf-8-sig"}  # reading a case back: strip a UTF-8 BOM, keep it apart


def _repeatable(name: str) -> bool:
    case = CASES[name]
    expect = case.get("expect", {})
    return bool(
        expect.get("rows")
        and not case.get("xfail")
        and all(code != "unterminated-quote" for _, code in expect.get("issues", []))
    )


@pytest.mark.parametrize("name", [n for n in CASES if _repeatable(n)])
def test_case_repeated_across_blocks(name: str, tmp_path: Path) -> None:
    # The case's data lines, repeated past many blocks: every copy reads as the first,
    # its lines shifted by the lines of the copies before it.
    case = CASES[name]
    expect = case["expect"]
    raw = case["path"].read_bytes()
    encoding = read_all(case["path"], **case.get("options", {}))["encoding"]
    text = raw.decode(CODECS.get(encoding, encoding))
    lines = io.StringIO(text, newline="").readlines()  # split at LF, CRLF and lone CR
    first = expect["rows"][0]["line"] - 1
    body = "".join(lines[first:])
    if not body.endswith(("\n", "\r")):
        body += "\r" if "\n" not in text else "\n"
    body_lines = len(io.StringIO(body, newline="").readlines())
    copies = 6000 // len(body.encode("utf-8")) + 2
    long_text = "".join(lines[:first]) + body * copies
    data = long_text.encode(CODECS.get(encoding, encoding))
    if raw.startswith(b"\xef\xbb\xbf"):
        data = b"\xef\xbb\xbf" + data.removeprefix(b"\xef\xbb\xbf")
    path = tmp_path / case["path"].name
    path.write_bytes(data)
    rows, count = expect["rows"], len(expect["rows"])
    expected_rows = [
        {"line": row["line"] + copy * body_lines, "cells": row["cells"]}
        for copy in range(copies)
        for row in rows
    ]
    expected_issues = [
        [index + copy * count, code]
        for copy in range(copies)
        for index, code in expect.get("issues", [])
    ]
    for batch_bytes in [DEFAULT_BATCH_BYTES, 1024, 1500]:
        got = read_all(path, batch_bytes=batch_bytes, **case.get("options", {}))
        assert got["header"] == expect["header"]
        assert got["rows"] == expected_rows, batch_bytes
        assert got["issues"] == expected_issues, batch_bytes


def test_error_messages_name_the_file(tmp_path: Path) -> None:
    empty = tmp_path / "contacts.csv"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match=r"contacts\.csv"):
        open_csv(empty)
    with pytest.raises(InputError, match="is a folder"):
        open_csv(tmp_path)
    with pytest.raises(InputError, match="cannot be read"):
        open_csv(tmp_path / "missing.csv")


# -- standard input --------------------------------------------------------------


def run_cli(args: list[str], stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BULKPREP_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bulkprep", *args],
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        check=False,
    )


def test_standard_input_through_the_command_line() -> None:
    data = (
        b"Email,Phone,First Name\r\n"
        b'ann@example.com,(415) 555-0134,"Ann\r\nMarie"\r\n'
        b"\r\n"
        b"bob@example.com,12345,Bob\r\n"
    )
    done = run_cli(["validate", "contact", "-", "--format", "json"], data)
    assert done.returncode == 1, done.stderr.decode()
    report = json.loads(done.stdout)
    assert report["source"] == "<stdin>"
    assert [report["rows"], report["clean_rows"], report["rejected_rows"]] == [2, 1, 1]
    rowwise = [(f["line"], f["code"]) for f in report["findings"] if f["row"] is not None]
    assert rowwise == [(5, "invalid-phone")]


def test_standard_input_that_is_not_csv_exits_2() -> None:
    done = run_cli(["validate", "contact", "-"], (CASES_DIR / "workbook.xlsx").read_bytes())
    assert done.returncode == 2
    assert b"Traceback" not in done.stderr
    assert b"<stdin>" in done.stderr and b"Excel" in done.stderr


# -- an independent reference ------------------------------------------------------


def reference(text: str, delimiter: str = ",") -> dict[str, Any]:
    """Read ``text`` with the csv module, with start lines by universal newlines.

    Blank and white-space-only lines are skipped; a record with the wrong number of
    cells is a ragged-row issue, padded with empty cells or cut to the header's width.
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader)
    width = len(header)
    rows: list[dict[str, Any]] = []
    issues: list[list[Any]] = []
    previous = reader.line_num
    for record in reader:
        start, previous = previous + 1, reader.line_num
        one_line = reader.line_num == start
        if not record or (one_line and len(record) == 1 and not record[0].strip()):
            continue
        if len(record) != width:
            issues.append([len(rows), "ragged-row"])
        cells = record[:width] + [""] * (width - len(record))
        rows.append({"line": start, "cells": cells})
    return {"header": header, "rows": rows, "issues": issues}


WORDS = ["Ann", "Lee", "Smith, Jr.", "O'Brien", "  padded  ", "", "x" * 60, "1,50", "a;b", "p|q"]
UNICODE = ["Zoë", "Ćirić", "東京", "😀 ok", "naïve café"]
CP1252 = ["Zoë", "café", "€5", "“quoted”"]


def _quote(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"'


def messy_text(
    seed: int,
    *,
    delimiter: str = ",",
    rows: int = 300,
    charset: str = "unicode",
    ragged: bool = True,
    stray_quotes: bool = True,
    lone_cr: bool = True,
) -> str:
    """A deterministic multi-KB CSV text mixing everything a record boundary can hit.

    Always: quoted delimiters, doubled quotes, quoted LF and CRLF, LF and CRLF line
    ends, multi-byte characters. Optionally: ragged rows with blank and
    white-space-only lines; stray quotes inside unquoted fields (also in records
    with quoted newlines, and in the last record); lone CR line ends and lone CRs
    inside quoted fields.
    """
    rnd = random.Random(seed)
    extra = UNICODE if charset == "unicode" else CP1252
    newlines = ["\n", "\r\n", "\r"] if lone_cr else ["\n", "\r\n"]
    width = 4

    def cell() -> str:
        kind = rnd.random()
        if kind < 0.4:
            value = rnd.choice(WORDS + extra)
            if any(ch in value for ch in (delimiter, '"')):
                return _quote(value)
            return value
        if kind < 0.55:
            newline = rnd.choice(newlines)
            return _quote(f"multi{newline}line{delimiter} {rnd.choice(extra)}")
        if kind < 0.65:
            return _quote(f'say "{rnd.choice(extra)}"')
        if kind < 0.75:
            return _quote("\n".join(rnd.choice(WORDS) for _ in range(rnd.randint(2, 4))))
        if kind < 0.82:
            return _quote(rnd.choice(WORDS) + "\r\n\r\n" + rnd.choice(extra))
        if stray_quotes and kind < 0.9:
            return rnd.choice(["5'10\"", "6'1\" tall", 'a"b', 'x"', 'say ""no""'])
        return str(rnd.randint(0, 10**6))

    out = [delimiter.join(["id", "name", "note", "more"]) + "\n"]
    for i in range(rows):
        eol = rnd.choice(newlines)
        roll = rnd.random()
        if ragged and roll < 0.04:
            out.append(eol)
        elif ragged and roll < 0.07:
            out.append(" " * rnd.randint(1, 4) + eol)
        elif ragged and roll < 0.12:
            count = rnd.choice([1, 2, width + 1, width + 3])
            out.append(delimiter.join([str(i)] + [cell() for _ in range(count - 1)]) + eol)
        else:
            out.append(delimiter.join([str(i)] + [cell() for _ in range(width - 1)]) + eol)
    text = "".join(out)
    return text if seed % 2 else text.rstrip("\r\n")  # with and without a last line end


def test_the_generated_inputs_cross_many_batches() -> None:
    text = messy_text(0)
    assert len(text.encode("utf-8")) > 12 * 1024
    expected = reference(text)
    assert len(expected["rows"]) > 250
    cells = [c for r in expected["rows"] for c in r["cells"]]
    assert sum("\n" in c for c in cells) > 50
    assert sum("\r" in c.replace("\r\n", "") for c in cells) > 10
    assert {code for _, code in expected["issues"]} == {"ragged-row"}
    assert sum('"' in c for r in expected["rows"] for c in r["cells"]) > 50
    assert sum(c in ("5'10\"", 'a"b', 'x"') for c in cells) > 20
    stray_and_newline = [
        r
        for r in expected["rows"]
        if any("\n" in c for c in r["cells"])
        and any(c in ("5'10\"", 'a"b', 'x"') for c in r["cells"])
    ]
    assert len(stray_and_newline) > 5


GENERATED = [
    pytest.param(seed, delimiter, encoding, id=f"{seed}-{name}-{encoding}")
    for seed in range(4)
    for delimiter, name, encoding in [
        (",", "comma", "utf-8"),
        (";", "semicolon", "utf-8"),
        ("\t", "tab", "utf-8"),
        (",", "comma", "utf-16"),
        (";", "semicolon", "cp1252"),
    ]
]


@pytest.mark.parametrize(("seed", "delimiter", "encoding"), GENERATED)
def test_generated_input_matches_the_csv_module_at_every_batch_size(
    seed: int, delimiter: str, encoding: str, tmp_path: Path
) -> None:
    text = messy_text(
        seed, delimiter=delimiter, charset="cp1252" if encoding == "cp1252" else "unicode"
    )
    path = tmp_path / "messy.csv"
    path.write_bytes(text.encode(encoding))
    options = {"encoding": encoding} if encoding == "cp1252" else {}
    expected = reference(text, delimiter)
    for batch_bytes in [DEFAULT_BATCH_BYTES, 1024, 1500, 4096]:
        got = read_all(path, batch_bytes=batch_bytes, **options)
        assert got["delimiter"] == delimiter
        assert got["header"] == expected["header"]
        assert got["rows"] == expected["rows"], batch_bytes
        assert got["issues"] == expected["issues"], batch_bytes


@pytest.mark.parametrize("stray_quotes", [False, True], ids=["quoted", "stray-quotes"])
@pytest.mark.parametrize("seed", range(4))
def test_fast_and_exact_parsers_agree(seed: int, stray_quotes: bool, tmp_path: Path) -> None:
    # Without ragged rows and lone CRs the polars fast path can take the blocks; one
    # blank line at the end sends the whole file (one block) to the csv fallback.
    text = messy_text(seed, ragged=False, lone_cr=False, stray_quotes=stray_quotes)
    text = text.rstrip("\r\n") + "\n"
    expected = reference(text)
    fast, exact = tmp_path / "fast.csv", tmp_path / "exact.csv"
    fast.write_bytes(text.encode("utf-8"))
    exact.write_bytes((text + "\n").encode("utf-8"))
    for batch_bytes in [DEFAULT_BATCH_BYTES, 1024]:
        for path in (fast, exact):
            got = read_all(path, batch_bytes=batch_bytes)
            assert got["rows"] == expected["rows"], (path.name, batch_bytes)
            assert got["issues"] == []


def test_a_record_larger_than_a_batch(tmp_path: Path) -> None:
    big = "\r\n".join(f"line {i}, with a comma" for i in range(400))
    text = f'id,note\n1,"{big}"\n2,after\n'
    path = tmp_path / "big.csv"
    path.write_bytes(text.encode("utf-8"))
    for batch_bytes in [DEFAULT_BATCH_BYTES, 1024]:
        got = read_all(path, batch_bytes=batch_bytes)
        assert got["rows"] == [
            {"line": 2, "cells": ["1", big]},
            {"line": 402, "cells": ["2", "after"]},
        ]


def test_unterminated_quote_in_a_long_file(tmp_path: Path) -> None:
    quoted = [f'{i},"q{",;"[i % 2]}{i}","a\r\nb"\r\n' for i in range(100)]
    plain = [f"{i},n{i},x\n" if i % 9 else "\n" for i in range(100, 300)]
    text = "id,name,note\n" + "".join(quoted) + 'bad,"open, never closed\n' + "".join(plain)
    path = tmp_path / "open.csv"
    path.write_bytes(text.encode("utf-8"))
    expected_rows = [
        {"line": 2 + 2 * i, "cells": [str(i), f"q{',;'[i % 2]}{i}", "a\r\nb"]} for i in range(100)
    ]
    expected_rows.append({"line": 202, "cells": ["bad", "open, never closed", ""]})
    expected_rows += [
        {"line": 103 + i, "cells": [str(i), f"n{i}", "x"]} for i in range(100, 300) if i % 9
    ]
    for batch_bytes in [DEFAULT_BATCH_BYTES, 1024, 3000]:
        got = read_all(path, batch_bytes=batch_bytes)
        assert got["rows"] == expected_rows, batch_bytes
        assert got["issues"] == [[100, "unterminated-quote"]]


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252", "utf-16"])
@pytest.mark.parametrize("bad_row", [1, 2, 150, 400])
def test_undecodable_bytes_deep_in_a_long_file_name_their_line(
    encoding: str, bad_row: int, tmp_path: Path
) -> None:
    texts = ["email,name\n"] + [
        f'a{i}@example.com,"two\nlines"\n' if i % 7 == 0 else f"a{i}@example.com,name{i}\n"
        for i in range(400)
    ]
    codec = "utf-16-le" if encoding == "utf-16" else encoding
    bad = {"utf-8": b"\xff", "cp1252": b"\x81", "utf-16": b"\x00\xdc"}[encoding]
    # the bad bytes replace "name" or, in a two-line record, "lines" on its second line
    token = "name" if "name" in texts[bad_row] else "lines"
    before = "".join(texts[:bad_row]) + texts[bad_row].split(token)[0]
    line = 1 + before.count("\n")
    data = [text.encode(codec) for text in texts]
    data[bad_row] = data[bad_row].replace(token.encode(codec), bad)
    if encoding == "utf-16":
        data[0] = b"\xff\xfe" + data[0]  # the BOM
    path = tmp_path / "bad.csv"
    path.write_bytes(b"".join(data))
    options = {"encoding": "cp1252"} if encoding == "cp1252" else {}
    for batch_bytes in [DEFAULT_BATCH_BYTES, 1024]:
        with pytest.raises(EncodingError, match=f"line {line}:.*--encoding"):
            read_all(path, batch_bytes=batch_bytes, **options)


# -- regressions: both parsers and every block size agree --------------------------


def test_stray_quote_and_quoted_newline_in_one_record_across_batches(tmp_path: Path) -> None:
    text = 'id,height,note\n1,5","l1\nl2"\n' + "".join(f"{i},plain,z\n" for i in range(2, 200))
    path = tmp_path / "stray.csv"
    path.write_bytes(text.encode("utf-8"))
    expected = reference(text)
    assert expected["rows"][0] == {"line": 2, "cells": ["1", '5"', "l1\nl2"]}
    assert read_all(path)["rows"] == expected["rows"]
    got = read_all(path, batch_bytes=1024)
    assert got["rows"] == expected["rows"]
    assert got["issues"] == []


def test_lone_cr_line_end_counts_the_same_in_every_batch(tmp_path: Path) -> None:
    text = "id,name\n" + "".join(f"{i},v{i}" + ("\r" if i == 5 else "\n") for i in range(400))
    path = tmp_path / "lone-cr.csv"
    path.write_bytes(text.encode("utf-8"))
    expected = reference(text)
    assert expected["rows"][-1] == {"line": 401, "cells": ["399", "v399"]}
    assert read_all(path)["rows"] == expected["rows"]
    assert read_all(path, batch_bytes=1024)["rows"] == expected["rows"]


def test_lone_cr_inside_a_quoted_cell_counts_the_same_on_both_parsers(tmp_path: Path) -> None:
    fast, exact = tmp_path / "fast.csv", tmp_path / "exact.csv"
    fast.write_bytes(b'a,b\n1,"x\ry"\n2,z\n')
    exact.write_bytes(b'a,b\n1,"x\ry"\n2,z\n\n')  # a trailing blank line: csv fallback
    assert read_all(fast)["rows"] == read_all(exact)["rows"]


def test_whitespace_line_in_a_one_column_file_is_read_the_same_by_both_parsers(
    tmp_path: Path,
) -> None:
    fast, exact = tmp_path / "fast.csv", tmp_path / "exact.csv"
    fast.write_bytes(b"email\nann@example.com\n   \nbob@example.com\n")
    exact.write_bytes(b"email\nann@example.com\n   \nbob@example.com\n\n")
    assert read_all(fast)["rows"] == read_all(exact)["rows"]


def test_header_with_an_unterminated_quote_does_not_validate_clean() -> None:
    # It used to swallow the file into one header name: 0 rows, exit code 0.
    data = b'Email,"Phone\nann@example.com,415 555 0134\nbob@example.com,415 555 0135\n'
    with pytest.raises(InputError, match=r"line 1: .*never closed"):
        bulkprep.validate("contact", io.BytesIO(data))


def test_crlf_split_at_the_end_of_the_first_block_is_not_an_old_mac_file(
    tmp_path: Path,
) -> None:
    header = ",".join(f"column_{i:04d}" for i in range(85))
    header += "x" * (1023 - len(header))  # the header's CR is byte 1024, its LF byte 1025
    assert len(header) == 1023
    width = header.count(",") + 1
    text = header + "\r\n" + "".join(",".join(["v"] * width) + "\r\n" for _ in range(5))
    path = tmp_path / "wide.csv"
    path.write_bytes(text.encode("utf-8"))
    expected = [{"line": n, "cells": ["v"] * width} for n in range(2, 7)]
    assert read_all(path)["rows"] == expected
    assert read_all(path, batch_bytes=1024)["rows"] == expected


def test_structural_issues_reach_the_report_with_their_lines() -> None:
    data = (
        b"Email,First Name,Last Name\r\n"
        b'ann@example.com,"Ann\r\nMarie",Lee\r\n'
        b"\r\n"
        b"bob@example.com,Bob\r\n"
        b"cat@example.com,Cat,Wu,extra\r\n"
        b'dan@example.com,"Dan,Ng\r\n'
        b"eve@example.com,Eve,Ok\r\n"
    )
    for batch_bytes in [DEFAULT_BATCH_BYTES, 1024]:
        report = bulkprep.validate("contact", io.BytesIO(data), batch_bytes=batch_bytes)
        assert (report.rows, report.clean_rows, report.rejected_rows) == (5, 2, 3)
        assert [f for f in report.flat() if f[0] is not None] == [
            (5, None, "ragged-row"),
            (6, None, "ragged-row"),
            (7, None, "unterminated-quote"),
        ]
