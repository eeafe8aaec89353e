"""The command line through ``click.testing.CliRunner``: outputs, formats, exit codes
(0 clean, 1 problems in the data, 2 could not run), the API commands against a real
sandbox, and help for every command. No test reads the user's own config or state."""

from __future__ import annotations

import json
import os
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner, Result
from helpers import HEADER, SECRETS, person, read_csv, write_rows

from bulkprep.cli import cli
from bulkprep.sandbox import Sandbox
from bulkprep.schema import parse_schema
from bulkprep.signature import sign

ROOT = Path(__file__).parent.parent
SAMPLE = ROOT / "sample_data" / "contacts.csv"
SCHEMAS = ROOT / "schemas"
ENV_NAMES = (
    "BASE_URL", "HUB", "USER_SECRET", "ORG_SECRET", "ELEMENT_TOKEN", "PROFILE", "CONFIG",
    "STATE_DIR", "SIGNATURE_KEY", "SCHEMAS",
)  # fmt: skip
SUMMARY_10 = "read 10, rejected locally 0, imported 10, refused by the server 0"


# -- helpers and fixtures -------------------------------------------------------------


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str | None]:
    """Only BULKPREP_* variables that point into tmp_path; an empty, private config file."""
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    config.chmod(0o600)
    cleared: dict[str, str | None] = {n: None for n in os.environ if n.startswith("BULKPREP_")}
    cleared.update({f"BULKPREP_{name}": None for name in ENV_NAMES})
    cleared.update(
        BULKPREP_CONFIG=str(config),
        BULKPREP_STATE_DIR=str(tmp_path / "state"),
        BULKPREP_SCHEMAS=str(SCHEMAS),
    )
    return cleared


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    target = tmp_path / "contacts.csv"
    shutil.copyfile(SAMPLE, target)
    return target


@pytest.fixture
def dirty(tmp_path: Path) -> Path:
    return write_rows(
        tmp_path / "dirty.csv",
        [
            person("ok@example.org", C_BusPhone="(333) 333-1234"),
            person("not-an-email"),
            person("ok@example.org"),
        ],
    )


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(credentials=SECRETS, step_seconds=0.01) as sb:
        yield sb


def api_env(env: dict[str, str | None], sb: Sandbox) -> dict[str, str | None]:
    creds = sb.credentials
    return {
        **env,
        "BULKPREP_BASE_URL": sb.base_url,
        "BULKPREP_USER_SECRET": creds.user,
        "BULKPREP_ORG_SECRET": creds.organization,
        "BULKPREP_ELEMENT_TOKEN": creds.element,
    }


def invoke(env: dict[str, str | None], *args: str | Path, **kw: Any) -> Result:
    result = CliRunner().invoke(cli, [str(a) for a in args], env=env, **kw)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def flat(report: dict[str, Any]) -> list[tuple[int | None, str | None, str]]:
    return [(f["line"], f["column"], f["code"]) for f in report["findings"]]


