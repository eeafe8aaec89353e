"""Where the time of ``bulkprep clean`` goes, stage by stage, on one generated file.

Wraps the engine's stages with timers (in this process only) and prints the seconds
spent in each, summed over every batch: reading (the polars fast path and the csv
fallback), normalizing (its text pass, its type pass with the email and phone fast
paths, the library calls on the residue, and the library verdicts), the checks and
repairs, uniqueness, assembling findings, splitting rows, and writing the clean and
rejects files.

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

SPENT: dict[str, float] = defaultdict(float)


def timed(owner: Any, name: str, label: str) -> None:
    original: Callable[..., Any] = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            SPENT[label] += time.perf_counter() - start

    setattr(owner, name, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-mb", type=int, default=12)
    args = parser.parse_args()
    source, _ = dataset(args.rows)
    stages = [
        (reader, "_parse_fast", "read: polars fast path"),
        (reader.CsvSource, "_parse_slow", "read: csv fallback"),
        (engine, "normalize", "normalize (all)"),
        (normalize, "_text_pass", "  text: trim, NFC, case"),
        (normalize, "_type_pass", "  types, with the email and phone fast paths"),
        (normalize, "_library_pass", "  library residue"),
        (emails, "check_emails", "    email-validator"),
        (phones, "check_phones", "    phonenumbers"),
        (normalize, "_final_pass", "  library verdicts"),
        (checks.CompiledChecks, "flag", "checks and repairs (one pass)"),
        (engine.Engine, "_duplicates", "uniqueness"),
        (engine.Engine, "_findings", "findings"),
        (engine.Engine, "_split", "split clean / rejected"),
        (api.CsvSink, "write", "write clean + rejects"),
        (api.FindingSpool, "add", "spool findings"),
    ]
    for owner, name, label in stages:
        timed(owner, name, label)
    out = OUT_DIR / "profile"
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    report = bulkprep.clean(
        "contact",
        source,
        output=out / "clean.csv",
        rejects=out / "rejects.csv",
        batch_bytes=args.batch_mb * 1024 * 1024,
    )
    total = time.perf_counter() - start
    print(f"## Where the time goes: bulkprep clean, {report.rows:,} rows\n")
    print("| stage | seconds | share |")
    print("| --- | ---: | ---: |")
    for _, _, label in stages:
        print(f"| {label} | {SPENT[label]:.2f} | {SPENT[label] / total:.0%} |")
    print(f"| **total (in process, without start-up)** | {total:.2f} | 100% |")
    print()
    print(machine_line(machine_info()))


if __name__ == "__main__":
    main()
