"""The library ``upload()`` against the real sandbox over loopback: clean, guard, chunk,
journal, wait, and reconcile server refusals back to source lines. Every row read must
end up imported, rejected here, or refused by the server — also through faults."""

from __future__ import annotations

import csv
import json
import logging
import shutil
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers import HEADER, SECRET_VALUES, SECRETS, person, posts, read_csv, write_rows

from bulkprep._exceptions import (
    AmbiguousUploadError,
    AuthError,
    BulkprepError,
    ConfigError,
    DuplicateUploadError,
    OutputError,
    WaitInterrupted,
    WaitTimeout,
)
from bulkprep._retry import RetryPolicy
from bulkprep.client import Client
from bulkprep.config import Settings
from bulkprep.jobs import file_sha256, wait_for_job
from bulkprep.journal import Journal
from bulkprep.sandbox import FaultPlan, Sandbox, SandboxCredentials
from bulkprep.upload import UploadResult, upload

SAMPLE = Path(__file__).parent.parent / "sample_data" / "contacts.csv"
SAMPLE_EMAILS = [
    "norm.smith@acme.com",
    "john@acmepublishing.com",
    "ann@acmedata.com",
    "doug.smith@acmemarketing.com",
    "chuck@acmefinance.com",
    "frank@acmebilling.com",
    "melissa@acmeresources.com",
    "shooter@acmetechnology.com",
    "penny@acmeeducation.com",
    "ron.bergandy@acmecommunications.com",
]
POST_CONTACT = r"/bulk/contact$"
FAST = {"poll_first": 0.02, "poll_max": 0.05}
REFUSED = "Email address already exists"


# -- helpers and fixtures -------------------------------------------------------------


def make_client(
    sb: Sandbox,
    state_dir: Path,
    *,
    creds: SandboxCredentials = SECRETS,
    policy: RetryPolicy | None = None,
) -> Client:
    settings = Settings(
        base_url=sb.base_url,
        hub="marketing",
        user_secret=creds.user,
        org_secret=creds.organization,
        element_token=creds.element,
        timeout=(5, 10),
        state_dir=state_dir,
    )
    return Client(settings, retry=policy or RetryPolicy(base_delay=0.01, max_delay=0.05))


def run(client: Client | None, journal: Journal | None, source: Path, **kw: Any) -> UploadResult:
    return upload("contact", source, client=client, journal=journal, **FAST, **kw)