def one_error_line(result: Result) -> str:
    """A could-not-run failure: exit 2, one ``bulkprep: error:`` line, no traceback."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("bulkprep: error: "), result.stderr
    return lines[0]


# -- clean: the acceptance test ---------------------------------------------------------


def test_clean_sample_file(env: dict[str, str | None], sample: Path, tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    result = invoke(env, "clean", "contact", sample, "--report", report_path)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"{sample}: 10 rows read, 10 clean, 0 rejected (0 errors, 1 warning)"
    findings = [line for line in lines if "[" in line]
    assert len(findings) == 1
    assert findings[0].startswith(f"  {sample}: line 4, C_BusPhone: warning [phone-repaired] ")
    assert f"clean rows:    {tmp_path / 'contacts.clean.csv'}" in result.stdout
    assert f"rejected rows: {tmp_path / 'contacts.rejects.csv'}" in result.stdout
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert flat(report) == [(4, "C_BusPhone", "phone-repaired")]
    assert (report["rows"], report["clean_rows"], report["rejected_rows"]) == (10, 10, 0)
    clean = read_csv(tmp_path / "contacts.clean.csv")
    assert len(clean) == 10 and list(clean[0]) == HEADER
    assert clean[0]["C_BusPhone"] == "+13333331234"  # was (333) 333-1234
    assert clean[2]["C_BusPhone"] == "+14444441234"  # was 444) 444-1234, the warning
    assert read_csv(tmp_path / "contacts.rejects.csv") == []


def test_clean_with_rejected_rows_exits_1(env: dict[str, str | None], dirty: Path) -> None:
    result = invoke(env, "clean", "contact", dirty)
    assert result.exit_code == 1
    assert "3 rows read, 1 clean, 2 rejected" in result.stdout
    rejects = read_csv(dirty.with_name("dirty.rejects.csv"))
    assert [(r["_line"], r["C_EmailAddress"]) for r in rejects] == [
        ("3", "not-an-email"),
        ("4", "ok@example.org"),
    ]


# -- validate -------------------------------------------------------------------------


def test_validate_text(env: dict[str, str | None], sample: Path, dirty: Path) -> None:
    ok = invoke(env, "validate", "contact", sample)
    assert ok.exit_code == 0
    assert ok.stdout.splitlines()[0].endswith(
        "10 rows read, 10 clean, 0 rejected (0 errors, 1 warning)"
    )
    assert not sample.with_name("contacts.clean.csv").exists()  # validate writes nothing
    bad = invoke(env, "validate", "contact", dirty)
    assert bad.exit_code == 1
    assert f"{dirty}: line 3, C_EmailAddress: error [invalid-email]" in bad.stdout
    assert f"{dirty}: line 4, C_EmailAddress: error [duplicate-value]" in bad.stdout


def test_validate_json(env: dict[str, str | None], sample: Path, dirty: Path) -> None:
    result = invoke(env, "validate", "contact", sample, "--format", "json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert {"object", "source", "rows", "clean_rows", "rejected_rows", "findings"} <= set(report)
    assert (report["object"], report["source"]) == ("contact", str(sample))
    assert (report["rows"], report["clean_rows"], report["rejected_rows"]) == (10, 10, 0)
    assert flat(report) == [(4, "C_BusPhone", "phone-repaired")]
    (finding,) = report["findings"]
    assert (finding["row"], finding["value"]) == (3, "444) 444-1234")
    assert finding["severity"] == "warning"

    bad = json.loads(invoke(env, "validate", "contact", dirty, "--format", "json").stdout)
    assert flat(bad) == [
        (3, "C_EmailAddress", "invalid-email"),
        (4, "C_EmailAddress", "duplicate-value"),
    ]


def test_validate_github(env: dict[str, str | None], sample: Path, dirty: Path) -> None:
    result = invoke(env, "validate", "contact", sample, "--format", "github")
    assert result.exit_code == 0
    (line,) = result.stdout.splitlines()
    assert line.startswith(f"::warning file={sample},line=4,title=phone-repaired::C_BusPhone: ")
    bad = invoke(env, "validate", "contact", dirty, "--format", "github")
    assert bad.exit_code == 1
    assert [line.split("::")[1] for line in bad.stdout.splitlines()] == [
        f"error file={dirty},line=3,title=invalid-email",
        f"error file={dirty},line=4,title=duplicate-value",
    ]


def test_validate_junit(env: dict[str, str | None], sample: Path, dirty: Path) -> None:
    result = invoke(env, "validate", "contact", sample, dirty, "--format", "junit")
    assert result.exit_code == 1
    root = ET.fromstring(result.stdout)
    assert root.tag == "testsuites" and (root.get("tests"), root.get("failures")) == ("3", "2")
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [str(sample), str(dirty)]
    assert suites[0].get("failures") == "0" and suites[0].find("testcase/failure") is None
    failures = suites[1].findall("testcase/failure")
    assert [f.get("type") for f in failures] == ["invalid-email", "duplicate-value"]
    assert [c.get("name") for c in suites[1].findall("testcase")] == [
        "line 3, C_EmailAddress: invalid-email",
        "line 4, C_EmailAddress: duplicate-value",
    ]


def test_validate_junit_counts_the_errors_left_out(env: dict[str, str | None], dirty: Path) -> None:
    result = invoke(env, "validate", "contact", dirty, "--format", "junit", "--max-findings", "1")
    suite = ET.fromstring(result.stdout).find("testsuite")
    assert suite is not None
    names = [c.get("name") for c in suite.findall("testcase")]
    assert names == ["line 3, C_EmailAddress: invalid-email", "1 more errors"]
    assert [f.get("type") for f in suite.findall("testcase/failure")] == [
        "invalid-email",
        "truncated",
    ]


def test_validate_max_findings(env: dict[str, str | None], dirty: Path) -> None:
    text = invoke(env, "validate", "contact", dirty, "--max-findings", "1")
    assert text.exit_code == 1
    assert "[invalid-email]" in text.stdout and "[duplicate-value]" not in text.stdout
    assert "1 more finding" in text.stdout
    report = json.loads(
        invoke(env, "validate", "contact", dirty, "--format", "json", "--max-findings", "1").stdout
    )
    assert flat(report) == [(3, "C_EmailAddress", "invalid-email")] and report["truncated"]
    assert report["rejected_rows"] == 2  # the counts are not truncated


def test_validate_several_files(env: dict[str, str | None], sample: Path, dirty: Path) -> None:
    both = invoke(env, "validate", "contact", sample, dirty, "--format", "json")
    assert both.exit_code == 1  # the worst of the files
    reports = json.loads(both.stdout)["reports"]
    assert [r["source"] for r in reports] == [str(sample), str(dirty)]
    assert [r["rejected_rows"] for r in reports] == [0, 2]
    other = sample.with_name("again.csv")
    shutil.copyfile(sample, other)
    assert invoke(env, "validate", "contact", sample, other).exit_code == 0


def test_validate_missing_file_is_one_error_line(
    env: dict[str, str | None], tmp_path: Path
) -> None:
    line = one_error_line(invoke(env, "validate", "contact", tmp_path / "missing.csv"))
    assert str(tmp_path / "missing.csv") in line


def test_validate_unknown_object_lists_the_known_ones(
    env: dict[str, str | None], sample: Path
) -> None:
    line = one_error_line(invoke(env, "validate", "nosuchobject", sample))
    assert "nosuchobject" in line and "known objects:" in line
    known = line.split("known objects:")[1]
    assert all(name in known for name in ("account", "contact", "list"))


def test_validate_with_a_bad_schema(
    env: dict[str, str | None], sample: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "schemas"
    folder.mkdir()
    text = (SCHEMAS / "contact.yaml").read_text(encoding="utf-8")
    (folder / "contact.yaml").write_text(text.replace("unique: true", "uniq: true"), "utf-8")
    line = one_error_line(invoke(env, "--schemas", folder, "validate", "contact", sample))
    assert str(folder / "contact.yaml") in line and "'uniq'" in line


# -- schema ---------------------------------------------------------------------------


def test_schema_list_and_show(env: dict[str, str | None]) -> None:
    listed = invoke(env, "schema", "list")
    assert listed.exit_code == 0
    names = [line.split()[0] for line in listed.stdout.splitlines()]
    assert {"account", "contact", "list"} <= set(names)
    assert "INVALID" not in listed.stdout
    shown = invoke(env, "schema", "show", "contact")
    assert shown.exit_code == 0
    assert shown.stdout.startswith("object: contact")
    email = next(line for line in shown.stdout.splitlines() if "C_EmailAddress" in line)
    assert "email required unique" in email
    assert "region=US" in shown.stdout
    assert invoke(env, "schema", "show", "nosuchobject").exit_code == 2


def test_schema_check(env: dict[str, str | None], tmp_path: Path) -> None:
    every = invoke(env, "schema", "check")
    assert every.exit_code == 0
    assert every.stdout.count(": ok") == len(list(SCHEMAS.glob("*.yaml")))
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "object: widget\ncolumns:\n  - name: size\n    type: integer\n    minimun: 0\n",
        encoding="utf-8",
    )
    good = tmp_path / "good.yaml"
    good.write_text("object: widget\ncolumns:\n  - name: size\n    type: integer\n", "utf-8")
    result = invoke(env, "schema", "check", good, broken)
    assert result.exit_code == 1
    assert f"{good}: ok" in result.stdout
    (problem,) = [line for line in result.stdout.splitlines() if str(broken) in line]
    assert "'minimun'" in problem and "size" in problem


def test_schema_pull_from_the_sandbox(env: dict[str, str | None], tmp_path: Path) -> None:
    result = invoke(env, "schema", "pull", "contact", "--sandbox")
    assert result.exit_code == 0, result.output
    pulled = parse_schema(yaml.safe_load(result.stdout), source="pulled")
    assert pulled.object == "contact"
    assert pulled.names[0] == "C_EmailAddress"
    assert pulled.column("C_EmailAddress").type == "email"
    assert "sandbox: started on http://127.0.0.1:" in result.stderr

    target = tmp_path / "contact.yaml"
    written = invoke(env, "schema", "pull", "contact", "--sandbox", "-o", target)
    assert written.exit_code == 0 and f"wrote {target}" in written.stderr
    assert yaml.safe_load(target.read_text(encoding="utf-8")) == yaml.safe_load(result.stdout)
    assert invoke(env, "schema", "check", target).exit_code == 0


def test_schema_pull_onto_an_existing_file_could_not_run(
    env: dict[str, str | None], tmp_path: Path
) -> None:
    target = tmp_path / "contact.yaml"
    target.write_text("# mine\n", encoding="utf-8")
    line = one_error_line(invoke(env, "schema", "pull", "contact", "--sandbox", "-o", target))
    assert str(target) in line and "--force" in line  # and no sandbox was started
    assert target.read_text(encoding="utf-8") == "# mine\n"


# -- upload ---------------------------------------------------------------------------


def test_upload_to_the_sandbox(env: dict[str, str | None], sample: Path) -> None:
    result = invoke(env, "upload", "contact", sample, "--sandbox")
    assert result.exit_code == 0, result.output
    assert "job 1 created" in result.stderr
    assert "COMPLETED" in result.stderr
    assert "job 1: COMPLETED, imported 10, refused 0" in result.stderr
    assert result.stdout.rstrip("\n").splitlines()[-1] == SUMMARY_10
    assert "[phone-repaired]" in result.stdout
    assert not (Path(str(env["BULKPREP_STATE_DIR"])) / "journal.sqlite3").exists()


def test_upload_dry_run_needs_no_credentials(
    env: dict[str, str | None], sample: Path, tmp_path: Path
) -> None:
    result = invoke(env, "upload", "contact", sample, "--dry-run", "--chunk-rows", "6")
    assert result.exit_code == 0, result.output
    clean = tmp_path / "contacts.clean.csv"
    assert result.stdout.splitlines()[-2:] == [
        f"would upload {clean.with_name('contacts.clean.part1of2.csv')}: 6 rows as contact "
        "(rows 1-6 of the clean file)",
        f"would upload {clean.with_name('contacts.clean.part2of2.csv')}: 4 rows as contact "
        "(rows 7-10 of the clean file)",
    ]
    assert not Path(str(env["BULKPREP_STATE_DIR"])).exists()


def test_upload_no_wait_with_sandbox_is_refused(env: dict[str, str | None], sample: Path) -> None:
    # The sandbox stops when the command ends: a job left to run there could not be followed.
    result = invoke(env, "upload", "contact", sample, "--sandbox", "--no-wait")
    assert result.exit_code == 2, result.output
    assert "--no-wait cannot be used with --sandbox" in result.stderr
    assert "job" not in result.stdout


def test_upload_without_credentials(env: dict[str, str | None], sample: Path) -> None:
    line = one_error_line(invoke(env, "upload", "contact", sample))
    assert "no API credentials" in line
    for name in ("BULKPREP_USER_SECRET", "BULKPREP_ORG_SECRET", "BULKPREP_ELEMENT_TOKEN"):
        assert name in line
    assert "--sandbox" in line and "--profile" in line


def test_upload_refused_rows_and_rejected_rows(
    env: dict[str, str | None], sandbox: Sandbox, sample: Path, tmp_path: Path
) -> None:
    environment = api_env(env, sandbox)
    assert invoke(environment, "upload", "contact", sample).exit_code == 0
    second = write_rows(
        tmp_path / "second.csv",
        [person("fresh@example.org"), person("bad-email"), person("norm.smith@acme.com")],
    )
    stopped = invoke(environment, "upload", "contact", second)
    assert stopped.exit_code == 1
    assert "pass --skip-invalid" in stopped.stdout and len(sandbox.jobs()) == 1
    result = invoke(environment, "upload", "contact", second, "--skip-invalid")
    assert result.exit_code == 1
    assert f"{second}: line 4, C_EmailAddress: error [server-rejected]" in result.stdout
    assert result.stdout.splitlines()[-1] == (
        "read 3, rejected locally 1, imported 1, refused by the server 1"
    )
    again = invoke(environment, "upload", "contact", sample)
    line = one_error_line(again)
    assert "already uploaded" in line and "bulkprep status 1" in line


# -- jobs, status, wait, errors, cancel --------------------------------------------------


def test_job_commands(
    env: dict[str, str | None], sandbox: Sandbox, sample: Path, tmp_path: Path
) -> None:
    environment = api_env(env, sandbox)
    assert "no jobs in the journal" in invoke(environment, "jobs").stdout
    submitted = invoke(environment, "upload", "contact", sample, "--no-wait")
    assert submitted.exit_code == 0, submitted.output

    listed = invoke(environment, "jobs")
    assert listed.exit_code == 0
    (line,) = listed.stdout.splitlines()
    assert line.split()[0] == "1" and "contact" in line and str(sample) in line

    waited = invoke(environment, "wait", "1")
    assert waited.exit_code == 0, waited.output
    assert waited.stdout.splitlines() == ["job 1: COMPLETED, 10 records, 0 failed"]
    assert "job 1: " in waited.stderr

    status = invoke(environment, "status", "1")
    assert status.exit_code == 0
    body = json.loads(status.stdout)
    assert (body["id"], body["status"], body["recordsCount"]) == ("1", "COMPLETED", 10)
    (entry,) = json.loads(invoke(environment, "jobs", "--format", "json").stdout)
    assert (entry["job_id"], entry["status"], entry["records_count"]) == ("1", "COMPLETED", 10)

    second = write_rows(
        tmp_path / "second.csv", [person("norm.smith@acme.com"), person("new@example.org")]
    )
    assert invoke(environment, "upload", "contact", second, "--no-wait").exit_code == 0
    waited = invoke(environment, "wait", "2")
    assert waited.exit_code == 1
    assert waited.stdout.splitlines() == [
        "job 2: COMPLETED, 2 records, 1 failed",
        "see the failed records with: bulkprep errors 2",
    ]
    errors = invoke(environment, "errors", "2")
    assert errors.exit_code == 1
    assert errors.stdout.splitlines() == [
        "record 1: norm.smith@acme.com: Email address already exists",
        "1 failed records in job 2",
    ]
    (failure,) = json.loads(invoke(environment, "errors", "2", "--format", "json").stdout)
    assert failure["recordNumber"] == 1 and failure["record"]["C_FirstName"] == "Pat"
    assert invoke(environment, "errors", "1").stdout == "0 failed records in job 1\n"

    finished = invoke(environment, "cancel", "1")
    assert finished.exit_code == 0
    assert finished.stdout == "job 1: already finished (COMPLETED); nothing to cancel\n"
    missing = one_error_line(invoke(environment, "status", "999"))
    assert "HTTP 404" in missing and "999" in missing
    assert [line.split()[0] for line in invoke(environment, "jobs").stdout.splitlines()] == [
        "2",
        "1",
    ]


def test_api_commands_never_show_secrets(
    env: dict[str, str | None], sandbox: Sandbox, sample: Path, tmp_path: Path
) -> None:
    environment = api_env(env, sandbox)
    refused = write_rows(tmp_path / "refused.csv", [person("norm.smith@acme.com")])
    results = [
        invoke(environment, "upload", "contact", sample, "--report", tmp_path / "r1.json"),
        invoke(environment, "upload", "contact", refused, "--report", tmp_path / "r2.json"),
        invoke(environment, "upload", "contact", sample),  # a duplicate
        invoke(environment, "jobs", "--format", "json"),
        invoke(environment, "status", "2"),
        invoke(environment, "errors", "2", "--format", "json"),
        invoke(environment, "wait", "2"),
        invoke(environment, "cancel", "2"),
    ]
    assert [r.exit_code for r in results] == [0, 1, 2, 0, 0, 1, 1, 0]
    wrong = {**environment, "BULKPREP_USER_SECRET": "usr-WRONG-5a5a5a"}
    denied = one_error_line(invoke(wrong, "status", "1"))
    assert "HTTP 401" in denied
    texts = [r.output for r in results] + [denied]
    texts += [p.read_text(encoding="utf-8") for p in tmp_path.glob("*.json")]
    texts.append((tmp_path / "state" / "journal.sqlite3").read_bytes().decode("utf-8", "replace"))
    for text in texts:
        for secret in (SECRETS.user, SECRETS.organization, SECRETS.element, "usr-WRONG-5a5a5a"):
            assert secret not in text


def test_cancel_a_running_job(env: dict[str, str | None], sample: Path) -> None:
    with Sandbox(step_seconds=30) as slow:
        environment = api_env(env, slow)
        assert invoke(environment, "upload", "contact", sample, "--no-wait").exit_code == 0
        result = invoke(environment, "cancel", "1")
        assert result.exit_code == 0, result.output
        assert result.stdout == "job 1: cancel requested, status CANCELLED\n"
        assert slow.jobs()[0]["status"] == "CANCELLED"
    (entry,) = json.loads(invoke(environment, "jobs", "--format", "json").stdout)
    assert entry["status"] == "CANCELLED"


def test_objects(env: dict[str, str | None], sandbox: Sandbox) -> None:
    result = invoke(api_env(env, sandbox), "objects")
    assert result.exit_code == 0
    assert "contact" in result.stdout.splitlines()


# -- verify-callback ------------------------------------------------------------------


def test_verify_callback(env: dict[str, str | None], tmp_path: Path) -> None:
    key = "callback-key-for-tests"
    body = b'{"id": "7", "status": "COMPLETED", "recordsCount": 10}'
    signature = sign(body, key)
    path = tmp_path / "body.json"
    path.write_bytes(body)
    keyed = {**env, "BULKPREP_SIGNATURE_KEY": key}

    valid = invoke(keyed, "verify-callback", "--signature", signature, "--body", path)
    assert (valid.exit_code, valid.stdout) == (0, "valid signature\n")
    piped = invoke(keyed, "verify-callback", "--signature", signature, input=body)
    assert piped.exit_code == 0

    path.write_bytes(body.replace(b"10", b"11"))
    tampered = invoke(keyed, "verify-callback", "--signature", signature, "--body", path)
    assert tampered.exit_code == 1 and tampered.stdout.startswith("INVALID signature")
    wrong_key = {**env, "BULKPREP_SIGNATURE_KEY": "another-key"}
    assert invoke(wrong_key, "verify-callback", "--signature", signature, input=body).exit_code == 1
    garbage = invoke(keyed, "verify-callback", "--signature", "sha256=***", input=body)
    assert garbage.exit_code == 1

    line = one_error_line(invoke(env, "verify-callback", "--signature", signature, input=body))
    assert "BULKPREP_SIGNATURE_KEY" in line


# -- help and the sandbox command -----------------------------------------------------


def walk(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from walk(sub, (*path, name))


COMMANDS = list(walk(cli))


def test_the_command_tree_is_complete() -> None:
    names = {" ".join(p) for p in COMMANDS}
    expected = {
        "clean", "validate", "schema", "schema list", "schema show", "schema check",
        "schema pull", "upload", "jobs", "status", "wait", "errors", "cancel", "objects",
        "sandbox", "verify-callback",
    }  # fmt: skip
    assert expected <= names


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "bulkprep")
def test_every_command_has_help(env: dict[str, str | None], path: tuple[str, ...]) -> None:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    assert (command.help or "").strip(), f"{' '.join(path)} has no help text"
    result = invoke(env, *path, "--help")
    assert result.exit_code == 0
    assert result.stdout.startswith("Usage: ")
    assert (command.help or "").strip().split("\n")[0][:40] in " ".join(result.stdout.split())


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (["bogus"], "bad fault spec 'bogus'"),
        (["nope:0.1"], "unknown kind 'nope'"),
        (["429:2"], "between 0 and 1"),
        (["429:0.7", "503:0.6"], "add up to"),
    ],
)
def test_sandbox_rejects_bad_fault_specs(
    env: dict[str, str | None], specs: list[str], message: str
) -> None:
    args = [part for spec in specs for part in ("--fault", spec)]
    result = invoke(env, "sandbox", "--port", "0", *args)
    assert result.exit_code == 2
    assert "--fault" in result.stderr and message in result.stderr
    assert "Traceback" not in result.output and "listening" not in result.output
