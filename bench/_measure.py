"""Shared helpers of the benchmark scripts: paths, data sets, tools, measuring, tables.

Standard library only, so that any interpreter (the project's, or the peers
virtualenv's) can import it.

A tool is measured as a child process: started with ``subprocess.Popen`` and
reaped with ``os.wait4``, whose resource usage gives the child's own peak
resident set size (``ru_maxrss``, KiB on Linux). Wall time is
``time.perf_counter`` around start and reap.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
OUT_DIR = BENCH_DIR / "out"
PEERS_VENV = OUT_DIR / "peers-venv"
PEER_PACKAGES = ["frictionless", "csvkit", "duckdb", "matplotlib"]
DEFAULT_SEED = 1

FLOOR_CODE = (
    "import sys, polars as pl; pl.read_csv(sys.argv[1], infer_schema=False).write_csv(sys.argv[2])"
)
DUCKDB_CODE = (
    "import sys, duckdb; "
    'duckdb.sql("COPY (SELECT * FROM read_csv(" + repr(sys.argv[1]) + ", all_varchar=true, '
    'header=true)) TO " + repr(sys.argv[2]) + " (HEADER, DELIMITER \',\')")'
)


@dataclass
class Run:
    """One measured child process."""

    tool: str
    wall_s: float
    peak_rss_mb: float
    returncode: int
    cmd: list[str]
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def measure(
    tool: str,
    cmd: list[str],
    *,
    stdout: Path | None = None,
    env: dict[str, str] | None = None,
    ok_codes: tuple[int, ...] = (0,),
) -> Run:
    """Run ``cmd`` to completion; return wall time, the child's peak RSS and exit code.

    Standard error goes to ``bench/out/logs/<tool>.stderr``; standard output to
    ``stdout`` (or is discarded). An exit code outside ``ok_codes`` is noted in
    ``Run.note`` with the last line of standard error.
    """
    logs = OUT_DIR / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    err_path = logs / f"{tool}.stderr"
    with (
        err_path.open("wb") as err,
        stdout.open("wb") if stdout else open(os.devnull, "wb") as out,
    ):
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=REPO_ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    note = ""
    if proc.returncode not in ok_codes:
        tail = err_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        note = f"exit {proc.returncode}: {tail[-1] if tail else 'no message'} (see {err_path})"
    return Run(tool, wall, usage.ru_maxrss / 1024, proc.returncode, cmd, note)


def median_of(runs: list[Run]) -> dict[str, Any]:
    return {
        "wall_s": statistics.median(r.wall_s for r in runs),
        "peak_rss_mb": statistics.median(r.peak_rss_mb for r in runs),
        "runs": len(runs),
        "returncodes": sorted({r.returncode for r in runs}),
        "notes": sorted({r.note for r in runs if r.note}),
    }


# --------------------------------------------------------------------------- data sets


def dataset(rows: int, seed: int = DEFAULT_SEED) -> tuple[Path, Path]:
    """The cached generated file with ``rows`` rows and its truth file (made if missing)."""
    from generate import generate

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    csv_path = OUT_DIR / f"contacts-{rows}-s{seed}.csv"
    truth_path = OUT_DIR / f"contacts-{rows}-s{seed}.truth.csv"
    if csv_path.exists() and truth_path.exists():
        return csv_path, truth_path
    tmp_csv = csv_path.with_suffix(".csv.part")
    tmp_truth = truth_path.with_suffix(".csv.part")
    print(f"generating {rows:,} rows (seed {seed}) into {rel(csv_path)} ...", file=sys.stderr)
    start = time.perf_counter()
    generate(rows, seed, tmp_csv, tmp_truth)
    tmp_truth.replace(truth_path)
    tmp_csv.replace(csv_path)
    print(f"  done in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return csv_path, truth_path


def prefix_file(src: Path, rows: int) -> Path:
    """A copy of the header and the first ``rows`` records of ``src`` (cached)."""
    import csv

    dst = src.with_name(f"{src.stem}.first{rows}.csv")
    if dst.exists():
        return dst
    tmp = dst.with_suffix(".part")
    with (
        src.open(encoding="utf-8", newline="") as fh,
        tmp.open("w", encoding="utf-8", newline="") as out,
    ):

        def lines():  # copy every physical line the csv reader consumes
            for line in fh:
                out.write(line)
                yield line

        reader = csv.reader(lines())
        for n, _ in enumerate(reader):
            if n == rows:  # header + rows records consumed
                break
    tmp.replace(dst)
    return dst


def data_rows(path: Path) -> int:
    """Count data records of a CSV file (quoted newlines handled)."""
    import csv

    with path.open(encoding="utf-8", newline="") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1


# --------------------------------------------------------------------------- tools


def bulkprep_command() -> tuple[list[str], dict[str, str]]:
    """How to run the bulkprep CLI with the interpreter running this script.

    The console script next to ``sys.executable`` if the package is installed,
    else ``python -m bulkprep`` (or ``-m bulkprep.cli``) with the repository on
    ``PYTHONPATH``. ``BULKPREP_CMD`` (a shell-style command line) overrides both.
    """
    env = dict(os.environ)
    override = os.environ.get("BULKPREP_CMD")
    if override:
        return shlex.split(override), env
    script = Path(sys.executable).with_name("bulkprep")
    if script.exists():
        return [str(script)], env
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    if (REPO_ROOT / "bulkprep" / "__main__.py").exists():
        return [sys.executable, "-m", "bulkprep"], env
    return [sys.executable, "-m", "bulkprep.cli"], env


def bulkprep_available() -> tuple[bool, str]:
    cmd, env = bulkprep_command()
    try:
        proc = subprocess.run(
            [*cmd, "clean", "--help"], capture_output=True, text=True, env=env, cwd=REPO_ROOT
        )
    except OSError as exc:
        return False, str(exc)
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        return False, lines[-1] if lines else f"exit {proc.returncode}"
    return True, " ".join(cmd)


def bulkprep_clean_cmd(src: Path, out_prefix: Path) -> tuple[list[str], dict[str, str], dict]:
    """Command line for ``bulkprep clean contact`` writing next to ``out_prefix``."""
    cmd, env = bulkprep_command()
    paths = {
        "clean": out_prefix.with_name(out_prefix.name + ".clean.csv"),
        "rejects": out_prefix.with_name(out_prefix.name + ".rejects.csv"),
        "report": out_prefix.with_name(out_prefix.name + ".report.json"),
    }
    full = [
        *cmd,
        "clean",
        "contact",
        str(src),
        "-o",
        str(paths["clean"]),
        "--rejects",
        str(paths["rejects"]),
        "--report",
        str(paths["report"]),
    ]
    return full, env, paths


def floor_cmd(src: Path, dst: Path) -> list[str]:
    """polars read_csv (all columns as text) + write_csv, with this interpreter."""
    return [sys.executable, "-c", FLOOR_CODE, str(src), str(dst)]


def peers_python() -> Path:
    return PEERS_VENV / "bin" / "python"


def ensure_peers_venv(packages: list[str] = PEER_PACKAGES) -> Path:
    """Create ``bench/out/peers-venv`` with the peer tools if needed; return its python.

    The peers never go into the project's own environment.
    """
    python = peers_python()
    marker = PEERS_VENV / ".bench-packages"
    if python.exists() and marker.exists() and set(packages) <= set(marker.read_text().split()):
        return python
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    log = OUT_DIR / "logs" / "peers-install.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"installing {' '.join(packages)} into {rel(PEERS_VENV)} ...", file=sys.stderr)
    base = getattr(sys, "_base_executable", sys.executable)
    with log.open("w") as fh:
        if not python.exists():
            subprocess.run([base, "-m", "venv", str(PEERS_VENV)], check=True, stdout=fh, stderr=fh)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", *packages],
            check=True,
            stdout=fh,
            stderr=fh,
        )
    marker.write_text("\n".join(sorted(set(packages))) + "\n")
    return python


def peer_script(name: str) -> str:
    return str(PEERS_VENV / "bin" / name)


# --------------------------------------------------------------------------- reporting


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gb = round(int(line.split()[1]) / 1024**2, 1)
                break
    except OSError:
        pass
    try:
        from importlib.metadata import version

        polars_version = version("polars")
    except Exception:
        polars_version = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gb": ram_gb,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "polars": polars_version,
    }


def machine_line(info: dict[str, Any]) -> str:
    return (
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['ram_gb']} GB RAM, "
        f"{info['os']}; Python {info['python']}, polars {info['polars']}"
    )


def markdown_table(headers: list[str], rows: list[list[Any]], align: str = "") -> str:
    align = align or "l" + "r" * (len(headers) - 1)
    sep = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def rel(path: Path) -> str:
    """``path`` relative to the repository when inside it (for printing)."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
