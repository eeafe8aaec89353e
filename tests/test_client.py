"""The API client against the real sandbox over loopback sockets: calls, errors, retries,
ambiguous uploads, a fault-heavy run, secrets kept out of sight, and flat upload memory."""

from __future__ import annotations

import csv
import http.server
import json
import logging
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
import traceback
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
import requests
from helpers import posts, write_rows

from bulkprep._exceptions import (
    AmbiguousUploadError,
    ApiError,
    AuthError,
    NotFoundError,
    RateLimitError,
    TransportError,
)
from bulkprep._retry import Retrier, RetryPolicy, server_delay
from bulkprep.client import Client, file_sha256
from bulkprep.config import Settings
from bulkprep.jobs import wait_for_job
from bulkprep.journal import Journal, JournalEntry
from bulkprep.sandbox import FaultPlan, Sandbox, SandboxCredentials
from bulkprep.signature import HEADER, verify_signature

SECRETS = SandboxCredentials(
    user="usr-Zq81-distinctive-4417",
    organization="org-Pw55-distinctive-9902",
    element="elm-Kt73-distinctive-3318",
)
SECRET_VALUES = (SECRETS.user, SECRETS.organization, SECRETS.element)
SAMPLE = Path(__file__).parent.parent / "sample_data" / "contacts.csv"  # the API page's file
with SAMPLE.open(newline="", encoding="utf-8") as _fh:
    SEED_HEADER, *SEED_ROWS = list(csv.reader(_fh, delimiter="\t"))
POST_CONTACT = r"/hubs/marketing/bulk/contact$"


class Sleeps:
    """An injected ``sleep`` that records the waits instead of waiting."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class RecordingSession(requests.Session):
    """A real session that remembers the timeout of every request it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.timeouts: list[Any] = []

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self.timeouts.append(kwargs.get("timeout"))
        return super().request(method, url, *args, **kwargs)


def settings_for(
    base_url: str, creds: SandboxCredentials = SECRETS, timeout: tuple[float, float] = (5, 10)
) -> Settings:
    return Settings(
        base_url=base_url,
        user_secret=creds.user,
        org_secret=creds.organization,
        element_token=creds.element,
        timeout=timeout,
    )


def make_client(
    sb: Sandbox,
    sleeps: Sleeps | None = None,
    *,
    policy: RetryPolicy | None = None,
    creds: SandboxCredentials = SECRETS,
    session: requests.Session | None = None,
) -> Client:
    return Client(
        settings_for(sb.base_url, creds),
        session=session,
        sleep=sleeps if sleeps is not None else Sleeps(),
        retry=policy or RetryPolicy(jitter=lambda: 0.5),
    )


def assert_no_secrets(*texts: str) -> None:
    for text in texts:
        for secret in SECRET_VALUES:
            assert secret not in text


def exception_texts(exc: BaseException) -> list[str]:
    return [str(exc), repr(exc), "".join(traceback.format_exception(exc))]


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(credentials=SECRETS, step_seconds=0.01, faults=FaultPlan(retry_after=0)) as sb:
        yield sb


@pytest.fixture
def seed_csv(tmp_path: Path) -> Path:
    return write_rows(tmp_path / "contacts.csv", SEED_ROWS)


# ---- plain calls ---------------------------------------------------------------------


def test_objects_and_metadata(sandbox: Sandbox) -> None:
    with make_client(sandbox) as client:
        assert "contact" in client.list_objects()
        fields = client.object_metadata("contact")["fields"]
        assert fields[0]["vendorPath"] == "C_EmailAddress"
        with pytest.raises(NotFoundError) as info:
            client.object_metadata("nosuchobject")
    assert info.value.status == 404
    assert "No such object: nosuchobject" in str(info.value)
    assert info.value.request_id and info.value.request_id in str(info.value)


