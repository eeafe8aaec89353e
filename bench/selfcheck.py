"""Check the generator and the fidelity scoring on a small file.

Generates ``--rows`` rows (default 20,000) into ``bench/out/`` and verifies:

- the file reads back with the csv module: header, 7 cells per record, and the
  ``line`` of every truth entry is the physical line where that record starts;
- the same seed gives the same bytes; a different seed does not;
- defect-free rows are clean: lower-case emails valid for email-validator and
  unique case-insensitively, phones that are possible numbers for phonenumbers
  (default region US), http(s) or bare ``www.`` websites, no stray white space,
  no formula prefix, no cell over 100 characters;
- each defective row carries its defect (bad emails are invalid, malformed phones
  are not possible even after letters are read as digits, duplicates repeat an
  earlier email, ...), and the kinds come in roughly equal shares;
- ``fidelity.score`` passes a perfect synthetic report and fails one with a
  missed defect, a wrong line and a false rejection.

Needs ``phonenumbers`` and ``email-validator`` (the project's virtualenv has both).
Prints what it checked and exits 1 on the first failed check.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
from collections import Counter
from pathlib import Path

import fidelity
from _measure import OUT_DIR
from generate import COLUMNS, DEFECT_KINDS, generate

FORMULA_CHARS = ("=", "+", "-", "@", "\t", "\r")
STRAY = " \t\u00a0\u200b"


class CheckFailed(Exception):
    pass


def check(cond: bool, what: str) -> None:
    if not cond:
        raise CheckFailed(what)


def read_records(path: Path) -> list[tuple[int, list[str]]]:
    """(start line, cells) for each record, header included, via csv.reader.line_num."""
    out = []
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        prev = 0
        for rec in reader:
            out.append((prev + 1, rec))
            prev = reader.line_num
    return out


def phone_possible(value: str) -> bool:
    import phonenumbers

    try:
        return phonenumbers.is_possible_number(phonenumbers.parse(value, "US"))
    except phonenumbers.NumberParseException:
        return False


def phone_unreadable(value: str) -> bool:
    """Not possible as written, nor with letters read as digits and noise removed."""
    import phonenumbers

    digits = "".join(
        ch for ch in phonenumbers.convert_alpha_characters_in_number(value) if ch.isdigit()
    )
    return not phone_possible(value) and (not digits or not phone_possible(digits))


def email_valid(value: str) -> bool:
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def url_ok(value: str) -> bool:
    if value.startswith(("http://", "https://")):
        host = value.split("://", 1)[1].split("/", 1)[0]
    elif value.startswith("www."):
        host = value.split("/", 1)[0]
    else:
        return False
    return "." in host and " " not in host and all(host.split("."))


def cell_problem(index: int, value: str) -> bool:
    """True when ``value`` is not a clean cell for column ``index`` (email unchecked for
    uniqueness)."""
    if value != value.strip(STRAY) or len(value) > 100:
        return True
    if index in (1, 2, 3, 5) and value.startswith(FORMULA_CHARS):
        return True  # text columns; a phone may start with '+'
    if index == 0:
        return value != value.lower() or not email_valid(value)
    if index in (1, 2, 5):
        return not value
    if index == 4:
        return bool(value) and not phone_possible(value)
    if index == 6:
        return bool(value) and not url_ok(value)
    return False


def check_file(path: Path, truth_path: Path, rows: int) -> dict[str, int]:
    records = read_records(path)
    check(records[0] == (1, COLUMNS), "header is line 1 with the 7 columns")
    data = records[1:]
    check(len(data) == rows, f"{rows} data records (got {len(data)})")
    check(all(len(r) == 7 for _, r in data), "every record has 7 cells")
    truth = fidelity.load_truth(truth_path)
    for row, t in truth.items():
        check(data[row - 1][0] == t["line"], f"truth line of row {row} is its start line")
    multiline = sum(1 for _, r in data if any("\n" in c for c in r))
    check(multiline > 0, "some records have a line break in a quoted field")

    seen: dict[str, int] = {}
    phones = empties = 0
    for row, (_, rec) in enumerate(data, start=1):
        if row in truth:
            continue
        email = rec[0]
        check(email not in seen, f"row {row}: email {email!r} is unique")
        seen[email] = row
        for i, c in enumerate(rec):
            check(not cell_problem(i, c), f"row {row}: {COLUMNS[i]} {c!r} is clean")
        phones += bool(rec[4])
        empties += sum(1 for c in rec if not c)

    lower_seen = set(seen)
    kinds = Counter()
    for row, t in truth.items():
        rec = data[row - 1][1]
        cell = rec[COLUMNS.index(t["column"])]
        kind = t["defect"]
        kinds[kind] += 1
        if kind == "bad-email":
            check(not email_valid(cell), f"row {row}: bad email {cell!r} is invalid")
        elif kind == "malformed-phone":
            check(phone_unreadable(cell), f"row {row}: malformed phone {cell!r} is unreadable")
        elif kind == "missing-email":
            check(cell == "", f"row {row}: email is empty")
        elif kind == "duplicate-email-exact":
            check(seen.get(cell, row) < row, f"row {row}: {cell!r} repeats an earlier email")
        elif kind == "duplicate-email-case":
            check(
                cell != cell.lower() and seen.get(cell.lower(), row) < row,
                f"row {row}: {cell!r} repeats an earlier email in another case",
            )
        elif kind == "bad-url":
            check(not url_ok(cell), f"row {row}: bad url {cell!r}")
        elif kind == "formula":
            check(cell.startswith(FORMULA_CHARS[:4]), f"row {row}: formula {cell!r}")
        elif kind == "stray-whitespace":
            check(cell != cell.strip(STRAY) and cell.strip(STRAY), f"row {row}: stray {cell!r}")
        elif kind == "mixed-case-email":
            check(
                cell != cell.lower() and email_valid(cell) and cell.lower() not in lower_seen,
                f"row {row}: mixed-case email {cell!r} is valid and unique",
            )
        else:
            raise CheckFailed(f"row {row}: unknown defect {kind!r}")
        for i, other in enumerate(rec):
            if COLUMNS[i] == t["column"]:
                continue
            check(not cell_problem(i, other), f"row {row}: the only defect is {kind}")
    share = len(truth) / rows
    check(0.035 < share < 0.065, f"about 5% defective rows (got {share:.2%})")
    expected = len(truth) / len(DEFECT_KINDS)
    check(
        all(0.6 * expected < kinds[k] < 1.4 * expected for k in DEFECT_KINDS),
        f"kinds in roughly equal shares: {dict(kinds)}",
    )
    return {
        "rows": rows,
        "defective": len(truth),
        "multiline": multiline,
        "phones_checked": phones,
        "empty_cells": empties,
        **kinds,
    }


def check_fidelity(truth_path: Path, rows: int) -> None:
    truth = fidelity.load_truth(truth_path)
    findings = [
        {
            "line": t["line"],
            "row": t["row"],
            "column": t["column"],
            "value": "x",
            "code": fidelity.EXPECTED[t["defect"]],
            "severity": "warning"
            if t["defect"] in ("stray-whitespace", "mixed-case-email")
            else "error",
            "message": "",
        }
        for t in truth.values()
    ]
    rejected = sum(1 for f in findings if f["severity"] == "error")
    report = {
        "object": "contact",
        "source": "t.csv",
        "rows": rows,
        "clean_rows": rows - rejected,
        "rejected_rows": rejected,
        "findings": findings,
    }
    perfect = fidelity.score(truth, report)
    check(fidelity.all_targets_met(perfect), "a perfect report meets every target")
    clean_row = next(r for r in range(1, rows + 1) if r not in truth)
    broken = dict(report)
    broken["findings"] = [
        *({**f, "line": f["line"] + 1} if i == 1 else f for i, f in enumerate(findings[1:])),
        {**findings[1], "row": clean_row, "code": "invalid-email", "severity": "error"},
    ]
    result = fidelity.score(truth, broken)
    missed_kind = truth[findings[0]["row"]]["defect"]
    check(
        result["kinds"][missed_kind]["caught"] == result["kinds"][missed_kind]["injected"] - 1,
        "a dropped finding counts as missed",
    )
    check(result["line_numbers"]["wrong"] == 1, "a wrong line is reported")
    check(result["false_rejections"]["rows"] == 1, "an error on a defect-free row is a rejection")
    check(not fidelity.all_targets_met(result), "a broken report misses a target")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Self-check of generate.py and fidelity.py.")
    parser.add_argument("--rows", type=int, default=20_000, help="rows to generate (20000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (1)")
    args = parser.parse_args(argv)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    a, at = OUT_DIR / "selfcheck-a.csv", OUT_DIR / "selfcheck-a.truth.csv"
    b, bt = OUT_DIR / "selfcheck-b.csv", OUT_DIR / "selfcheck-b.truth.csv"
    c, ct = OUT_DIR / "selfcheck-c.csv", OUT_DIR / "selfcheck-c.truth.csv"
    try:
        generate(args.rows, args.seed, a, at)
        generate(args.rows, args.seed, b, bt)
        generate(args.rows, args.seed + 1, c, ct)
        check(digest(a) == digest(b) and digest(at) == digest(bt), "same seed, same bytes")
        check(digest(a) != digest(c), "another seed, other bytes")
        stats = check_file(a, at, args.rows)
        check_file(c, ct, args.rows)
        check_fidelity(at, args.rows)
    except CheckFailed as exc:
        print(f"selfcheck FAILED: {exc}")
        return 1
    print("selfcheck passed: " + ", ".join(f"{k}={v:,}" for k, v in stats.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
