"""Waiting for jobs: adaptive polling with a fake clock, status meanings, and the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bulkprep._exceptions import AmbiguousUploadError, WaitTimeout
from bulkprep.client import Client
from bulkprep.config import Settings
from bulkprep.jobs import JobStatus, find_upload_job, unique_remote_name, wait_for_job
from bulkprep.sandbox import Sandbox


class FakeTime:
    """An injected clock and sleep: sleeping moves the clock, nothing waits."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Script:
    """Answers ``job_status`` from a list of (status, records_count); the last one repeats."""

    def __init__(self, *steps: tuple[str, int]) -> None:
        self.steps = list(steps)
        self.calls = 0

    def job_status(self, job_id: str) -> JobStatus:
        status, count = self.steps[min(self.calls, len(self.steps) - 1)]
        self.calls += 1
        return JobStatus(job_id, status, count, 0, {"id": job_id, "status": status})


def run(
    script: Script, fake: FakeTime, **kwargs: object
) -> tuple[JobStatus, list[tuple[str, str | None, str]]]:
    changes: list[tuple[str, str | None, str]] = []

    def on_change(status: JobStatus, previous: JobStatus | None) -> None:
        changes.append((status.status, previous.status if previous else None, status.note))

    options: dict = {"timeout": 600, "sleep": fake.sleep, "clock": fake.clock, **kwargs}
    final = wait_for_job(script, "42", on_change=on_change, **options)
    return final, changes


def test_backs_off_then_resets_on_change() -> None:
    fake = FakeTime()
    script = Script(*[("CREATED", 0)] * 4, *[("RUNNING", 0)] * 3, ("COMPLETED", 10))
    final, changes = run(script, fake, first_interval=1, factor=2, max_interval=4)
    assert final.is_success and final.records_count == 10
    assert fake.sleeps == [1, 2, 4, 4, 1, 2, 4]
    assert changes == [
        ("CREATED", None, ""),
        ("RUNNING", "CREATED", ""),
        ("COMPLETED", "RUNNING", ""),
    ]


def test_count_changes_are_reported_without_resetting() -> None:
    fake = FakeTime()
    script = Script(("RUNNING", 0), ("RUNNING", 5), ("RUNNING", 5), ("RUNNING", 9), ("COMPLETE", 9))
    final, changes = run(script, fake, first_interval=1, factor=2, max_interval=8)
    assert [c[0] for c in changes] == ["RUNNING", "RUNNING", "RUNNING", "COMPLETE"]
    assert fake.sleeps == [1, 2, 4, 8]
    assert final.status == "COMPLETE" and final.is_final


def test_unknown_status_keeps_polling_and_is_noted_once() -> None:
    fake = FakeTime()
    script = Script(
        ("QUEUED_SOMEWHERE", 0), ("RUNNING", 0), ("QUEUED_SOMEWHERE", 0), ("COMPLETED", 1)
    )
    final, changes = run(script, fake)
    assert final.is_success
    notes = [note for _, _, note in changes]
    assert "unknown status 'QUEUED_SOMEWHERE'" in notes[0] and "still running" in notes[0]
    assert notes[1:] == ["", "", ""]


@pytest.mark.parametrize(
    ("status", "success", "failure"),
    [
        ("FAILED", False, True),
        ("ERROR", False, True),
        ("ABORTED", False, True),
        ("CANCELED", False, False),
        ("CANCELLED", False, False),
        ("completed", True, False),
    ],
)
def test_final_statuses_end_the_wait(status: str, success: bool, failure: bool) -> None:
    fake = FakeTime()
    final, _ = run(Script((status, 0)), fake)
    assert final.is_final and (final.is_success, final.is_failure) == (success, failure)
    assert fake.sleeps == []


@pytest.mark.parametrize("status", ["CREATED", "STARTED", "RUNNING", "CANCELLATION_PENDING", "NEW"])
def test_running_statuses_are_not_final(status: str) -> None:
    job = JobStatus("1", status)
    assert not job.is_final and not job.is_success and not job.is_failure


def test_timeout_names_job_and_resume_command() -> None:
    fake = FakeTime()
    with pytest.raises(WaitTimeout) as info:
        run(Script(("RUNNING", 3)), fake, timeout=30, first_interval=1, max_interval=10)
    message = str(info.value)
    assert "job 42" in message and "bulkprep wait 42" in message and "RUNNING" in message
    assert sum(fake.sleeps) == pytest.approx(30)
    assert max(fake.sleeps) <= 10


def test_keyboard_interrupt_is_not_swallowed() -> None:
    class Interrupting:
        def job_status(self, job_id: str) -> JobStatus:
            raise KeyboardInterrupt

    fake = FakeTime()
    with pytest.raises(KeyboardInterrupt):
        wait_for_job(Interrupting(), "1", timeout=10, sleep=fake.sleep, clock=fake.clock)


def test_bad_intervals_are_refused() -> None:
    with pytest.raises(ValueError):
        wait_for_job(Script(("RUNNING", 0)), "1", timeout=1, first_interval=0)
    with pytest.raises(ValueError):
        wait_for_job(Script(("RUNNING", 0)), "1", timeout=1, first_interval=5, max_interval=1)


