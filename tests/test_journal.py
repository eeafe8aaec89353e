"""Job journal: entries, updates, newest-first listing, duplicates, concurrent writers."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from bulkprep._exceptions import OutputError
from bulkprep.config import load_settings
from bulkprep.journal import Journal, JournalEntry

HOST = "http://127.0.0.1:8123/elements/api-v2"
SHA = "ab" * 32


def entry(job_id: str, **fields: object) -> JournalEntry:
    values: dict[str, object] = {
        "job_id": job_id,
        "host": HOST,
        "hub": "marketing",
        "object_name": "contact",
        "remote_name": f"contacts-{job_id}.csv",
        "source": "contacts.csv",
        "sha256": SHA,
        "rows": 10,
    }
    values.update(fields)
    return JournalEntry(**values)  # type: ignore[arg-type]


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "state" / "journal.sqlite3")


def test_add_get_update(journal: Journal) -> None:
    added = journal.add(entry("7"))
    assert added.created and added.updated == added.created
    assert added.created.endswith("+00:00")
    got = journal.get("7", HOST)
    assert got == added
    updated = journal.update(
        "7", HOST, status="COMPLETED", records_count=10, records_failed_count=2
    )
    assert updated is not None
    assert (updated.status, updated.records_count, updated.records_failed_count) == (
        "COMPLETED",
        10,
        2,
    )
    assert updated.created == added.created
    assert journal.get("7") == updated  # any host
    assert journal.update("missing", HOST, status="FAILED") is None
    assert journal.get("7", "http://elsewhere.test/api") is None


def test_update_refuses_unknown_or_key_fields(journal: Journal) -> None:
    journal.add(entry("1"))
    with pytest.raises(TypeError, match="password"):
        journal.update("1", HOST, password="x")
    with pytest.raises(TypeError, match="job_id"):
        journal.update("1", HOST, job_id="2")


def test_list_is_newest_first(journal: Journal) -> None:
    journal.add(entry("1", created="2024-01-01T10:00:00+00:00"))
    journal.add(entry("3", created="2024-01-03T10:00:00+00:00"))
    journal.add(entry("2", created="2024-01-02T10:00:00+00:00"))
    assert [e.job_id for e in journal.list()] == ["3", "2", "1"]
    assert [e.job_id for e in journal.list(limit=1)] == ["3"]


def test_same_id_on_two_hosts_are_two_entries(journal: Journal) -> None:
    journal.add(entry("1"))
    journal.add(entry("1", host="https://other.test/api"))
    assert len(journal.list()) == 2


@pytest.mark.parametrize(
    ("status", "duplicate"),
    [
        ("COMPLETED", True),
        ("COMPLETE", True),
        ("CREATED", True),
        ("RUNNING", True),
        ("SOMETHING_NEW", True),
        ("FAILED", False),
        ("ERROR", False),
        ("ABORTED", False),
        ("CANCELLED", False),
        ("CANCELED", False),
    ],
)
def test_find_duplicate_by_status(journal: Journal, status: str, duplicate: bool) -> None:
    journal.add(entry("1", status=status))
    found = journal.find_duplicate(SHA, "contact", HOST, "marketing")
    assert (found is not None) is duplicate


def test_find_duplicate_needs_same_bytes_object_host_and_hub(journal: Journal) -> None:
    journal.add(entry("1", status="COMPLETED"))
    assert journal.find_duplicate(SHA, "contact", HOST, "marketing") is not None
    assert journal.find_duplicate("cd" * 32, "contact", HOST, "marketing") is None
    assert journal.find_duplicate(SHA, "account", HOST, "marketing") is None
    assert journal.find_duplicate(SHA, "contact", "https://prod.test/api", "marketing") is None
    assert journal.find_duplicate(SHA, "contact", HOST, "crm") is None
    assert journal.find_duplicate("", "contact", HOST, "marketing") is None


def test_find_duplicate_skips_failed_attempts(journal: Journal) -> None:
    journal.add(entry("1", status="COMPLETED", created="2024-01-01T00:00:00+00:00"))
    journal.add(entry("2", status="FAILED", created="2024-01-02T00:00:00+00:00"))
    found = journal.find_duplicate(SHA, "contact", HOST, "marketing")
    assert found is not None and found.job_id == "1"


def test_host_is_stored_without_credentials(journal: Journal) -> None:
    journal.add(entry("1", host="https://me:s3cr3t-value@api.test/elements/api-v2/?token=zz"))
    raw = journal.path.read_bytes()
    assert b"s3cr3t-value" not in raw and b"token=zz" not in raw
    assert journal.list()[0].host == "https://api.test/elements/api-v2"


def test_default_location_follows_state_dir_setting(tmp_path: Path) -> None:
    settings = load_settings(env={"BULKPREP_STATE_DIR": str(tmp_path / "st")})
    journal = Journal(settings.journal_path)
    journal.add(entry("1"))
    assert (tmp_path / "st" / "journal.sqlite3").is_file()


def test_unusable_path_is_an_output_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="journal"):
        Journal(blocker / "journal.sqlite3").add(entry("1"))


def _writer(path: str, start: int) -> None:
    journal = Journal(path)
    for n in range(start, start + 25):
        journal.add(entry(str(n)))
        journal.update(str(n), HOST, status="COMPLETED")


def test_concurrent_writers(tmp_path: Path) -> None:
    path = str(tmp_path / "journal.sqlite3")
    Journal(path).list()  # create the schema once, like a first run
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, k * 100)) for k in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    entries = Journal(path).list()
    assert len(entries) == 100
    assert {e.status for e in entries} == {"COMPLETED"}
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