def record_lines(path: Path, delimiter: str = ",") -> list[int]:
    """The physical line on which each data record starts (the header is line 1)."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        next(reader)
        starts, end = [], reader.line_num
        for _ in reader:
            starts.append(end + 1)
            end = reader.line_num
    return starts


def flat(result: UploadResult) -> list[tuple[int | None, str | None, str]]:
    return [(f.line, f.column, f.code) for f in result.report.findings]


def accounted(result: UploadResult) -> bool:
    return result.read == result.rejected + result.imported + result.refused


def copy_sample(tmp_path: Path, name: str = "contacts.csv") -> Path:
    target = tmp_path / name
    shutil.copyfile(SAMPLE, target)
    return target


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(credentials=SECRETS, step_seconds=0.01, faults=FaultPlan(retry_after=0)) as sb:
        yield sb


@pytest.fixture
def client(sandbox: Sandbox, tmp_path: Path) -> Iterator[Client]:
    with make_client(sandbox, tmp_path) as c:
        yield c


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "journal.sqlite3")


# -- the seed flow ----------------------------------------------------------------------


def test_sample_file_is_cleaned_uploaded_and_journaled(
    sandbox: Sandbox, client: Client, journal: Journal, tmp_path: Path
) -> None:
    source = copy_sample(tmp_path)
    events: list[str] = []
    result = run(
        client,
        journal,
        source,
        report=tmp_path / "report.json",
        on_event=lambda kind, **_: events.append(kind),
    )
    assert result.state == "finished"
    assert (result.read, result.rejected, result.imported, result.refused) == (10, 0, 10, 0)
    assert result.exit_code == 0
    assert flat(result) == [(4, "C_BusPhone", "phone-repaired")]
    assert [r["C_EmailAddress"] for r in sandbox.records("contact")] == SAMPLE_EMAILS
    assert sandbox.records("contact")[0]["C_BusPhone"] == "+13333331234"
    assert [p[:2] for p in posts(sandbox)] == [("POST", "/hubs/marketing/bulk/contact")]
    (entry,) = journal.list()
    (job,) = result.jobs
    assert entry.job_id == job.job_id == sandbox.jobs()[0]["id"]
    assert (entry.status, entry.records_count, entry.records_failed_count) == ("COMPLETED", 10, 0)
    assert entry.sha256 == file_sha256(tmp_path / "contacts.clean.csv") and entry.rows == 10
    assert (entry.chunk_index, entry.chunk_count, entry.object_name) == (1, 1, "contact")
    assert entry.remote_name == job.remote_name == sandbox.jobs()[0]["fileName"]
    assert entry.host == client.settings.host and entry.source == str(source)
    assert events[0] == "cleaned" and events[-1] == "finished"
    assert {"uploading", "created", "status"} <= set(events)
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert (report["rows"], report["clean_rows"], report["rejected_rows"]) == (10, 10, 0)
    assert report["upload"]["state"] == "finished"
    assert (report["upload"]["imported"], report["upload"]["refused_by_server"]) == (10, 0)
    assert report["upload"]["jobs"][0]["job_id"] == job.job_id


def test_unknown_identifier_is_a_config_error(client: Client, journal: Journal, tmp_path: Path):
    with pytest.raises(ConfigError, match="C_Nope"):
        run(client, journal, copy_sample(tmp_path), identifier="C_Nope")


# -- reconciliation -------------------------------------------------------------------


def test_every_row_is_accounted_for_and_refusals_map_to_source_lines(
    sandbox: Sandbox, client: Client, journal: Journal, tmp_path: Path
) -> None:
    stored = ["seed1@example.org", "seed2@example.org", "seed3@example.org"]
    first = run(client, journal, write_rows(tmp_path / "first.csv", [person(e) for e in stored]))
    assert first.imported == 3
    rows = [
        person("fresh1@example.org", C_Title="Head of\nThings"),  # two physical lines
        person("not-an-email", "Bad"),  # rejected here
        person("seed1@example.org", "Again"),  # refused by the server
        person("", "Nobody"),  # rejected here
        person("fresh2@example.org", C_Company="Line one\nLine two\nLine three"),
        person("SEED2@EXAMPLE.ORG", "Shout", C_Title="Vice\nPresident"),  # refused, raw kept
        person("fresh3@example.org"),
    ]
    source = write_rows(tmp_path / "second.csv", rows)
    lines = record_lines(source)
    assert lines == [2, 4, 5, 6, 7, 10, 12]  # lines are not rows + 1
    result = run(client, journal, source, skip_invalid=True, report=tmp_path / "second.json")

    assert result.state == "finished"
    assert (result.read, result.rejected, result.imported, result.refused) == (7, 2, 3, 2)
    assert accounted(result) and result.exit_code == 1
    assert flat(result) == [
        (lines[1], "C_EmailAddress", "invalid-email"),
        (lines[2], "C_EmailAddress", "server-rejected"),
        (lines[3], "C_EmailAddress", "missing-value"),
        (lines[5], "C_EmailAddress", "email-lowercased"),
        (lines[5], "C_EmailAddress", "server-rejected"),
    ]
    server = [f for f in result.report.findings if f.code == "server-rejected"]
    assert [(f.row, f.value, f.severity) for f in server] == [
        (3, "seed1@example.org", "error"),
        (6, "seed2@example.org", "error"),
    ]
    assert all(REFUSED in f.message and result.jobs[0].job_id in f.message for f in server)

    rejects = {int(r["_line"]): r for r in read_csv(result.report.outputs["rejects"])}
    assert sorted(rejects) == [lines[1], lines[2], lines[3], lines[5]]
    assert [rejects[lines[1]][h] for h in HEADER] == rows[1]
    assert [rejects[lines[3]][h] for h in HEADER] == rows[3]
    assert [rejects[lines[2]][h] for h in HEADER] == rows[2]
    assert [rejects[lines[5]][h] for h in HEADER] == rows[5]  # raw: upper case, two lines
    assert rejects[lines[1]]["_errors"].startswith("invalid-email")
    refused_errors = rejects[lines[5]]["_errors"]
    assert refused_errors.startswith("server-rejected") and REFUSED in refused_errors
    emails = [r["C_EmailAddress"] for r in sandbox.records("contact")]
    assert emails == [*stored, "fresh1@example.org", "fresh2@example.org", "fresh3@example.org"]
    report = json.loads((tmp_path / "second.json").read_text(encoding="utf-8"))
    assert (report["rows"], report["rejected_rows"]) == (7, 2)
    assert (report["upload"]["imported"], report["upload"]["refused_by_server"]) == (3, 2)
    server_lines = [f["line"] for f in report["findings"] if f["code"] == "server-rejected"]
    assert server_lines == [lines[2], lines[5]]


def test_rejected_rows_stop_the_upload_unless_skip_invalid(
    sandbox: Sandbox, client: Client, journal: Journal, tmp_path: Path
) -> None:
    source = write_rows(tmp_path / "mixed.csv", [person("ok@example.org"), person("nope")])
    result = run(client, journal, source)
    assert result.state == "refused-invalid" and result.exit_code == 1
    assert (result.read, result.rejected, result.imported, result.refused) == (2, 1, 0, 0)
    assert result.jobs == [] and journal.list() == []
    assert posts(sandbox) == [] and sandbox.jobs() == []
    assert [r["_line"] for r in read_csv(result.report.outputs["rejects"])] == ["3"]


# -- the duplicate guard --------------------------------------------------------------


def test_same_file_twice_is_refused_unless_forced(
    sandbox: Sandbox, client: Client, journal: Journal, tmp_path: Path
) -> None:
    source = copy_sample(tmp_path)
    first = run(client, journal, source)
    with pytest.raises(DuplicateUploadError) as info:
        run(client, journal, source)
    message = str(info.value)
    assert f"job {first.jobs[0].job_id}" in message
    assert f"bulkprep status {first.jobs[0].job_id}" in message and "--force" in message
    assert len(sandbox.jobs()) == 1 and len(posts(sandbox)) == 1

    forced = run(client, journal, source, force=True)
    assert forced.state == "finished" and len(sandbox.jobs()) == 2
    assert (forced.imported, forced.refused, forced.exit_code) == (0, 10, 1)  # all stored
    assert accounted(forced)
    assert [e.job_id for e in journal.list()] == [forced.jobs[0].job_id, first.jobs[0].job_id]


def test_failed_job_refuses_its_rows_and_does_not_block_a_new_upload(tmp_path: Path) -> None:
    with (
        Sandbox(credentials=SECRETS, step_seconds=0.01, fail_jobs=True) as sb,
        make_client(sb, tmp_path) as client,
    ):
        journal = Journal(tmp_path / "journal.sqlite3")
        source = copy_sample(tmp_path)
        failed = run(client, journal, source)
        assert failed.state == "finished" and failed.exit_code == 1
        assert (failed.read, failed.rejected, failed.imported, failed.refused) == (10, 0, 0, 10)
        assert flat(failed) == [
            (None, None, "server-rejected"),
            (4, "C_BusPhone", "phone-repaired"),
        ]
        finding = failed.report.findings[0]
        assert finding.severity == "error" and "FAILED" in finding.message
        assert failed.jobs[0].job_id in finding.message and "lines 2–11" in finding.message
        assert journal.list()[0].status == "FAILED"

        again = run(client, journal, source)  # not a duplicate: the first job failed
        assert again.jobs[0].job_id != failed.jobs[0].job_id
        assert len(sb.jobs()) == 2 and sb.records("contact") == []


# -- chunks ---------------------------------------------------------------------------


def test_chunks_make_one_job_each_and_refusals_map_to_source_lines(
    sandbox: Sandbox, client: Client, journal: Journal, tmp_path: Path
) -> None:
    result = run(client, journal, copy_sample(tmp_path), chunk_rows=4)
    assert result.state == "finished" and result.exit_code == 0
    assert (result.imported, result.refused) == (10, 0)
    assert [(c.index, c.count, c.rows, c.offset) for c in result.chunks] == [
        (1, 3, 4, 0),
        (2, 3, 4, 4),
        (3, 3, 2, 8),
    ]
    assert len(sandbox.jobs()) == 3 and len(posts(sandbox)) == 3
    entries = sorted(journal.list(), key=lambda e: e.chunk_index)
    assert [(e.chunk_index, e.chunk_count, e.rows, e.status) for e in entries] == [
        (1, 3, 4, "COMPLETED"),
        (2, 3, 4, "COMPLETED"),
        (3, 3, 2, "COMPLETED"),
    ]
    assert [e.job_id for e in entries] == [j["id"] for j in sandbox.jobs()]
    assert len({e.sha256 for e in entries}) == 3
    assert [r["C_EmailAddress"] for r in sandbox.records("contact")] == SAMPLE_EMAILS

    # Source row 7 is refused; it lands in chunk 2 because row 2 is rejected here.
    rows = [person(f"new{i}@example.org") for i in range(1, 11)]
    rows[0][HEADER.index("C_Title")] = "A title\nover two lines"
    rows[1][0] = "broken@"
    rows[6][0] = SAMPLE_EMAILS[4]
    source = write_rows(tmp_path / "more.csv", rows)
    lines = record_lines(source)
    more = run(client, journal, source, chunk_rows=4, skip_invalid=True)
    assert (more.read, more.rejected, more.imported, more.refused) == (10, 1, 8, 1)
    assert accounted(more) and more.exit_code == 1
    assert [j.chunk.rows for j in more.jobs] == [4, 4, 1]
    assert [j.refused for j in more.jobs] == [0, 1, 0]
    assert flat(more) == [
        (lines[1], "C_EmailAddress", "invalid-email"),
        (lines[6], "C_EmailAddress", "server-rejected"),
    ]
    (refused,) = [f for f in more.report.findings if f.code == "server-rejected"]
    assert refused.row == 7 and more.jobs[1].job_id in refused.message
    rejects = {int(r["_line"]): r for r in read_csv(more.report.outputs["rejects"])}
    assert sorted(rejects) == [lines[1], lines[6]]
    assert rejects[lines[6]]["C_EmailAddress"] == SAMPLE_EMAILS[4]


def test_chunked_upload_stopped_midway_resumes_without_resending(
    sandbox: Sandbox, client: Client, journal: Journal, tmp_path: Path
) -> None:
    source = copy_sample(tmp_path)
    events: list[str] = []

    def drop_second_post(kind: str, **data: Any) -> None:
        if kind == "uploading" and data["chunk"].index == 2:
            sandbox.inject("drop", method="POST", path=POST_CONTACT)  # before handling

    with pytest.raises(AmbiguousUploadError) as info:
        run(client, journal, source, chunk_rows=4, on_event=drop_second_post)
    name = str(info.value).split("look for the file name ")[1].split(",")[0]
    assert [j["fileName"] for j in sandbox.jobs()].count(name) == 0
    assert len(sandbox.jobs()) == 1  # chunk 1 went in; the lost chunk 2 made no job
    (first,) = journal.list()

    # What the error tells the user: check the job list (done), then upload again.
    result = run(
        client,
        journal,
        source,
        chunk_rows=4,
        on_event=lambda kind, **_: events.append(kind),
    )
    assert result.state == "finished" and result.exit_code == 0
    assert (result.read, result.rejected, result.imported, result.refused) == (10, 0, 10, 0)
    assert result.jobs[0].job_id == first.job_id
    assert [j.adopted for j in result.jobs] == [True, False, False]
    assert [e for e in events if e in ("reused", "uploading")] == ["reused", *["uploading"] * 2]
    assert len(sandbox.jobs()) == 3  # one job per chunk, chunk 1 not posted twice
    assert [p[2] for p in posts(sandbox)] == [200, None, 200, 200]
    assert [r["C_EmailAddress"] for r in sandbox.records("contact")] == SAMPLE_EMAILS
    assert {e.status for e in journal.list()} == {"COMPLETED"}
    with pytest.raises(DuplicateUploadError, match="all 3 parts"):
        run(client, journal, source, chunk_rows=4)


# -- faults ---------------------------------------------------------------------------


@dataclass
class Tally:
    imported: int = 0
    refused: int = 0
    rejected: int = 0
    ambiguous: int = 0


def upload_through_faults(
    sb: Sandbox, client: Client, journal: Journal, source: Path, tally: Tally, **kw: Any
) -> None:
    """Upload as a user would through faults: after an ambiguous upload, check the job
    list, then upload again (parts already sent are reused, not sent again)."""
    for _ in range(10):
        try:
            result = run(client, journal, source, skip_invalid=True, **kw)
        except AmbiguousUploadError as exc:
            tally.ambiguous += 1
            name = str(exc).split("look for the file name ")[1].split(",")[0]
            assert [j for j in sb.jobs() if j["fileName"] == name] == []
            continue
        assert result.state == "finished" and accounted(result)
        tally.imported += result.imported
        tally.refused += result.refused
        tally.rejected += result.rejected
        return
    pytest.fail(f"{source}: every one of 10 uploads was ambiguous")


def test_faults_never_make_a_second_job_and_lose_no_row(tmp_path: Path, caplog: Any) -> None:
    caplog.set_level(logging.INFO)
    plan = FaultPlan(rates={"429": 0.1, "503": 0.05, "drop": 0.05}, seed=11, retry_after=0)
    files = []
    for k in range(8):
        rows = [person(f"u{k}.{i}@example.org", f"N{i}") for i in range(46)]
        rows.insert(10, person(f"broken{k}@", "Bad"))  # rejected here
        rows.insert(30, person("", "Blank"))  # rejected here
        others = [f"u{k - 1}.{i}@example.org" for i in (5, 40)] if k else []
        for i, email in enumerate(others or [f"v{k}.0@example.org", f"v{k}.1@example.org"]):
            rows.insert(20 + 15 * i, person(email, "Twice"))  # refused when k > 0
        files.append(write_rows(tmp_path / f"batch{k}.csv", rows))
    policy = RetryPolicy(max_attempts=12, base_delay=0.005, max_delay=0.02)
    tally = Tally()
    with (
        Sandbox(credentials=SECRETS, step_seconds=0.005, faults=plan) as sb,
        make_client(sb, tmp_path, policy=policy) as client,
    ):
        journal = Journal(tmp_path / "journal.sqlite3")
        for k, source in enumerate(files):
            if k == 2:  # the answer is lost after the server made the job
                sb.inject("drop", method="POST", path=POST_CONTACT, after_handling=True)
            chunk_rows = 20 if k % 2 else None
            upload_through_faults(sb, client, journal, source, tally, chunk_rows=chunk_rows)
        jobs = sb.jobs()
        records = sb.records("contact")
        created_by_posts = [p for p in posts(sb) if p[2] == 200]
        faulted = [p for p in sb.requests_log if p[2] in (None, 429, 503)]
        entries = journal.list()
    assert len(faulted) >= 4  # the faults really did get in the way
    assert (tally.rejected, tally.refused) == (16, 14)
    assert tally.imported == 8 * 50 - 16 - 14 == len(records)
    assert len({r["C_EmailAddress"] for r in records}) == len(records)
    # One job per chunk: four whole files and four in three parts of at most 20 rows.
    assert len(jobs) == 4 + 4 * 3 == len(created_by_posts) + 1  # + the adopted one
    assert len({j["fileName"] for j in jobs}) == len(jobs)
    assert sorted(e.job_id for e in entries) == sorted(j["id"] for j in jobs)
    assert all(j["status"] == "COMPLETED" for j in jobs)
    assert all(s not in caplog.text for s in SECRET_VALUES)


def test_lost_answer_to_the_upload_adopts_the_job(
    sandbox: Sandbox, client: Client, journal: Journal, tmp_path: Path
) -> None:
    sandbox.inject("drop", method="POST", path=POST_CONTACT, after_handling=True)
    result = run(client, journal, copy_sample(tmp_path))
    assert result.state == "finished" and result.exit_code == 0
    (job,) = result.jobs
    assert job.adopted and (job.imported, job.refused) == (10, 0)
    assert len(posts(sandbox)) == 1 and posts(sandbox)[0][2] is None
    (only,) = sandbox.jobs()
    assert only["id"] == job.job_id and only["fileName"] == job.remote_name
    assert [e.job_id for e in journal.list()] == [job.job_id]
    assert len(sandbox.records("contact")) == 10


# -- waiting --------------------------------------------------------------------------


def test_no_wait_submits_and_journals(
    sandbox: Sandbox, client: Client, journal: Journal, tmp_path: Path
) -> None:
    result = run(client, journal, copy_sample(tmp_path), wait=False)
    assert result.state == "submitted" and result.exit_code == 0
    (job,) = result.jobs
    assert result.summary()["imported"] is None and result.summary()["refused_by_server"] is None
    assert job.final is None
    (entry,) = journal.list()
    assert entry.job_id == job.job_id and entry.status == "CREATED"
    assert [j["id"] for j in sandbox.jobs()] == [job.job_id]
    final = wait_for_job(client, job.job_id, timeout=10, first_interval=0.01)
    assert final.is_success and (final.records_count, final.records_failed_count) == (10, 0)


def test_interrupted_wait_names_the_jobs_and_leaves_them_running(tmp_path: Path) -> None:
    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    with (
        Sandbox(credentials=SECRETS, step_seconds=0.3) as sb,
        make_client(sb, tmp_path) as client,
    ):
        journal = Journal(tmp_path / "journal.sqlite3")
        with pytest.raises(WaitInterrupted) as info:
            run(client, journal, copy_sample(tmp_path), chunk_rows=5, sleep=interrupt)
        ids = [j["id"] for j in sb.jobs()]
        assert len(ids) == 2 and info.value.job_ids == ids
        message = str(info.value)
        assert all(f"bulkprep wait {i}" in message for i in ids) and "keep running" in message
        assert sorted(e.job_id for e in journal.list()) == sorted(ids)
        assert sb.jobs()[1]["status"] == "CREATED"  # still running on the server
        finals = [wait_for_job(client, i, timeout=10, first_interval=0.02) for i in ids]
    assert all(f.is_success for f in finals)
    assert sum(f.records_count or 0 for f in finals) == 10


def test_wait_timeout_names_the_job(tmp_path: Path) -> None:
    ticks = iter(range(0, 10_000, 100))
    with (
        Sandbox(credentials=SECRETS, step_seconds=0.3) as sb,
        make_client(sb, tmp_path) as client,
    ):
        journal = Journal(tmp_path / "journal.sqlite3")
        with pytest.raises(WaitTimeout) as info:
            run(
                client,
                journal,
                copy_sample(tmp_path),
                timeout=50,
                clock=lambda: float(next(ticks)),
                sleep=lambda s: None,
            )
        (job,) = sb.jobs()
    assert f"bulkprep wait {job['id']}" in str(info.value)


# -- dry run and upsert ---------------------------------------------------------------


def test_dry_run_sends_nothing(sandbox: Sandbox, client: Client, tmp_path: Path) -> None:
    source = copy_sample(tmp_path)
    offline = run(None, None, source, chunk_rows=6)
    assert offline.state == "dry-run" and offline.exit_code == 0
    assert offline.target == "(dry run)" and offline.jobs == []
    assert [(c.index, c.count, c.rows, c.offset) for c in offline.chunks] == [
        (1, 2, 6, 0),
        (2, 2, 4, 6),
    ]
    assert not any(c.path.is_file() for c in offline.chunks)  # a dry run writes no parts
    journal = Journal(tmp_path / "journal.sqlite3")
    online = run(client, journal, source, dry_run=True)
    assert online.state == "dry-run" and [c.rows for c in online.chunks] == [10]
    assert sandbox.requests_log == [] and journal.list() == []


def test_upsert_updates_the_stored_record(
    sandbox: Sandbox, client: Client, journal: Journal, tmp_path: Path
) -> None:
    run(client, journal, copy_sample(tmp_path))
    changed = write_rows(
        tmp_path / "changed.csv", [person(SAMPLE_EMAILS[0], "Norman", C_Title="Chief Engineer")]
    )
    plain = run(client, journal, changed)
    assert (plain.imported, plain.refused) == (0, 1)
    result = run(client, journal, changed, upsert=True, force=True)
    assert result.state == "finished" and result.exit_code == 0
    assert (result.imported, result.refused) == (1, 0)
    job = sandbox.jobs()[-1]
    assert (job["action"], job["identifierFieldName"]) == ("upsert", "C_EmailAddress")
    records = sandbox.records("contact")
    assert len(records) == 10
    norm = next(r for r in records if r["C_EmailAddress"] == SAMPLE_EMAILS[0])
    assert (norm["C_FirstName"], norm["C_Title"]) == ("Norman", "Chief Engineer")


# -- secrets --------------------------------------------------------------------------


def test_secrets_stay_out_of_reports_journal_files_errors_and_logs(
    sandbox: Sandbox, tmp_path: Path, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = SandboxCredentials(
        user="usr-WRONG-5a5a5a", organization=SECRETS.organization, element=SECRETS.element
    )
    texts: list[str] = []

    def exception_texts(exc: BaseException) -> list[str]:
        return [str(exc), repr(exc), "".join(traceback.format_exception(exc))]

    journal = Journal(tmp_path / "journal.sqlite3")
    source = copy_sample(tmp_path)
    with make_client(sandbox, tmp_path) as client:
        sandbox.inject("drop", method="POST", path=POST_CONTACT, after_handling=True)
        result = run(client, journal, source, report=tmp_path / "report.json")
        assert result.imported == 10 and result.jobs[0].adopted
        texts += [repr(client), repr(client.settings), repr(result), json.dumps(result.summary())]
        with pytest.raises(DuplicateUploadError) as duplicate:
            run(client, journal, source)
        texts += exception_texts(duplicate.value)
    other = write_rows(tmp_path / "other.csv", [person("someone@example.org")])
    with make_client(sandbox, tmp_path, creds=wrong) as bad, pytest.raises(AuthError) as info:
        run(bad, journal, other, report=tmp_path / "other.json")
    assert info.value.status == 401
    texts += exception_texts(info.value)
    for path in sorted(tmp_path.iterdir()):
        if path.is_file():
            texts.append(path.read_bytes().decode("utf-8", "replace"))
    texts.append(caplog.text)
    assert any("journal.sqlite3" in str(p) for p in tmp_path.iterdir())
    assert len(texts) > 10
    for text in texts:
        for secret in (*SECRET_VALUES, wrong.user):
            assert secret not in text
    assert isinstance(info.value, BulkprepError)


def test_report_path_that_is_the_input_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    source = copy_sample(tmp_path)
    before = source.read_bytes()
    with pytest.raises(OutputError, match="is the input file"):
        run(None, None, source, dry_run=True, report=source)
    assert source.read_bytes() == before
    assert not (tmp_path / "contacts.clean.csv").exists()


def test_an_interrupted_wait_still_writes_the_report(tmp_path: Path) -> None:
    source = copy_sample(tmp_path)
    report = tmp_path / "report.json"

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    # A slow sandbox, so that the job is still running at the first poll and the wait
    # sleeps (and is interrupted) rather than finding the job already done.
    with (
        Sandbox(credentials=SECRETS, step_seconds=0.3) as sb,
        make_client(sb, tmp_path) as client,
        pytest.raises(WaitInterrupted),
    ):
        run(client, Journal(tmp_path / "journal.sqlite3"), source, report=report, sleep=interrupt)
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["upload"]["state"] == "interrupted"
    assert data["rows"] == 10 and len(data["upload"]["jobs"]) == 1


def test_an_upload_cut_off_while_sending_is_not_sent_again_blindly(
    sandbox: Sandbox, client: Client, journal: Journal, tmp_path: Path
) -> None:
    source = copy_sample(tmp_path)

    def ctrl_c_while_sending(kind: str, **data: Any) -> None:
        if kind == "progress":
            raise KeyboardInterrupt

    with pytest.raises(WaitInterrupted, match="may have created a job"):
        run(client, journal, source, on_event=ctrl_c_while_sending)
    pending = [e for e in journal.list() if e.status == "SENDING"]
    assert len(pending) == 1 and pending[0].job_id.startswith("pending-")
    with pytest.raises(DuplicateUploadError, match="cut off"):
        run(client, journal, source)
    result = run(client, journal, source, force=True)
    assert result.state == "finished" and result.imported == 10
    assert [e.status for e in journal.list()] == ["COMPLETED"]
