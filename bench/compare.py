"""Compare ``bulkprep clean`` with a polars floor and peer tools on one generated file.

Tools (``--tools``, default all):

- ``floor``: polars ``read_csv`` (every column as text) + ``write_csv``, in a child
  process of the interpreter running this script (the project's virtualenv);
- ``bulkprep``: ``bulkprep clean contact FILE -o ... --rejects ... --report ...``;
- ``frictionless``: ``frictionless validate`` with ``bench/contact.tableschema.json``;
- ``csvclean``: csvkit's ``csvclean -a`` (all checks), output to a file;
- ``duckdb``: DuckDB ``read_csv`` (all text) + ``COPY ... TO`` a CSV file.

The peer tools are installed into ``bench/out/peers-venv`` (never into the
project's environment). Each tool runs ``--runs`` times, interleaved, as a child
process; the table shows the median wall time, its ratio to the floor and the
median peak RSS of the child (``os.wait4``). Then ``fidelity.py`` scores
bulkprep's report against the truth file. Table, raw runs and fidelity go to
``bench/out/compare-<rows>.json``.

Frictionless is slow. ``--frictionless-rows N`` runs it on the first N rows
only and extrapolates its time linearly to the full file (marked as such in
the table); without it, frictionless runs on the full file.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import _measure as m
import fidelity

TOOLS = ["floor", "bulkprep", "frictionless", "csvclean", "duckdb"]
PEERS = {"frictionless", "csvclean", "duckdb"}
SCHEMA = m.BENCH_DIR / "contact.tableschema.json"

TARGET_RATIO = 3.0
TARGET_SPEEDUP = 25.0
TARGET_RSS_MB = 700.0
TARGET_RSS_ROWS = 1_000_000


def build_commands(
    tools: list[str], src: Path, rows: int, fr_src: Path, work: Path
) -> dict[str, dict[str, Any]]:
    """For each tool: cmd, env, stdout file, accepted exit codes, output paths."""
    cmds: dict[str, dict[str, Any]] = {}
    for tool in tools:
        if tool == "floor":
            cmds[tool] = {"cmd": m.floor_cmd(src, work / "floor.csv")}
        elif tool == "bulkprep":
            cmd, env, paths = m.bulkprep_clean_cmd(src, work / "bulkprep")
            # 1 = rows were rejected, which is expected on a dirty file
            cmds[tool] = {"cmd": cmd, "env": env, "ok": (0, 1), "paths": paths}
        elif tool == "frictionless":
            cmds[tool] = {
                "cmd": [
                    m.peer_script("frictionless"),
                    "validate",
                    "--trusted",
                    "--json",
                    "--limit-errors",
                    str(rows * 10 + 1000),
                    "--schema",
                    m.rel(SCHEMA),
                    m.rel(fr_src),
                ],
                "stdout": work / "frictionless.json",
                "ok": (0, 1),  # 1 = the file is invalid, as intended
            }
        elif tool == "csvclean":
            cmds[tool] = {
                "cmd": [m.peer_script("csvclean"), "-a", str(src)],
                "stdout": work / "csvclean.csv",
                "ok": (0, 1),
            }
        elif tool == "duckdb":
            cmds[tool] = {
                "cmd": [
                    str(m.peers_python()),
                    "-c",
                    m.DUCKDB_CODE,
                    str(src),
                    str(work / "duckdb.csv"),
                ]
            }
    return cmds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Time and peak RSS of bulkprep clean against a polars floor and peers.",
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows (default 1000000)")
    parser.add_argument("--seed", type=int, default=m.DEFAULT_SEED, help="generator seed (1)")
    parser.add_argument("--runs", type=int, default=3, help="runs per tool; median shown (3)")
    parser.add_argument(
        "--tools",
        default=",".join(TOOLS),
        help=f"comma-separated subset of {','.join(TOOLS)} (default all)",
    )
    parser.add_argument(
        "--frictionless-rows",
        type=int,
        help="run frictionless on the first N rows only and extrapolate its time linearly",
    )
    parser.add_argument(
        "--frictionless-runs", type=int, help="runs for frictionless (default: --runs)"
    )
    parser.add_argument("--json", type=Path, help="JSON output (default bench/out/compare-N.json)")
    args = parser.parse_args(argv)
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = set(tools) - set(TOOLS)
    if unknown:
        parser.error(f"unknown tools: {', '.join(sorted(unknown))}")
    tools = [t for t in TOOLS if t in tools]  # floor first, fixed order

    if "bulkprep" in tools:
        ok, what = m.bulkprep_available()
        if not ok:
            print(f"compare: cannot run bulkprep clean ({what})", file=sys.stderr)
            return 2
    src, truth = m.dataset(args.rows, args.seed)
    fr_src, fr_rows = src, args.rows
    if "frictionless" in tools and args.frictionless_rows and args.frictionless_rows < args.rows:
        fr_rows = args.frictionless_rows
        fr_src = m.prefix_file(src, fr_rows)
    if PEERS & set(tools):
        m.ensure_peers_venv()
    work = m.OUT_DIR / "compare"
    work.mkdir(parents=True, exist_ok=True)
    cmds = build_commands(tools, src, args.rows, fr_src, work)

    runs: dict[str, list[m.Run]] = {t: [] for t in tools}
    total_start = time.perf_counter()
    for i in range(max(args.runs, args.frictionless_runs or 0)):
        for tool in tools:
            limit = args.frictionless_runs if tool == "frictionless" else None
            if i >= (limit or args.runs):
                continue
            c = cmds[tool]
            print(f"run {i + 1}: {tool} ...", file=sys.stderr, end="", flush=True)
            run = m.measure(
                tool, c["cmd"], stdout=c.get("stdout"), env=c.get("env"), ok_codes=c.get("ok", (0,))
            )
            print(f" {run.wall_s:.2f} s, {run.peak_rss_mb:.0f} MB", file=sys.stderr)
            if run.note:
                print(f"  {run.note}", file=sys.stderr)
            runs[tool].append(run)

    summary = {t: m.median_of(r) for t, r in runs.items()}
    if "frictionless" in summary and fr_rows != args.rows:
        s = summary["frictionless"]
        s["measured_rows"] = fr_rows
        s["measured_wall_s"] = s["wall_s"]
        s["wall_s"] = s["wall_s"] * args.rows / fr_rows
        s["extrapolated"] = True
    floor = summary.get("floor", {}).get("wall_s")
    table_rows = []
    for tool in tools:
        s = summary[tool]
        wall = f"{s['wall_s']:.2f}" + (" (extrapolated)" if s.get("extrapolated") else "")
        ratio = f"{s['wall_s'] / floor:.2f}x" if floor else "n/a"
        rss = f"{s['peak_rss_mb']:.0f}" + (
            f" (on {s['measured_rows']:,} rows)" if s.get("extrapolated") else ""
        )
        status = "ok" if not s["notes"] else "; ".join(s["notes"])
        table_rows.append([tool, wall, ratio, rss, s["runs"], status])
    table = m.markdown_table(
        ["tool", "median wall s", "ratio to floor", "median peak RSS MB", "runs", "status"],
        table_rows,
        align="lrrrrl",
    )
    info = m.machine_info()
    size_mb = src.stat().st_size / 1e6
    lines = [
        f"## bulkprep clean vs floor and peers: {args.rows:,} rows, {size_mb:.0f} MB "
        f"(seed {args.seed})",
        "",
        table,
        "",
        m.machine_line(info),
        f"Total benchmark time: {time.perf_counter() - total_start:.0f} s",
    ]
    if "frictionless" in summary:
        s = summary["frictionless"]
        if s.get("extrapolated"):
            lines.append(
                f"Frictionless ran on the first {fr_rows:,} rows in {s['measured_wall_s']:.1f} s "
                f"(median); its time is extrapolated linearly to {args.rows:,} rows."
            )
        else:
            lines.append(f"Frictionless took {s['wall_s']:.1f} s (median) on the full file.")

    targets: dict[str, bool | None] = {}
    if "bulkprep" in summary:
        bp = summary["bulkprep"]
        lines += ["", "Targets:"]
        if floor:
            ratio = bp["wall_s"] / floor
            targets[f"bulkprep <= {TARGET_RATIO:g}x floor"] = ratio <= TARGET_RATIO
            lines.append(
                _target(
                    f"bulkprep <= {TARGET_RATIO:g}x floor", ratio <= TARGET_RATIO, f"{ratio:.2f}x"
                )
            )
        if "frictionless" in summary:
            speedup = summary["frictionless"]["wall_s"] / bp["wall_s"]
            ok = speedup >= TARGET_SPEEDUP
            targets[f">= {TARGET_SPEEDUP:g}x faster than frictionless"] = ok
            lines.append(
                _target(f">= {TARGET_SPEEDUP:g}x faster than frictionless", ok, f"{speedup:.1f}x")
            )
        rss_ok = bp["peak_rss_mb"] <= TARGET_RSS_MB
        note = f"{bp['peak_rss_mb']:.0f} MB"
        if args.rows != TARGET_RSS_ROWS:
            note += f" at {args.rows:,} rows; the target is stated for {TARGET_RSS_ROWS:,} rows"
        targets[f"bulkprep peak RSS <= {TARGET_RSS_MB:g} MB at 1M rows"] = rss_ok
        lines.append(_target(f"peak RSS <= {TARGET_RSS_MB:g} MB at 1M rows", rss_ok, note))

    fid = None
    if runs.get("bulkprep"):
        paths = cmds["bulkprep"]["paths"]
        report_path = paths["report"]
        if report_path.exists():
            report = fidelity.load_report(report_path)
            result = fidelity.score(fidelity.load_truth(truth), report)
            phones = None
            if paths["clean"].exists():
                phones = fidelity.check_phones(paths["clean"], src, report)
            fid = {
                "result": result,
                "phones": phones,
                "met": fidelity.all_targets_met(result, phones),
            }
            lines += [
                "",
                "### Fidelity of bulkprep's report",
                "",
                fidelity.format_markdown(result, phones),
            ]
        else:
            lines += ["", f"No bulkprep report at {m.rel(report_path)}; fidelity not scored."]
    print("\n".join(lines))

    out = args.json or m.OUT_DIR / f"compare-{args.rows}.json"
    m.write_json(
        out,
        {
            "rows": args.rows,
            "seed": args.seed,
            "file": m.rel(src),
            "file_mb": size_mb,
            "machine": info,
            "summary": summary,
            "table_markdown": table,
            "targets": targets,
            "runs": {t: [r.to_dict() for r in rs] for t, rs in runs.items()},
            "fidelity": fid,
        },
    )
    print(f"\nWrote {m.rel(out)}", file=sys.stderr)
    failed = any(s["notes"] for s in summary.values())
    return 1 if failed else 0


def _target(name: str, ok: bool, figure: str) -> str:
    return f"- [{'x' if ok else ' '}] {name}: {figure}"


if __name__ == "__main__":
    sys.exit(main())