def test_status_from_json() -> None:
    status = JobStatus.from_json(
        {"id": 7, "status": "RUNNING", "recordsCount": "12", "recordsFailedCount": None,
         "fileName": "/a.csv", "createdDate": "2024-01-01T00:00:00Z"}
    )  # fmt: skip
    assert (status.id, status.records_count, status.records_failed_count) == ("7", 12, None)
    assert status.file_name == "a.csv" and status.created.startswith("2024")
    assert JobStatus.from_json({}).status == "UNKNOWN"


# ---- against the sandbox --------------------------------------------------------------


@pytest.fixture
def contacts(tmp_path: Path) -> Path:
    path = tmp_path / "contacts.csv"
    path.write_text("C_EmailAddress,C_FirstName\na@x.com,A\nb@x.com,B\nnot-an-email,C\n")
    return path


def client_for(sb: Sandbox) -> Client:
    creds = sb.credentials
    settings = Settings(
        base_url=sb.base_url,
        user_secret=creds.user,
        org_secret=creds.organization,
        element_token=creds.element,
    )
    return Client(settings)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(step_seconds=0.01) as sb:
        yield sb


def test_sandbox_job_completes(sandbox: Sandbox, contacts: Path) -> None:
    seen: list[str] = []
    with client_for(sandbox) as client:
        job = client.create_bulk_upload("contact", contacts)
        final = wait_for_job(
            client,
            job.id,
            timeout=10,
            first_interval=0.01,
            on_change=lambda s, p: seen.append(s.status),
        )
    assert final.status == "COMPLETED"
    assert (final.records_count, final.records_failed_count) == (3, 1)
    assert seen[-1] == "COMPLETED" and seen[0] in ("CREATED", "RUNNING", "COMPLETED")


def test_sandbox_job_fails(contacts: Path) -> None:
    with Sandbox(step_seconds=0.01, fail_jobs=True) as sb, client_for(sb) as client:
        job = client.create_bulk_upload("contact", contacts)
        final = wait_for_job(client, job.id, timeout=10, first_interval=0.01)
    assert final.status == "FAILED" and final.is_failure and final.is_final


def test_sandbox_wait_times_out(contacts: Path) -> None:
    with Sandbox(step_seconds=30) as sb, client_for(sb) as client:
        job = client.create_bulk_upload("contact", contacts)
        with pytest.raises(WaitTimeout) as info:
            wait_for_job(client, job.id, timeout=0.3, first_interval=0.05)
        assert client.job_status(job.id).status == "CREATED"  # still there to resume
    assert f"bulkprep wait {job.id}" in str(info.value)


# ---- recognising an upload's job -------------------------------------------------------


class Listing:
    def __init__(self, *jobs: dict[str, str]) -> None:
        self.jobs = [JobStatus.from_json(job) for job in jobs]
        self.wheres: list[str | None] = []

    def iter_jobs(self, where: str | None = None, *, page_size: int = 200) -> Iterator[JobStatus]:
        self.wheres.append(where)
        yield from self.jobs


def listed(job_id: str, name: str, created: str) -> dict[str, str]:
    return {"id": job_id, "status": "CREATED", "fileName": name, "createdDate": created}


STARTED = 1_700_000_000.0  # 2023-11-14T22:13:20Z


def test_find_upload_job_by_name_and_time() -> None:
    listing = Listing(
        listed("3", "other.csv", "2023-11-14T22:13:21Z"),
        listed("2", "/mine.csv", "2023-11-14T22:13:21.5Z"),
        listed("1", "mine.csv", "2023-11-13T00:00:00Z"),  # a day older: not this upload
    )
    found = find_upload_job(listing, "o'bj", "mine.csv", since=STARTED)
    assert found is not None and found.id == "2"
    assert listing.wheres == ["object_name='o''bj'"]
    older = Listing(listed("1", "mine.csv", "2023-11-13T00:00:00Z"))
    assert find_upload_job(older, "contact", "mine.csv", since=STARTED) is None


def test_find_upload_job_refuses_to_guess_between_two() -> None:
    listing = Listing(
        listed("5", "mine.csv", "2023-11-14T22:13:30Z"),
        listed("4", "mine.csv", "2023-11-14T22:13:25Z"),
    )
    with pytest.raises(AmbiguousUploadError, match=r"2 jobs \(5, 4\)"):
        find_upload_job(listing, "contact", "mine.csv", since=STARTED, source="a.csv")


def test_unique_remote_names() -> None:
    sha = "0123456789abcdef" * 4
    first = unique_remote_name("dir/My Contacts (2).csv", sha, STARTED)
    second = unique_remote_name("dir/My Contacts (2).csv", sha, STARTED)
    assert first != second
    assert first.startswith("My_Contacts_2-01234567-20231114T221320Z-") and first.endswith(".csv")
    assert unique_remote_name("...", sha, STARTED).startswith("upload-")
