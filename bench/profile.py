"""Where the time of ``bulkprep clean`` goes, stage by stage, on one generated file.

``bulkprep clean`` runs its stages in a pipeline of three threads (reading block
n + 2, normalizing and checking block n + 1, uniqueness and splitting block n), so
timers around stages overlap and do not add up. This script therefore makes two runs
in this process:

1. ``bulkprep.clean`` as users run it (pipelined), for the real wall time;
2. the same stages one after another in one thread, each wrapped with a timer, so
   the seconds add up: reading (the polars fast path and the csv fallback),
   normalizing (the text pass, the type pass with the email and phone fast paths,
   the library calls on the residue, the library verdicts), the checks and repairs,
   uniqueness, assembling findings, splitting rows, writing the clean and rejects
   files, and spooling findings.

Start-up (importing polars and the libraries) is not included; the report JSON is not
written.

    python bench/profile.py [--rows 1000000] [--batch-mb 12]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _measure import OUT_DIR, dataset, machine_info, machine_line

import bulkprep
from bulkprep import api, checks, emails, engine, normalize, phones, reader
from bulkprep.schema import load_schema

SPENT: dict[str, float] = defaultdict(float)
STAGES = [
    (reader, "_parse_fast", "read: polars fast path (parse + exactness checks)"),
    (reader.CsvSource, "_parse_slow", "read: csv fallback"),
    (engine, "normalize", "normalize (all)"),
    (normalize, "_text_pass", "&nbsp;&nbsp;text: trim, NFC, case"),
    (normalize, "_type_pass", "&nbsp;&nbsp;types, with the email and phone fast paths"),
    (normalize, "_library_pass", "&nbsp;&nbsp;library residue"),
    (emails, "check_emails", "&nbsp;&nbsp;&nbsp;&nbsp;email-validator"),
    (phones, "check_phones", "&nbsp;&nbsp;&nbsp;&nbsp;phonenumbers"),
    (normalize, "_final_pass", "&nbsp;&nbsp;library verdicts"),
    (checks.CompiledChecks, "flag", "checks and repairs (one pass)"),
    (engine.Engine, "_duplicates", "uniqueness"),
    (engine.Engine, "_findings", "findings"),
    (engine.Engine, "_split", "split clean / rejected"),
    (api.CsvSink, "write", "write clean + rejects"),
    (api.FindingSpool, "add", "spool findings"),
]
TOP_LEVEL = {  # the stages that do not contain one another: these add up
    "read: polars fast path (parse + exactness checks)",
    "read: csv fallback",
    "normalize (all)",
    "checks and repairs (one pass)",
    "uniqueness",
    "findings",
    "split clean / rejected",
    "write clean + rejects",
    "spool findings",
}


def timed(owner: Any, name: str, label: str) -> None:
    original: Callable[..., Any] = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            SPENT[label] += time.perf_counter() - start

    setattr(owner, name, wrapper)


def serial(source: Path, out: Path, batch_bytes: int) -> tuple[float, int]:
    """The engine's stages one after another in this thread; (seconds, rows)."""
    schema = load_schema("contact")
    start = time.perf_counter()
    csv_source = reader.open_csv(source, batch_bytes=batch_bytes)
    eng = engine.Engine(schema, csv_source)
    clean = api.CsvSink(out / "serial.clean.csv", schema.names)
    rejects = api.CsvSink(
        out / "serial.rejects.csv", [*eng.raw_names, engine.REJECTS_LINE, engine.REJECTS_ERRORS]
    )
    spool = api.FindingSpool()
    rows = 0
    for raw in csv_source.batches():
        batch = eng._finish(eng._check(raw, eng._number(raw)))
        clean.write(batch.clean)
        rejects.write(batch.rejects)
        spool.add(batch.findings)
        rows += batch.rows
    clean.commit()
    rejects.commit()
    return time.perf_counter() - start, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-mb", type=int, default=12)
    args = parser.parse_args()
    source, _ = dataset(args.rows)
    out = OUT_DIR / "profile"
    out.mkdir(parents=True, exist_ok=True)
    batch_bytes = args.batch_mb * 1024 * 1024

    start = time.perf_counter()
    report = bulkprep.clean(
        "contact",
        source,
        output=out / "clean.csv",
        rejects=out / "rejects.csv",
        batch_bytes=batch_bytes,
    )
    pipelined = time.perf_counter() - start

    emails.check_email.cache_clear()  # start the second run as cold as the first
    phones.check_phone.cache_clear()
    for owner, name, label in STAGES:
        timed(owner, name, label)
    total, rows = serial(source, out, batch_bytes)
    assert rows == report.rows

    print(f"## Where the time goes: bulkprep clean, {report.rows:,} rows\n")
    print(f"Pipelined (as `bulkprep clean` runs): {pipelined:.2f} s in process.")
    print(f"The same stages one after another in one thread: {total:.2f} s:\n")
    print("| stage | seconds | share |")
    print("| --- | ---: | ---: |")
    for _, _, label in STAGES:
        print(f"| {label} | {SPENT[label]:.2f} | {SPENT[label] / total:.0%} |")
    rest = total - sum(SPENT[label] for label in TOP_LEVEL)
    other = "other (cutting blocks at record boundaries, the loop)"
    print(f"| {other} | {rest:.2f} | {rest / total:.0%} |")
    print(f"| **total (serial, without start-up)** | **{total:.2f}** | 100% |")
    print()
    print(machine_line(machine_info()))


if __name__ == "__main__":
    main()
