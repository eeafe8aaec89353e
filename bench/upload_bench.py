"""Upload figures: the client's peak memory while uploading a large file, and the
end-to-end time of ``bulkprep upload --sandbox`` on a generated contact file.

1. A sandbox runs in its own process (``bulkprep sandbox``), so the client's memory
   is measured alone. A CSV of ``--upload-mb`` megabytes (default 1024) is uploaded
   by a child process that calls ``Client.create_bulk_upload``; its peak RSS
   (``ru_maxrss`` via ``os.wait4``) and wall time are printed. The job itself is not
   waited for: this measures the upload path, which must stream.
2. ``bulkprep upload contact FILE --sandbox --skip-invalid`` on the ``--rows`` file
   (default 1,000,000, generated with ``bench/generate.py``): clean, upload to an
   in-process sandbox, wait for the job, reconcile. Wall time, peak RSS and the
   closing summary line are printed.

    python bench/upload_bench.py [--upload-mb 1024] [--rows 1000000] [--skip-large]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import OUT_DIR, REPO_ROOT, dataset, machine_info, machine_line, measure

CLIENT_CODE = """
import sys, time
from bulkprep.client import Client
from bulkprep.config import Settings
settings = Settings(base_url=sys.argv[1], hub="marketing", user_secret="sandbox-user-secret",
                    org_secret="sandbox-org-secret", element_token="sandbox-element-token",
                    timeout=(10.0, 600.0))
with Client(settings) as client:
    start = time.perf_counter()
    job = client.create_bulk_upload("contact", sys.argv[2])
    print(f"job {job.id} created in {time.perf_counter() - start:.1f} s")
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _big_file(megabytes: int) -> Path:
    """A contact CSV of about ``megabytes`` MB, made by repeating a generated block."""
    path = OUT_DIR / f"upload-{megabytes}mb.csv"
    if path.exists() and path.stat().st_size >= megabytes * 1_000_000:
        return path
    block_src, _ = dataset(100_000)
    lines = block_src.read_bytes().split(b"\n", 1)
    header, body = lines[0] + b"\n", lines[1]
    with path.open("wb") as out:
        out.write(header)
        while out.tell() < megabytes * 1_000_000:
            out.write(body)
    return path


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def client_memory(megabytes: int) -> None:
    path = _big_file(megabytes)
    size_mb = path.stat().st_size / 1e6
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="bulkprep-bench-") as tmp:
        server = subprocess.Popen(
            [sys.executable, "-m", "bulkprep", "sandbox", "--port", str(port), "--data", tmp],
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            base = f"http://127.0.0.1:{port}/elements/api-v2"
            run = measure(
                "client-upload",
                [sys.executable, "-c", CLIENT_CODE, base, str(path)],
                env=_env(),
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
    note = f", {run.note}" if run.note else ""
    print(
        f"client upload of {size_mb:,.0f} MB: {run.wall_s:.1f} s wall, "
        f"peak RSS {run.peak_rss_mb:.0f} MB (exit {run.returncode}{note})"
    )


def end_to_end(rows: int) -> None:
    src, _ = dataset(rows)
    with tempfile.TemporaryDirectory(prefix="bulkprep-bench-") as tmp:
        out = Path(tmp)
        stdout = out / "stdout.txt"
        env = _env()
        env["BULKPREP_STATE_DIR"] = str(out / "state")
        run = measure(
            "upload-sandbox",
            [
                sys.executable,
                "-m",
                "bulkprep",
                "upload",
                "contact",
                str(src),
                "--sandbox",
                "--skip-invalid",
                "--max-findings",
                "0",
                "-o",
                str(out / "clean.csv"),
                "--rejects",
                str(out / "rejects.csv"),
            ],
            stdout=stdout,
            env=env,
            ok_codes=(0, 1),
        )
        summary = [ln for ln in stdout.read_text().splitlines() if ln.startswith("read ")]
    print(
        f"upload --sandbox of {rows:,} rows ({src.stat().st_size / 1e6:,.0f} MB): "
        f"{run.wall_s:.1f} s wall, peak RSS {run.peak_rss_mb:.0f} MB, exit {run.returncode}"
    )
    print("  " + (summary[-1] if summary else "(no summary line: see bench/out/logs)"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upload-mb", type=int, default=1024)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip-large", action="store_true", help="skip the big client upload")
    parser.add_argument("--skip-e2e", action="store_true", help="skip the end-to-end run")
    args = parser.parse_args()
    print(machine_line(machine_info()))
    if not args.skip_large:
        client_memory(args.upload_mb)
    if not args.skip_e2e:
        end_to_end(args.rows)


if __name__ == "__main__":
    main()