def test_seed_upload_status_errors_and_jobs(sandbox: Sandbox, seed_csv: Path) -> None:
    seen: list[tuple[int, int]] = []
    with make_client(sandbox) as client:
        job = client.create_bulk_upload(
            "contact", seed_csv, progress=lambda done, total: seen.append((done, total))
        )
        assert job.status == "CREATED" and not job.adopted
        assert job.sha256 == file_sha256(seed_csv)
        assert job.remote_name.startswith("contacts-" + job.sha256[:8])
        status = wait_for_job(client, job.id, timeout=10, first_interval=0.01)
        assert status.is_success and status.is_final and not status.is_failure
        assert (status.records_count, status.records_failed_count) == (10, 0)
        assert status.file_name == job.remote_name
        assert list(client.iter_job_errors(job.id)) == []
        jobs = client.list_jobs("object_name='contact'")
    assert [j.id for j in jobs] == [job.id]
    assert {r["C_EmailAddress"] for r in sandbox.records("contact")} == {r[0] for r in SEED_ROWS}
    assert seen[-1][0] == seen[-1][1] and len(set(seen)) == len(seen)
    assert [p[:2] for p in posts(sandbox)] == [("POST", "/hubs/marketing/bulk/contact")]


def test_upload_options_reach_the_server_and_callback_is_signed(
    tmp_path: Path, seed_csv: Path
) -> None:
    received: list[tuple[bytes, str]] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((body, self.headers.get(HEADER, "")))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    key = "callback-key-1234"
    try:
        with Sandbox(credentials=SECRETS, step_seconds=0.01, signature_key=key) as sb:
            with make_client(sb) as client:
                job = client.create_bulk_upload(
                    "contact",
                    seed_csv,
                    remote_name="my-name.csv",
                    identifier_field="C_EmailAddress",
                    action="upsert",
                    callback_url=f"http://127.0.0.1:{hook.server_port}/done",
                )
                wait_for_job(client, job.id, timeout=10, first_interval=0.01)
            (raw,) = sb.jobs()
            deadline = time.monotonic() + 5
            while not received and time.monotonic() < deadline:
                time.sleep(0.01)
    finally:
        hook.shutdown()
    assert (raw["fileName"], raw["action"], raw["identifierFieldName"]) == (
        job.remote_name,
        "upsert",
        "C_EmailAddress",
    )
    assert job.remote_name.startswith("my-name-" + job.sha256[:8] + "-")
    body, signature = received[0]
    assert json.loads(body)["id"] == job.id
    assert verify_signature(body, signature, key)
    assert not verify_signature(body + b"x", signature, key)


def test_errors_follow_every_page(sandbox: Sandbox, tmp_path: Path) -> None:
    rows = [[f"good{i}@x.com"] for i in range(3)] + [[f"bad{i}"] for i in range(5)]
    path = write_rows(tmp_path / "mixed.csv", rows, ["C_EmailAddress"])
    with make_client(sandbox) as client:
        job = client.create_bulk_upload("contact", path)
        status = wait_for_job(client, job.id, timeout=10, first_interval=0.01)
        errors = list(client.iter_job_errors(job.id, page_size=2))
    assert status.records_failed_count == 5
    assert [e["recordNumber"] for e in errors] == [4, 5, 6, 7, 8]
    assert errors[0]["record"] == {"C_EmailAddress": "bad0"} and errors[0]["error"]
    pages = [p for p in sandbox.requests_log if p[1].endswith(f"/bulk/{job.id}/errors")]
    assert len(pages) == 3


def test_job_list_follows_pages(sandbox: Sandbox, seed_csv: Path) -> None:
    with make_client(sandbox) as client:
        ids = [client.create_bulk_upload("account", seed_csv).id for _ in range(3)]
        listed = [j.id for j in client.iter_jobs("object_name='account'", page_size=1)]
        assert client.list_jobs("object_name='contact'") == []
    assert listed == ids[::-1]  # newest first
    assert sum(p[1].endswith("/bulk/jobs") for p in sandbox.requests_log) == 4


def test_cancel(seed_csv: Path) -> None:
    with Sandbox(credentials=SECRETS, step_seconds=5) as sb, make_client(sb) as client:
        job = client.create_bulk_upload("contact", seed_csv)
        assert client.cancel_job(job.id) is True
        status = client.job_status(job.id)
        assert status.is_cancelled and status.is_final and not status.is_success
        assert client.cancel_job(job.id) is False  # 409: already final
        with pytest.raises(NotFoundError):
            client.cancel_job("999")


