"""``bulkprep clean`` next to the polars floor on one generated dirty file.

The floor is polars ``read_csv`` (every column as text) + ``write_csv`` in a child
process of this interpreter: the least any polars-based cleaner has to do. Both
run ``--runs`` times, interleaved; the medians of wall time and of the child's
peak RSS are printed side by side, with bulkprep's time as a multiple of the
floor. Targets: at most 3x the floor, at most 700 MB peak RSS at 1M rows.
"""

from __future__ import annotations

import argparse
import sys

import _measure as m

TARGET_RATIO = 3.0
TARGET_RSS_MB = 700.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="bulkprep clean vs the polars floor.")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows (default 1000000)")
    parser.add_argument("--seed", type=int, default=m.DEFAULT_SEED, help="generator seed (1)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each; median shown (3)")
    args = parser.parse_args(argv)

    ok, what = m.bulkprep_available()
    if not ok:
        print(f"clean_vs_floor: cannot run bulkprep clean ({what})", file=sys.stderr)
        return 2
    src, _ = m.dataset(args.rows, args.seed)
    work = m.OUT_DIR / "clean_vs_floor"
    work.mkdir(parents=True, exist_ok=True)
    bp_cmd, bp_env, _ = m.bulkprep_clean_cmd(src, work / "bulkprep")
    floor_runs: list[m.Run] = []
    bp_runs: list[m.Run] = []
    for i in range(args.runs):
        floor_runs.append(m.measure("floor", m.floor_cmd(src, work / "floor.csv")))
        bp_runs.append(m.measure("bulkprep", bp_cmd, env=bp_env, ok_codes=(0, 1)))
        print(
            f"run {i + 1}: floor {floor_runs[-1].wall_s:.2f} s, "
            f"bulkprep {bp_runs[-1].wall_s:.2f} s",
            file=sys.stderr,
        )
    floor, bp = m.median_of(floor_runs), m.median_of(bp_runs)
    ratio = bp["wall_s"] / floor["wall_s"]
    size_mb = src.stat().st_size / 1e6
    print(
        f"## bulkprep clean vs floor: {args.rows:,} rows, {size_mb:.0f} MB, median of {args.runs}"
    )
    print()
    print(
        m.markdown_table(
            ["", "floor (polars read+write)", "bulkprep clean", "bulkprep / floor"],
            [
                [
                    "wall s",
                    f"{floor['wall_s']:.2f}",
                    f"{bp['wall_s']:.2f}",
                    f"{ratio:.2f}x (target <= {TARGET_RATIO:g}x)",
                ],
                [
                    "peak RSS MB",
                    f"{floor['peak_rss_mb']:.0f}",
                    f"{bp['peak_rss_mb']:.0f}",
                    f"{bp['peak_rss_mb'] / floor['peak_rss_mb']:.2f}x "
                    f"(target <= {TARGET_RSS_MB:g} MB at 1M rows)",
                ],
            ],
            align="lrrr",
        )
    )
    print()
    print(m.machine_line(m.machine_info()))
    notes = floor["notes"] + bp["notes"]
    for note in notes:
        print(f"note: {note}")
    return 1 if notes else 0


if __name__ == "__main__":
    sys.exit(main())
