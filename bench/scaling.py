"""Wall time and peak RSS of ``bulkprep clean`` as the file grows.

For each size in ``--sizes`` (default 100k, 1M, 5M, 10M rows) the generated file
is taken from ``bench/out/`` (made if missing; 10M rows is about 1.3 GB), cleaned
``--runs`` times, and the medians are tabulated. The figures go to
``bench/out/scaling.json`` and a PNG plot (time and peak RSS against rows, two
panels) to ``--plot`` (default ``docs/performance-scaling.png``). The plot is
drawn by this same script re-run under the peers virtualenv
(``bench/out/peers-venv``), which has matplotlib; the project's environment does
not need it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import _measure as m

DEFAULT_SIZES = "100000,1000000,5000000,10000000"


def plot(data: dict[str, Any], png: Path) -> None:
    """Draw time and peak RSS against rows (needs matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    points = data["points"]
    rows = [p["rows"] for p in points]
    wall = [p["wall_s"] for p in points]
    rss = [p["peak_rss_mb"] for p in points]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    ax1.plot(rows, wall, marker="o", color="tab:blue")
    ax1.set_title("Wall time")
    ax1.set_xlabel("rows")
    ax1.set_ylabel("seconds")
    ax2.plot(rows, rss, marker="o", color="tab:orange")
    ax2.set_title("Peak RSS")
    ax2.set_xlabel("rows")
    ax2.set_ylabel("MB")
    for ax, ys, fmt in ((ax1, wall, "{:.1f} s"), (ax2, rss, "{:.0f} MB")):
        ax.grid(True, alpha=0.3)
        ax.margins(x=0.1, y=0.15)
        ax.set_xlim(left=0)
        ax.set_ylim(bottom=0)
        ax.xaxis.set_major_formatter(
            matplotlib.ticker.FuncFormatter(lambda x, _: f"{x / 1e6:g}M" if x else "0")
        )
        for x, y in zip(rows, ys, strict=True):
            ax.annotate(fmt.format(y), (x, y), textcoords="offset points", xytext=(4, 6))
    machine = data["machine"]
    fig.suptitle(
        f"bulkprep clean contact: {machine['cpu']}, {machine['cores']} cores, "
        f"Python {machine['python']}, polars {machine['polars']}",
        fontsize=9,
    )
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Time and peak RSS of bulkprep clean at growing sizes, with a PNG plot.",
    )
    parser.add_argument(
        "--sizes", default=DEFAULT_SIZES, help=f"comma-separated row counts ({DEFAULT_SIZES})"
    )
    parser.add_argument("--seed", type=int, default=m.DEFAULT_SEED, help="generator seed (1)")
    parser.add_argument("--runs", type=int, default=1, help="runs per size; median shown (1)")
    parser.add_argument(
        "--plot",
        type=Path,
        default=m.REPO_ROOT / "docs" / "performance-scaling.png",
        help="PNG to write (default docs/performance-scaling.png)",
    )
    parser.add_argument("--no-plot", action="store_true", help="skip the PNG")
    parser.add_argument(
        "--json", type=Path, default=m.OUT_DIR / "scaling.json", help="figures as JSON"
    )
    parser.add_argument("--plot-from", type=Path, help=argparse.SUPPRESS)  # re-exec entry
    args = parser.parse_args(argv)

    if args.plot_from:
        plot(json.loads(args.plot_from.read_text(encoding="utf-8")), args.plot)
        return 0

    sizes = sorted({int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()})
    ok, what = m.bulkprep_available()
    if not ok:
        print(f"scaling: cannot run bulkprep clean ({what})", file=sys.stderr)
        return 2
    work = m.OUT_DIR / "scaling"
    work.mkdir(parents=True, exist_ok=True)
    points = []
    notes = []
    for rows in sizes:
        src, _ = m.dataset(rows, args.seed)
        cmd, env, _ = m.bulkprep_clean_cmd(src, work / f"bulkprep-{rows}")
        runs = []
        for i in range(args.runs):
            run = m.measure("bulkprep", cmd, env=env, ok_codes=(0, 1))
            print(
                f"{rows:,} rows, run {i + 1}: {run.wall_s:.2f} s, {run.peak_rss_mb:.0f} MB",
                file=sys.stderr,
            )
            runs.append(run)
        s = m.median_of(runs)
        notes += s["notes"]
        points.append(
            {
                "rows": rows,
                "file_mb": src.stat().st_size / 1e6,
                "wall_s": s["wall_s"],
                "peak_rss_mb": s["peak_rss_mb"],
                "runs": [r.to_dict() for r in runs],
            }
        )
    info = m.machine_info()
    table = m.markdown_table(
        ["rows", "file MB", "median wall s", "rows/s", "median peak RSS MB"],
        [
            [
                f"{p['rows']:,}",
                f"{p['file_mb']:.0f}",
                f"{p['wall_s']:.2f}",
                f"{p['rows'] / p['wall_s']:,.0f}",
                f"{p['peak_rss_mb']:.0f}",
            ]
            for p in points
        ],
    )
    print(f"## bulkprep clean scaling (median of {args.runs})\n")
    print(table)
    print()
    print(m.machine_line(info))
    for note in notes:
        print(f"note: {note}")
    data = {"machine": info, "seed": args.seed, "points": points, "table_markdown": table}
    m.write_json(args.json, data)
    print(f"Wrote {m.rel(args.json)}", file=sys.stderr)
    if not args.no_plot:
        python = m.ensure_peers_venv()
        subprocess.run(
            [str(python), __file__, "--plot-from", str(args.json), "--plot", str(args.plot)],
            check=True,
        )
        print(f"Wrote {m.rel(args.plot)}", file=sys.stderr)
    return 1 if notes else 0


if __name__ == "__main__":
    sys.exit(main())