def test_every_request_has_a_timeout(sandbox: Sandbox, seed_csv: Path) -> None:
    session = RecordingSession()
    with make_client(sandbox, session=session) as client:
        job = client.create_bulk_upload("contact", seed_csv)
        client.job_status(job.id)
        list(client.iter_job_errors(job.id))
        client.list_jobs()
        client.cancel_job(job.id)
    assert len(session.timeouts) == 5
    assert set(session.timeouts) == {(5, 10)}


# ---- errors --------------------------------------------------------------------------


def test_auth_failure_carries_platform_message_not_secrets(sandbox: Sandbox) -> None:
    wrong = SandboxCredentials(
        user=SECRETS.user[::-1], organization=SECRETS.organization, element=SECRETS.element
    )
    with make_client(sandbox, creds=wrong) as client, pytest.raises(AuthError) as info:
        client.list_objects()
    exc = info.value
    assert exc.status == 401 and exc.request_id
    assert "Invalid Organization or User secret" in str(exc)
    assert exc.request_id in str(exc)
    assert_no_secrets(*exception_texts(exc), repr(client))
    for text in exception_texts(exc):
        assert wrong.user not in text


def test_secret_echoed_by_the_server_is_masked(sandbox: Sandbox) -> None:
    with make_client(sandbox) as client, pytest.raises(NotFoundError) as info:
        client.object_metadata(SECRETS.element)  # the server says "No such object: <it>"
    assert "No such object: ****" in str(info.value)
    assert_no_secrets(*exception_texts(info.value))


