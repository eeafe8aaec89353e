"""Score a bulkprep report against the truth file written by ``bench/generate.py``.

A defect counts as caught when the report has a finding on that row whose code is
the one expected for the defect kind (:data:`EXPECTED`). Also reported:

- defect-free rows that were rejected (any finding with severity ``error``),
  grouped by code with three examples each;
- warnings on defect-free rows, grouped by code (informational: for example
  ``url-scheme-added`` is expected for bare ``www.`` websites);
- whether the ``line`` of each catching finding equals the truth line;
- optionally (``--check-phones CLEAN SOURCE``) that every phone in the clean file
  is phonenumbers' E.164 form of the source value (default region US), with an
  extension appended as ``;ext=NNN`` allowed.

Exit status: 0 when every target is met (100% of every kind caught, at most 0.5%
of defect-free rows rejected, catching findings on the truth line, phones equal
when checked), 1 when a target is missed, 2 when the inputs cannot be read.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

EXPECTED = {
    "bad-email": "invalid-email",
    "malformed-phone": "invalid-phone",
    "missing-email": "missing-value",
    "duplicate-email-exact": "duplicate-value",
    "duplicate-email-case": "duplicate-value",
    "bad-url": "invalid-url",
    "formula": "formula-injection",
    "stray-whitespace": "whitespace-trimmed",
    "mixed-case-email": "email-lowercased",
}
MAX_FALSE_REJECT_PCT = 0.5
EXAMPLES = 3


def load_truth(path: Path) -> dict[int, dict[str, Any]]:
    """Map data row number to ``{"line", "row", "defect", "column"}``."""
    truth: dict[int, dict[str, Any]] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for rec in csv.DictReader(fh):
            row = int(rec["row"])
            truth[row] = {
                "line": int(rec["line"]),
                "row": row,
                "defect": rec["defect"],
                "column": rec["column"],
            }
    return truth


def load_report(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


def _example(f: dict[str, Any]) -> dict[str, Any]:
    return {k: f.get(k) for k in ("line", "row", "column", "value", "message")}


def score(
    truth: dict[int, dict[str, Any]], report: dict[str, Any], rows: int | None = None
) -> dict[str, Any]:
    """Compare a report with the truth; return figures, examples and target verdicts."""
    rows = rows if rows is not None else int(report["rows"])
    by_row: dict[int, list[dict[str, Any]]] = defaultdict(list)
    file_findings = []
    for f in report.get("findings", []):
        if f.get("row") is None:
            file_findings.append(f)
        else:
            by_row[int(f["row"])].append(f)

    kinds: dict[str, dict[str, Any]] = {
        k: {"injected": 0, "caught": 0, "missed": []} for k in EXPECTED
    }
    line_checked = 0
    line_wrong: list[dict[str, Any]] = []
    for row, t in sorted(truth.items()):
        k = kinds.setdefault(t["defect"], {"injected": 0, "caught": 0, "missed": []})
        k["injected"] += 1
        want = EXPECTED.get(t["defect"])
        hits = [f for f in by_row.get(row, []) if f["code"] == want]
        if hits:
            k["caught"] += 1
            line_checked += 1
            if hits[0].get("line") != t["line"]:
                line_wrong.append({**t, "report_line": hits[0].get("line")})
        elif len(k["missed"]) < EXAMPLES:
            codes = sorted({f["code"] for f in by_row.get(row, [])})
            k["missed"].append({**t, "codes_found": codes})
    for k in kinds.values():
        k["pct"] = 100.0 * k["caught"] / k["injected"] if k["injected"] else None

    clean_rows = rows - len(truth)
    rejected_rows: dict[str, set[int]] = defaultdict(set)
    rejected_examples: dict[str, list[dict[str, Any]]] = defaultdict(list)
    warnings: Counter[str] = Counter()
    warning_rows: dict[str, set[int]] = defaultdict(set)
    warning_examples: dict[str, list[dict[str, Any]]] = defaultdict(list)
    false_rejected: set[int] = set()
    for row, fs in by_row.items():
        if row in truth:
            continue
        for f in fs:
            code = f["code"]
            if f.get("severity") == "error":
                false_rejected.add(row)
                rejected_rows[code].add(row)
                if len(rejected_examples[code]) < EXAMPLES:
                    rejected_examples[code].append(_example(f))
            else:
                warnings[code] += 1
                warning_rows[code].add(row)
                if len(warning_examples[code]) < EXAMPLES:
                    warning_examples[code].append(_example(f))
    false_pct = 100.0 * len(false_rejected) / clean_rows if clean_rows else 0.0

    error_rows = {r for r, fs in by_row.items() if any(f.get("severity") == "error" for f in fs)}
    consistency = {
        "report_rows": report.get("rows"),
        "expected_rows": rows,
        "clean_rows": report.get("clean_rows"),
        "rejected_rows": report.get("rejected_rows"),
        "rows_with_error_findings": len(error_rows),
        "adds_up": report.get("clean_rows", 0) + report.get("rejected_rows", 0) == rows
        and report.get("rows") == rows,
    }
    targets = {
        "every defect kind 100% caught": all(
            k["caught"] == k["injected"] for k in kinds.values() if k["injected"]
        ),
        f"defect-free rows rejected <= {MAX_FALSE_REJECT_PCT}%": false_pct <= MAX_FALSE_REJECT_PCT,
        "catching findings carry the truth line": not line_wrong,
        "rows = clean_rows + rejected_rows": consistency["adds_up"],
    }
    return {
        "rows": rows,
        "defective_rows": len(truth),
        "defect_free_rows": clean_rows,
        "kinds": kinds,
        "false_rejections": {
            "rows": len(false_rejected),
            "pct": false_pct,
            "by_code": {
                c: {"rows": len(r), "examples": rejected_examples[c]}
                for c, r in sorted(rejected_rows.items(), key=lambda kv: -len(kv[1]))
            },
        },
        "warnings_on_defect_free_rows": {
            c: {"findings": n, "rows": len(warning_rows[c]), "examples": warning_examples[c]}
            for c, n in warnings.most_common()
        },
        "file_findings": file_findings,
        "line_numbers": {
            "checked": line_checked,
            "wrong": len(line_wrong),
            "examples": line_wrong[:EXAMPLES],
        },
        "consistency": consistency,
        "targets": targets,
    }


def _parse_phone(value: str) -> tuple[str, str] | None:
    """(E.164, extension) of a source value with default region US, or None."""
    import phonenumbers

    try:
        num = phonenumbers.parse(value, "US")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(num):
        return None
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164), num.extension or ""


def check_phones(
    clean: Path,
    source: Path,
    report: dict[str, Any],
    *,
    column: str = "C_BusPhone",
    delimiter: str = ",",
) -> dict[str, Any]:
    """Walk the source rows that were kept next to the clean rows and compare phones."""
    rejected = {
        int(f["row"])
        for f in report.get("findings", [])
        if f.get("row") is not None and f.get("severity") == "error"
    }
    result: dict[str, Any] = {
        "compared": 0,
        "equal": 0,
        "empty": 0,
        "extension_kept": 0,
        "extension_dropped": 0,
        "unparseable_source": 0,
        "mismatches": [],
        "mismatch_count": 0,
        "row_count_ok": True,
    }
    with (
        source.open(encoding="utf-8", newline="") as sf,
        clean.open(encoding="utf-8", newline="") as cf,
    ):
        src = csv.reader(sf, delimiter=delimiter)
        cln = csv.reader(cf)
        s_idx = next(src).index(column)
        c_idx = next(cln).index(column)
        for row_no, srec in enumerate(src, start=1):
            if row_no in rejected:
                continue
            crec = next(cln, None)
            if crec is None:
                result["row_count_ok"] = False
                break
            s_val = srec[s_idx].strip(" \t\u00a0\u200b") if s_idx < len(srec) else ""
            c_val = crec[c_idx] if c_idx < len(crec) else ""
            result["compared"] += 1
            if not s_val:
                ok = c_val == ""
                result["empty"] += ok
            else:
                parsed = _parse_phone(s_val)
                if parsed is None:
                    result["unparseable_source"] += 1
                    continue
                e164, ext = parsed
                base, _, c_ext = c_val.partition(";ext=")
                ok = base == e164 and c_ext in (ext, "")
                if ok and ext:
                    result["extension_kept" if c_ext else "extension_dropped"] += 1
            if ok:
                result["equal"] += 1
            else:
                result["mismatch_count"] += 1
                if len(result["mismatches"]) < EXAMPLES:
                    result["mismatches"].append({"row": row_no, "source": s_val, "clean": c_val})
        if next(cln, None) is not None:
            result["row_count_ok"] = False
    result["ok"] = result["mismatch_count"] == 0 and result["row_count_ok"]
    return result


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}%"


def format_markdown(result: dict[str, Any], phones: dict[str, Any] | None = None) -> str:
    out = [
        f"Rows: {result['rows']:,}; with one injected defect: {result['defective_rows']:,}; "
        f"defect-free: {result['defect_free_rows']:,}",
        "",
        "| defect | expected code | injected | caught | caught % |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for kind, k in result["kinds"].items():
        out.append(
            f"| {kind} | {EXPECTED.get(kind, '?')} | {k['injected']:,} | {k['caught']:,} "
            f"| {_pct(k['pct'])} |"
        )
    missed = [(kind, m) for kind, k in result["kinds"].items() for m in k["missed"]]
    if missed:
        out += ["", "Missed (up to 3 per kind):"]
        for kind, m in missed:
            out.append(
                f"- {kind}: line {m['line']}, row {m['row']}, {m['column']}; "
                f"codes on that row: {', '.join(m['codes_found']) or 'none'}"
            )
    fr = result["false_rejections"]
    out += [
        "",
        f"Defect-free rows rejected: {fr['rows']:,} ({fr['pct']:.3f}%; "
        f"target <= {MAX_FALSE_REJECT_PCT}%)",
    ]
    for code, g in fr["by_code"].items():
        out.append(f"- {code}: {g['rows']:,} rows")
        for e in g["examples"]:
            out.append(f"  - line {e['line']}, {e['column']}: {e['value']!r}: {e['message']}")
    warn = result["warnings_on_defect_free_rows"]
    out += ["", "Warnings on defect-free rows (informational):"]
    if not warn:
        out.append("- none")
    for code, g in warn.items():
        ex = "; ".join(f"{e['column']}={e['value']!r}" for e in g["examples"])
        out.append(f"- {code}: {g['findings']:,} findings on {g['rows']:,} rows (e.g. {ex})")
    if result["file_findings"]:
        out += ["", "File-level findings:"]
        out += [f"- {f['code']}: {f.get('message')}" for f in result["file_findings"]]
    ln = result["line_numbers"]
    out += ["", f"Line numbers: {ln['checked'] - ln['wrong']:,} of {ln['checked']:,} agree"]
    out += [
        f"- row {e['row']}: truth line {e['line']}, report line {e['report_line']}"
        for e in ln["examples"]
    ]
    c = result["consistency"]
    out.append(
        f"Report counts: rows {c['report_rows']}, clean {c['clean_rows']}, rejected "
        f"{c['rejected_rows']}; rows with error findings {c['rows_with_error_findings']:,}"
    )
    if phones is not None:
        out += [
            "",
            f"Phones in the clean file: {phones['equal']:,} of {phones['compared']:,} equal the "
            f"E.164 of the source ({phones['empty']:,} empty; extensions kept "
            f"{phones['extension_kept']:,}, dropped {phones['extension_dropped']:,}; "
            f"unparseable source kept {phones['unparseable_source']:,}); "
            f"clean/source row alignment {'ok' if phones['row_count_ok'] else 'BROKEN'}",
        ]
        out += [
            f"- row {m['row']}: source {m['source']!r}, clean {m['clean']!r}"
            for m in phones["mismatches"]
        ]
    out += ["", "Targets:"]
    targets = dict(result["targets"])
    if phones is not None:
        targets["clean phones equal E.164 of source"] = phones["ok"]
    out += [f"- [{'x' if ok else ' '}] {name}" for name, ok in targets.items()]
    return "\n".join(out)


def all_targets_met(result: dict[str, Any], phones: dict[str, Any] | None = None) -> bool:
    return all(result["targets"].values()) and (phones is None or phones["ok"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Score a bulkprep report JSON against a generator truth file.",
    )
    parser.add_argument("--truth", type=Path, required=True, help="truth CSV from generate.py")
    parser.add_argument("--report", type=Path, required=True, help="bulkprep report JSON")
    parser.add_argument(
        "--rows", type=int, help="data rows in the source file (default: the report's 'rows')"
    )
    parser.add_argument(
        "--check-phones",
        nargs=2,
        metavar=("CLEAN", "SOURCE"),
        type=Path,
        help="also check that clean phones are the E.164 form of the source phones",
    )
    parser.add_argument("--delimiter", default=",", help="delimiter of SOURCE (default ',')")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    try:
        truth = load_truth(args.truth)
        report = load_report(args.report)
    except (OSError, ValueError, KeyError) as exc:
        print(f"fidelity: cannot read inputs: {exc}", file=sys.stderr)
        return 2
    result = score(truth, report, args.rows)
    phones = None
    if args.check_phones:
        clean, source = args.check_phones
        phones = check_phones(clean, source, report, delimiter=args.delimiter)
    print(format_markdown(result, phones))
    if args.json:
        args.json.write_text(
            json.dumps({"fidelity": result, "phones": phones}, indent=2, ensure_ascii=False),
            encoding="utf-8",
        )
    return 0 if all_targets_met(result, phones) else 1


if __name__ == "__main__":
    sys.exit(main())