def test_connection_refused_is_a_transport_error(seed_csv: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps = Sleeps()
    policy = RetryPolicy(max_attempts=3, jitter=lambda: 0.5)
    client = Client(settings_for(f"http://127.0.0.1:{port}/api"), sleep=sleeps, retry=policy)
    with client, pytest.raises(TransportError) as info:
        client.list_objects()
    assert "could not connect" in str(info.value) and "3 attempts" in str(info.value)
    assert sleeps.calls == [0.25, 0.5]
    with client, pytest.raises(TransportError) as upload_info:
        client.create_bulk_upload("contact", seed_csv)
    assert not isinstance(upload_info.value, AmbiguousUploadError)  # it never arrived
    assert len(sleeps.calls) == 4
    for exc in (info.value, upload_info.value):
        assert_no_secrets(*exception_texts(exc))
        assert exc.__cause__ is not None and exc.__cause__.request is None  # type: ignore[attr-defined]


# ---- retries on reads ----------------------------------------------------------------


def test_429_retry_after_is_honoured(seed_csv: Path) -> None:
    sleeps = Sleeps()
    with Sandbox(credentials=SECRETS, faults=FaultPlan(retry_after=7)) as sb:
        sb.inject("429", method="GET", path=r"/objects$", times=2)
        with make_client(sb, sleeps) as client:
            assert "contact" in client.list_objects()
    assert sleeps.calls == [7, 7]


def test_429_retry_after_as_http_date() -> None:
    now = 1_700_000_000.0
    assert server_delay({"Retry-After": formatdate(now + 30, usegmt=True)}, now=now) == 30
    assert server_delay({"retry-after": "12"}, now=now) == 12
    assert server_delay({"X-RateLimit-Reset": str(int(now + 9))}, now=now) == 9
    assert server_delay({"X-RateLimit-Reset": "4"}, now=now) == 4  # seconds from now
    assert server_delay({"Retry-After": formatdate(now - 30, usegmt=True)}, now=now) == 0
    assert server_delay({"Retry-After": "soon"}, now=now) is None
    assert server_delay({}, now=now) is None


def test_backoff_is_full_jitter_and_capped() -> None:
    assert RetryPolicy(jitter=lambda: 0.0).backoff(5) == 0
    top = RetryPolicy(base_delay=1, max_delay=8, jitter=lambda: 1.0)
    assert [top.backoff(n) for n in range(1, 7)] == [1, 2, 4, 8, 8, 8]
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


def test_retrier_limits() -> None:
    sleeps = Sleeps()
    retrier = Retrier(
        RetryPolicy(max_attempts=3, max_server_wait=60), sleep=sleeps, clock=lambda: 0
    )
    assert retrier.pause({"Retry-After": "61"}) is False
    assert "61 s" in retrier.reason and sleeps.calls == []
    assert retrier.pause({"Retry-After": "2"}) and retrier.pause({"Retry-After": "3"})
    assert retrier.pause() is False and "3 attempts" in retrier.reason
    assert sleeps.calls == [2, 3]
    ticks = iter([0.0, 0.0, 100.0])
    budget = Retrier(RetryPolicy(max_elapsed=50), sleep=sleeps, monotonic=lambda: next(ticks))
    assert budget.pause({"Retry-After": "1"}) is True
    assert budget.pause({"Retry-After": "1"}) is False and "in 100 s" in budget.reason


def test_rate_limit_error_after_retries(sandbox: Sandbox) -> None:
    sleeps = Sleeps()
    sandbox.inject("429", method="GET", path=r"/objects$", times=5)
    policy = RetryPolicy(max_attempts=3, jitter=lambda: 0.5)
    with (
        make_client(sandbox, sleeps, policy=policy) as client,
        pytest.raises(RateLimitError) as info,
    ):
        client.list_objects()
    assert "Rate limit exceeded" in str(info.value) and "3 attempts" in str(info.value)
    assert info.value.status == 429 and info.value.request_id


def test_too_long_retry_after_gives_up_at_once(seed_csv: Path) -> None:
    sleeps = Sleeps()
    with Sandbox(credentials=SECRETS, faults=FaultPlan(retry_after=600)) as sb:
        sb.inject("429", method="GET", path=r"/objects$")
        with make_client(sb, sleeps) as client, pytest.raises(RateLimitError) as info:
            client.list_objects()
    assert sleeps.calls == [] and "600 s" in str(info.value)


@pytest.mark.parametrize("kind", ["503", "502", "drop"])
def test_transient_get_faults_are_retried(sandbox: Sandbox, seed_csv: Path, kind: str) -> None:
    sleeps = Sleeps()
    with make_client(sandbox, sleeps) as client:
        job = client.create_bulk_upload("contact", seed_csv)
        sandbox.inject(kind, method="GET", path=r"/status$", times=2)
        assert client.job_status(job.id).id == job.id
    assert sleeps.calls == [0.25, 0.5]
    statuses = [p[2] for p in sandbox.requests_log if p[1].endswith("/status")]
    assert statuses == [None if kind == "drop" else int(kind)] * 2 + [200]


def test_persistent_503_becomes_api_error(sandbox: Sandbox) -> None:
    sandbox.inject("503", method="GET", path=r"/objects$", times=10)
    policy = RetryPolicy(max_attempts=2, jitter=lambda: 0.0)
    with make_client(sandbox, policy=policy) as client, pytest.raises(ApiError) as info:
        client.list_objects()
    assert info.value.status == 503 and "Service unavailable" in str(info.value)


def test_500_on_get_is_not_retried(sandbox: Sandbox) -> None:
    sandbox.inject("500", method="GET", path=r"/objects$")
    with make_client(sandbox) as client, pytest.raises(ApiError) as info:
        client.list_objects()
    assert info.value.status == 500 and len(sandbox.requests_log) == 1


# ---- the upload: retried only when it certainly did not arrive ------------------------


def test_upload_retried_on_429_and_503(sandbox: Sandbox, seed_csv: Path) -> None:
    sleeps = Sleeps()
    sandbox.inject("429", method="POST", path=POST_CONTACT)
    sandbox.inject("503", method="POST", path=POST_CONTACT)
    with make_client(sandbox, sleeps) as client:
        job = client.create_bulk_upload("contact", seed_csv)
    assert not job.adopted and len(sandbox.jobs()) == 1
    assert [p[2] for p in posts(sandbox)] == [429, 503, 200]
    assert sleeps.calls == [0.5]  # Retry-After: 0 (no wait), then backoff


@pytest.mark.parametrize("kind", ["drop", "500", "502"])
def test_ambiguous_upload_is_adopted_not_reposted(
    sandbox: Sandbox, seed_csv: Path, kind: str
) -> None:
    sandbox.inject(kind, method="POST", path=POST_CONTACT, after_handling=True)
    with make_client(sandbox) as client:
        job = client.create_bulk_upload("contact", seed_csv)
        status = wait_for_job(client, job.id, timeout=10, first_interval=0.01)
    assert job.adopted
    assert len(posts(sandbox)) == 1
    (only,) = sandbox.jobs()
    assert only["id"] == job.id and only["fileName"] == job.remote_name
    assert status.is_success and status.records_count == 10


@pytest.mark.parametrize("kind", ["drop", "500"])
def test_ambiguous_upload_not_found_raises(sandbox: Sandbox, seed_csv: Path, kind: str) -> None:
    sleeps = Sleeps()
    sandbox.inject(kind, method="POST", path=POST_CONTACT)  # refused before handling
    with make_client(sandbox, sleeps) as client, pytest.raises(AmbiguousUploadError) as info:
        client.create_bulk_upload("contact", seed_csv)
    message = str(info.value)
    assert "bulkprep jobs" in message and "bulkprep status" in message
    name = message.split("look for the file name ")[1].split(",")[0]
    assert name.startswith("contacts-") and name.endswith(".csv")
    assert isinstance(info.value, TransportError)
    assert sandbox.jobs() == [] and len(posts(sandbox)) == 1
    assert len(sleeps.calls) == 2  # the job list was checked three times
    assert_no_secrets(*exception_texts(info.value))


def test_upload_cut_off_mid_body_is_sent_again(sandbox: Sandbox, tmp_path: Path) -> None:
    # The server hangs up before reading the body: it cannot have the file, so resend.
    path = tmp_path / "big.csv"
    with path.open("w") as fh:
        fh.write("C_EmailAddress,C_FirstName\n")
        fh.writelines(f"u{i}@x.com,{'N' * 40}\n" for i in range(600_000))
    sandbox.inject("drop", method="POST", path=POST_CONTACT)
    with make_client(sandbox) as client:
        job = client.create_bulk_upload("contact", path)
    assert not job.adopted
    assert [p[2] for p in posts(sandbox)] == [None, 200]
    assert [j["id"] for j in sandbox.jobs()] == [job.id]


def test_read_timeout_after_upload_adopts_the_job(seed_csv: Path) -> None:
    class ImpatientPosts(requests.Session):
        def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            if method == "POST":
                kwargs["timeout"] = (5, 0.05)  # the answer comes after 0.3 s
            return super().request(method, url, *args, **kwargs)

    with Sandbox(credentials=SECRETS, latency_ms=300) as sb:
        client = Client(settings_for(sb.base_url), session=ImpatientPosts(), sleep=time.sleep)
        with client:
            job = client.create_bulk_upload("contact", seed_csv)
        assert job.adopted and len(posts(sb)) == 1
        assert [j["id"] for j in sb.jobs()] == [job.id]


def test_lookup_failure_is_still_ambiguous(sandbox: Sandbox, seed_csv: Path) -> None:
    sandbox.inject("drop", method="POST", path=POST_CONTACT, after_handling=True)
    sandbox.inject("500", method="GET", path=r"/bulk/jobs$", times=10)
    with make_client(sandbox) as client, pytest.raises(AmbiguousUploadError) as info:
        client.create_bulk_upload("contact", seed_csv)
    assert "could not be read" in str(info.value) and len(sandbox.jobs()) == 1
    assert len(posts(sandbox)) == 1


def test_fault_heavy_run_makes_one_job_per_upload(tmp_path: Path, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    plan = FaultPlan(rates={"429": 0.1, "503": 0.05, "drop": 0.05}, seed=3, retry_after=0)
    files = [
        write_rows(tmp_path / f"part{k}.csv", [[f"u{k}.{i}@x.com", f"N{i}"] for i in range(5)],
                  ["C_EmailAddress", "C_FirstName"])
        for k in range(30)
    ]  # fmt: skip
    policy = RetryPolicy(max_attempts=10, jitter=lambda: 0.0)
    uploads: dict[str, str] = {}  # remote name -> job id
    adopted = refused = 0
    with Sandbox(credentials=SECRETS, step_seconds=0.005, faults=plan) as sb:
        with make_client(sb, policy=policy) as client:
            for k, path in enumerate(files):
                if k in (3, 8):  # answers lost after the server made the job
                    kind = "drop" if k == 3 else "502"
                    sb.inject(kind, method="POST", path=POST_CONTACT, after_handling=True)
                while True:
                    try:
                        job = client.create_bulk_upload("contact", path)
                        break
                    except AmbiguousUploadError as exc:
                        # What a user does: check it really made no job, then upload again.
                        name = str(exc).split("look for the file name ")[1].split(",")[0]
                        assert [j for j in sb.jobs() if j["fileName"] == name] == []
                        refused += 1
                uploads[job.remote_name] = job.id
                adopted += job.adopted
            faults = [p for p in sb.requests_log if p[2] in (None, 429, 502, 503)]
            finals = [
                wait_for_job(client, job_id, timeout=20, first_interval=0.01)
                for job_id in uploads.values()
            ]
        jobs = sb.jobs()
        records = sb.records("contact")
    assert len(faults) >= 6 and adopted >= 2  # the faults really did get in the way
    assert len(jobs) == len(files)
    assert {j["fileName"]: j["id"] for j in jobs} == uploads
    assert all(s.is_success and s.records_count == 5 for s in finals)
    assert len(records) == 5 * len(files)
    assert_no_secrets(caplog.text)


def test_secrets_never_reach_messages_logs_or_journal(
    sandbox: Sandbox, seed_csv: Path, tmp_path: Path, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    with make_client(sandbox) as client:
        texts += [repr(client), str(client), repr(client.settings)]
        sandbox.inject("drop", method="POST", path=POST_CONTACT, after_handling=True)
        job = client.create_bulk_upload("contact", seed_csv)
        status = wait_for_job(client, job.id, timeout=10, first_interval=0.01)
        texts += [repr(job), repr(status)]
        with pytest.raises(NotFoundError) as missing:
            client.job_status("424242")
        texts += exception_texts(missing.value)
        sandbox.inject("drop", method="POST", path=POST_CONTACT)
        with pytest.raises(AmbiguousUploadError) as ambiguous:
            client.create_bulk_upload("contact", seed_csv)
        texts += exception_texts(ambiguous.value)
    journal = Journal(tmp_path / "journal.sqlite3")
    journal.add(
        JournalEntry(
            job_id=job.id, host=client.settings.host, hub="marketing", object_name="contact",
            remote_name=job.remote_name, source=str(seed_csv), sha256=job.sha256, rows=10,
        )
    )  # fmt: skip
    journal.update(job.id, client.settings.host, status=status.status)
    texts.append(journal.path.read_bytes().decode("utf-8", "replace"))
    texts.append(caplog.text)
    assert len(texts) > 8
    assert_no_secrets(*texts)


# ---- memory ----------------------------------------------------------------------------

_MEMORY_CHILD = textwrap.dedent(
    """
    import json, resource, sys
    from bulkprep.client import Client
    from bulkprep.config import Settings
    base_url, path, user, org, element = sys.argv[1:6]
    settings = Settings(base_url=base_url, user_secret=user, org_secret=org, element_token=element)
    with Client(settings) as client:
        client.list_objects()  # warm up: connection pool, JSON, imports
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        job = client.create_bulk_upload("contact", path, sha256="0" * 64)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"job": job.id, "before_kb": before, "after_kb": after}))
    """
)


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in KiB on Linux")
def test_upload_memory_stays_flat_for_200_mb(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    line = (
        b"someone.long.address@example.com,First,Last,Title,(333) 333-1234,Acme,http://acme.test\n"
    )
    block = line * ((4 << 20) // len(line))
    with path.open("wb") as fh:
        fh.write(",".join(SEED_HEADER).encode() + b"\n")
        while fh.tell() < 200 << 20:
            fh.write(block)
    size_mb = path.stat().st_size / (1 << 20)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    with Sandbox(credentials=SECRETS, fail_jobs=True) as sb:  # fail: do not import 2M rows
        result = subprocess.run(
            [sys.executable, "-c", _MEMORY_CHILD, sb.base_url, str(path), *SECRET_VALUES],
            capture_output=True, text=True, timeout=120, env=env, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-2000:]
        (job,) = sb.jobs()
    figures = json.loads(result.stdout)
    growth_mb = (figures["after_kb"] - figures["before_kb"]) / 1024
    assert size_mb >= 200
    assert figures["job"] == job["id"]
    assert growth_mb < 150, f"peak RSS grew {growth_mb:.0f} MB for a {size_mb:.0f} MB upload"
    assert growth_mb < 0.25 * size_mb
