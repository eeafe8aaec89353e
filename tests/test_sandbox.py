"""The local sandbox, exercised over real sockets with ``requests``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from helpers import HEADER

from bulkprep._exceptions import SandboxError
from bulkprep.sandbox import FaultPlan, Sandbox, SandboxCredentials

FINAL = {"COMPLETED", "FAILED", "CANCELLED"}
SEED_CSV = (
    "C_EmailAddress,C_FirstName,C_LastName,C_Title,C_BusPhone,C_Company,C_Website1\n"
    "ada@example.com,Ada,Lovelace,Countess,+44 20 7946 0018,Analytical,https://ada.example\n"
    "alan@example.com,Alan,Turing,Dr,+44 20 7946 0019,Bletchley,https://alan.example\n"
    "grace@example.com,Grace,Hopper,Rear Admiral,+1 202 555 0100,Navy,https://grace.example\n"
)


# -- fixtures and helpers -------------------------------------------------------------


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    started: list[Sandbox] = []

    def make(**options: Any) -> Sandbox:
        options.setdefault("step_seconds", 0.01)
        sandbox = Sandbox(**options).start()
        started.append(sandbox)
        return sandbox

    yield make
    for sandbox in started:
        sandbox.stop()


@pytest.fixture
def sandbox(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    return make_sandbox()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False  # loopback only, never through a proxy
        yield session


def api(
    sb: Sandbox, http: requests.Session, method: str, path: str, *, auth: bool = True, **kw: Any
) -> requests.Response:
    headers = dict(kw.pop("headers", None) or {})
    if auth:
        headers.setdefault("Authorization", sb.auth_header)
    return http.request(method, sb.base_url + path, headers=headers, timeout=10, **kw)


def upload(
    sb: Sandbox,
    http: requests.Session,
    text: str,
    *,
    obj: str = "contact",
    meta: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    name: str = "contacts.csv",
) -> requests.Response:
    return api(
        sb,
        http,
        "POST",
        f"/hubs/marketing/bulk/{obj}",
        params={"path": f"/{name}"},
        files={"file": (name, text.encode("utf-8"), "text/csv")},
        data={"metaData": json.dumps(meta)} if meta is not None else None,
        headers=headers,
    )


def wait_final(sb: Sandbox, http: requests.Session, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while True:
        status = api(sb, http, "GET", f"/hubs/marketing/bulk/{job_id}/status").json()
        if status["status"] in FINAL:
            return status
        assert time.monotonic() < deadline, f"job {job_id} never finished: {status}"
        time.sleep(0.01)


def run_job(sb: Sandbox, http: requests.Session, text: str, **kw: Any) -> dict[str, Any]:
    response = upload(sb, http, text, **kw)
    assert response.status_code == 200, response.text
    return wait_final(sb, http, response.json()["id"])


def assert_error(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"message", "requestId", "providerMessage"}
    assert body["message"]
    assert body["providerMessage"] is None
    assert body["requestId"] == response.headers["Elements-Request-Id"]
    return body


def contacts(*emails: str) -> str:
    return "C_EmailAddress,C_FirstName\n" + "".join(f"{e},N{i}\n" for i, e in enumerate(emails))


class CallbackReceiver:
    """A tiny HTTP server on loopback that keeps what it receives."""

    def __init__(self) -> None:
        received: queue.Queue[tuple[dict[str, str], bytes]] = queue.Queue()
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received.put((dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def get(self) -> tuple[dict[str, str], bytes]:
        return self.received.get(timeout=15)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    rec = CallbackReceiver()
    yield rec
    rec.close()


# -- auth and catalog -----------------------------------------------------------------


def test_missing_auth_is_refused_with_platform_error_body(
    sandbox: Sandbox, http: requests.Session
) -> None:
    body = assert_error(api(sandbox, http, "GET", "/hubs/marketing/objects", auth=False), 401)
    assert "Authorization" in body["message"]


@pytest.mark.parametrize(
    "header",
    [
        "User sandbox-user-secret, Organization sandbox-org-secret, Element wrong",
        "User sandbox-user-secret, Organization sandbox-org-secret",
        "User sandbox-user-secret, User x, Element sandbox-element-token",
        "Bearer abc",
        "",
    ],
)
def test_wrong_auth_is_refused(sandbox: Sandbox, http: requests.Session, header: str) -> None:
    response = api(
        sandbox, http, "GET", "/hubs/marketing/objects", headers={"Authorization": header}
    )
    body = assert_error(response, 401)
    assert "sandbox-org-secret" not in body["message"]


def test_auth_parts_in_any_order_and_spacing(sandbox: Sandbox, http: requests.Session) -> None:
    header = (
        "Element sandbox-element-token ,Organization   sandbox-org-secret,"
        "  User\tsandbox-user-secret  "
    )
    response = api(
        sandbox, http, "GET", "/hubs/marketing/objects", headers={"Authorization": header}
    )
    assert response.status_code == 200


def test_custom_credentials_and_masked_repr(make_sandbox: Callable[..., Sandbox]) -> None:
    creds = SandboxCredentials(user="u1", organization="o1", element="e1")
    sb = make_sandbox(credentials=creds)
    assert sb.auth_header == "User u1, Organization o1, Element e1"
    assert sb.credentials is creds
    assert "sandbox-user-secret" not in repr(SandboxCredentials())
    assert sb.base_url == f"http://127.0.0.1:{sb.port}/elements/api-v2"


def test_objects(sandbox: Sandbox, http: requests.Session) -> None:
    response = api(sandbox, http, "GET", "/hubs/marketing/objects")
    assert response.json() == ["activities", "contact", "campaign", "list", "account"]
    assert response.headers["Elements-Request-Id"]


@pytest.mark.parametrize(
    "path", ["/objects/contact/metadata", "/hubs/marketing/objects/contact/metadata"]
)
def test_contact_metadata(sandbox: Sandbox, http: requests.Session, path: str) -> None:
    fields = api(sandbox, http, "GET", path).json()["fields"]
    assert [f["vendorPath"] for f in fields] == HEADER
    email = fields[0]
    assert email["type"] == "string"
    assert email["vendorNativeType"] == "email"
    assert email["vendorRequired"] is True
    assert email["vendorReadOnly"] is False
    assert email["vendorDisplayName"] == "Email Address"


def test_metadata_of_every_object_and_unknown(sandbox: Sandbox, http: requests.Session) -> None:
    for name in ["activities", "campaign", "list", "account"]:
        fields = api(sandbox, http, "GET", f"/objects/{name}/metadata").json()["fields"]
        assert fields and all(set(f) >= {"vendorPath", "type", "vendorRequired"} for f in fields)
    assert_error(api(sandbox, http, "GET", "/objects/widget/metadata"), 404)


def test_unknown_routes_wrong_hub_and_method(sandbox: Sandbox, http: requests.Session) -> None:
    assert_error(api(sandbox, http, "GET", "/hubs/marketing/nothing"), 404)
    assert_error(api(sandbox, http, "GET", "/hubs/crm/objects"), 404)
    assert_error(api(sandbox, http, "DELETE", "/hubs/marketing/objects"), 405)
    assert_error(api(sandbox, http, "GET", "/hubs/marketing/bulk/999/status"), 404)
    assert_error(api(sandbox, http, "GET", "/hubs/marketing/bulk/abc/status"), 404)
    assert_error(api(sandbox, http, "GET", "/hubs/marketing/bulk/999/errors"), 404)
    outside = http.get(f"http://127.0.0.1:{sandbox.port}/elsewhere", timeout=10)
    assert_error(outside, 404)


# -- the job flow ---------------------------------------------------------------------


def test_seed_flow(sandbox: Sandbox, http: requests.Session) -> None:
    response = upload(sandbox, http, SEED_CSV)
    assert response.status_code == 200
    created = response.json()
    assert created["status"] == "CREATED"
    assert created["id"].isdigit()

    status = wait_final(sandbox, http, created["id"])
    assert status["status"] == "COMPLETED"
    assert status["id"] == created["id"]
    assert status["objectName"] == "contact"
    assert (status["recordsCount"], status["recordsFailedCount"]) == (3, 0)
    assert status["fileName"] == "contacts.csv"
    assert status["action"] == "insert"
    assert status["identifierFieldName"] is None
    assert status["createdDate"] <= status["updatedDate"]

    stored = sandbox.records("contact")
    assert [r["C_EmailAddress"] for r in stored] == [
        "ada@example.com",
        "alan@example.com",
        "grace@example.com",
    ]
    assert stored[0]["C_Company"] == "Analytical"
    assert sandbox.jobs() == [status]
    errors = api(sandbox, http, "GET", f"/hubs/marketing/bulk/{created['id']}/errors")
    assert errors.json() == []
    assert errors.headers["elements-returned-count"] == "0"
    assert not errors.headers.get("elements-next-page-token")


def test_job_ids_increase_and_other_objects_accept_everything(
    sandbox: Sandbox, http: requests.Session
) -> None:
    first = run_job(sandbox, http, "M_CompanyName,M_City\nAcme,Paris\nAcme,Paris\n", obj="account")
    second = run_job(sandbox, http, "name,description\nSpring,\n", obj="campaign")
    assert int(second["id"]) > int(first["id"])
    assert (first["recordsCount"], first["recordsFailedCount"]) == (2, 0)
    assert sandbox.records("account") == [{"M_CompanyName": "Acme", "M_City": "Paris"}] * 2
    assert sandbox.records("campaign") == [{"name": "Spring", "description": ""}]


def test_failed_records_are_listed_in_pages(sandbox: Sandbox, http: requests.Session) -> None:
    run_job(sandbox, http, contacts("ada@example.com", "alan@example.com"))
    text = (
        "C_EmailAddress,C_FirstName\n"
        "new1@example.com,ok\n"  # 1
        "ADA@Example.com,dup-of-stored\n"  # 2
        "not-an-email,bad\n"  # 3
        ",missing\n"  # 4
        "new2@example.com,ok\n"  # 5
        "new1@example.com,dup-in-file\n"  # 6
        "x@example.com,ragged,extra\n"  # 7
        "alan@example.com,dup-of-stored\n"  # 8
    )
    status = run_job(sandbox, http, text)
    assert (status["recordsCount"], status["recordsFailedCount"]) == (8, 6)

    pages, token = [], None
    while True:
        params = {"pageSize": 2} | ({"nextPage": token} if token else {})
        response = api(
            sandbox, http, "GET", f"/hubs/marketing/bulk/{status['id']}/errors", params=params
        )
        assert response.status_code == 200
        assert response.headers["elements-returned-count"] == str(len(response.json()))
        pages.append(response.json())
        token = response.headers.get("elements-next-page-token")
        if not token:
            break
    assert [len(page) for page in pages] == [2, 2, 2]
    failed = [item for page in pages for item in page]
    assert [(f["recordNumber"], f["error"]) for f in failed] == [
        (2, "Email address already exists"),
        (3, "Invalid email address"),
        (4, "C_EmailAddress is required"),
        (6, "Email address already exists"),
        (7, "Record has 3 fields, the header has 2"),
        (8, "Email address already exists"),
    ]
    assert failed[0]["record"] == {
        "C_EmailAddress": "ADA@Example.com",
        "C_FirstName": "dup-of-stored",
    }
    assert len(sandbox.records("contact")) == 4


def test_errors_paging_parameters_are_checked(sandbox: Sandbox, http: requests.Session) -> None:
    first = run_job(sandbox, http, contacts("bad", "worse"))
    second = run_job(sandbox, http, contacts("also-bad"))
    path = f"/hubs/marketing/bulk/{first['id']}/errors"
    assert_error(api(sandbox, http, "GET", path, params={"pageSize": 0}), 400)
    assert_error(api(sandbox, http, "GET", path, params={"pageSize": "ten"}), 400)
    assert_error(api(sandbox, http, "GET", path, params={"nextPage": "garbage!"}), 400)
    token = api(sandbox, http, "GET", path, params={"pageSize": 1}).headers[
        "elements-next-page-token"
    ]
    other = f"/hubs/marketing/bulk/{second['id']}/errors"
    assert_error(api(sandbox, http, "GET", other, params={"nextPage": token}), 400)
    big = api(sandbox, http, "GET", path, params={"pageSize": 5000})
    assert len(big.json()) == 2


def test_upsert_updates_the_stored_contact(sandbox: Sandbox, http: requests.Session) -> None:
    run_job(sandbox, http, "C_EmailAddress,C_FirstName,C_Title\nada@example.com,Ada,Countess\n")
    meta = {"format": "csv", "action": "upsert", "identifierFieldName": "C_EmailAddress"}
    text = "C_EmailAddress,C_FirstName\nADA@example.com,Augusta\nalan@example.com,Alan\n"
    status = run_job(sandbox, http, text, meta=meta)
    assert status["status"] == "COMPLETED"
    assert (status["action"], status["identifierFieldName"]) == ("upsert", "C_EmailAddress")
    assert (status["recordsCount"], status["recordsFailedCount"]) == (2, 0)
    stored = sandbox.records("contact")
    assert len(stored) == 2
    assert stored[0]["C_FirstName"] == "Augusta"
    assert stored[0]["C_Title"] == "Countess"  # fields not in the upsert file are kept


def test_batches_across_a_large_file(sandbox: Sandbox, http: requests.Session) -> None:
    emails = [f"user{i}@example.com" for i in range(12_000)]
    emails[7_000] = emails[10]  # record 7001 repeats record 11
    status = run_job(sandbox, http, contacts(*emails))
    assert (status["recordsCount"], status["recordsFailedCount"]) == (12_000, 1)
    failed = api(sandbox, http, "GET", f"/hubs/marketing/bulk/{status['id']}/errors").json()
    assert [(f["recordNumber"], f["error"]) for f in failed] == [
        (7_001, "Email address already exists")
    ]
    assert len(sandbox.records("contact")) == 11_999


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"data": b"C_EmailAddress\na@b.co\n", "headers": {"Content-Type": "text/csv"}}, 415),
        ({"files": {"metaData": (None, "{}")}}, 400),
        ({"files": {"file": ("c.csv", b"C_EmailAddress\n")}, "data": {"metaData": "{nope"}}, 400),
        ({"files": {"file": ("c.csv", b"C_EmailAddress\n")}, "data": {"metaData": "[1]"}}, 400),
        (
            {
                "files": {"file": ("c.csv", b"C_EmailAddress\n")},
                "data": {"metaData": json.dumps({"action": "upsert"})},
            },
            400,
        ),
        (
            {
                "files": {"file": ("c.csv", b"C_EmailAddress\n")},
                "headers": {"Elements-Async-Callback-Url": "https://example.com/hook"},
            },
            400,
        ),
    ],
    ids=[
        "not-multipart",
        "no-file",
        "bad-json",
        "meta-not-object",
        "upsert-no-id",
        "remote-callback",
    ],
)
def test_upload_is_validated(
    sandbox: Sandbox, http: requests.Session, kwargs: dict[str, Any], status: int
) -> None:
    assert_error(api(sandbox, http, "POST", "/hubs/marketing/bulk/contact", **kwargs), status)
    assert sandbox.jobs() == []


def test_upload_to_unknown_object_is_404(sandbox: Sandbox, http: requests.Session) -> None:
    assert_error(upload(sandbox, http, SEED_CSV, obj="widget"), 404)


def test_cancel_unfinished_job(
    make_sandbox: Callable[..., Sandbox], http: requests.Session
) -> None:
    sb = make_sandbox(step_seconds=0.2)
    job_id = upload(sb, http, SEED_CSV).json()["id"]
    response = api(sb, http, "PUT", f"/hubs/marketing/bulk/{job_id}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "CANCELLED"
    # The worker handles jobs in order: once a later job is done, the cancelled one was seen.
    later = run_job(sb, http, "M_CompanyName\nAcme\n", obj="account")
    assert later["status"] == "COMPLETED"
    assert wait_final(sb, http, job_id)["status"] == "CANCELLED"
    assert sb.records("contact") == []


def test_cancel_finished_job_is_409(sandbox: Sandbox, http: requests.Session) -> None:
    status = run_job(sandbox, http, SEED_CSV)
    body = assert_error(
        api(sandbox, http, "PUT", f"/hubs/marketing/bulk/{status['id']}/cancel"), 409
    )
    assert "COMPLETED" in body["message"]
    assert_error(api(sandbox, http, "PUT", "/hubs/marketing/bulk/424242/cancel"), 404)


def test_fail_jobs(make_sandbox: Callable[..., Sandbox], http: requests.Session) -> None:
    sb = make_sandbox(fail_jobs=True)
    assert run_job(sb, http, SEED_CSV)["status"] == "FAILED"
    assert sb.records("contact") == []


def test_unreadable_file_fails_the_job(sandbox: Sandbox, http: requests.Session) -> None:
    response = api(
        sandbox,
        http,
        "POST",
        "/hubs/marketing/bulk/contact",
        files={"file": ("c.csv", b"C_EmailAddress\n\xff\xfe\xfa@x.com\n")},
    )
    assert wait_final(sandbox, http, response.json()["id"])["status"] == "FAILED"


def test_jobs_listing_with_where_and_paging(sandbox: Sandbox, http: requests.Session) -> None:
    first = run_job(sandbox, http, contacts("a@example.com"))
    account = run_job(sandbox, http, "M_CompanyName\nAcme\n", obj="account")
    third = run_job(sandbox, http, contacts("b@example.com"))

    def listing(**params: Any) -> requests.Response:
        return api(sandbox, http, "GET", "/hubs/marketing/bulk/jobs", params=params)

    assert [j["id"] for j in listing().json()] == [third["id"], account["id"], first["id"]]
    assert listing(where="object_name='account'").json() == [account]
    both = listing(where="object_name = 'contact' AND job_status='COMPLETED'").json()
    assert [j["id"] for j in both] == [third["id"], first["id"]]
    assert listing(where="job_status='FAILED'").json() == []

    page1 = listing(pageSize=2)
    assert page1.headers["elements-returned-count"] == "2"
    page2 = listing(pageSize=2, nextPage=page1.headers["elements-next-page-token"])
    assert page2.json() == [first]
    assert not page2.headers.get("elements-next-page-token")

    assert_error(listing(where="colour='red'"), 400)
    assert_error(listing(where="object_name='contact' or 1=1"), 400)
    assert_error(listing(nextPage="???"), 400)


# -- faults ---------------------------------------------------------------------------


def test_fault_429_has_retry_after(
    make_sandbox: Callable[..., Sandbox], http: requests.Session
) -> None:
    sb = make_sandbox(faults=FaultPlan(rates={"429": 1.0}, retry_after=0))
    response = api(sb, http, "GET", "/hubs/marketing/objects")
    assert_error(response, 429)
    assert response.headers["Retry-After"] == "0"
    sb.inject("429")
    assert sb.faults.retry_after == 0


@pytest.mark.parametrize("kind", ["500", "502", "503"])
def test_injected_server_errors(sandbox: Sandbox, http: requests.Session, kind: str) -> None:
    sandbox.inject(kind, path=r"/objects$", times=2)
    assert_error(api(sandbox, http, "GET", "/hubs/marketing/objects"), int(kind))
    assert api(sandbox, http, "GET", "/objects/contact/metadata").status_code == 200
    assert_error(api(sandbox, http, "GET", "/hubs/marketing/objects"), int(kind))
    assert api(sandbox, http, "GET", "/hubs/marketing/objects").status_code == 200
    assert [s for _, _, s in sandbox.requests_log] == [int(kind), 200, int(kind), 200]


def test_random_drop_closes_the_connection(
    make_sandbox: Callable[..., Sandbox], http: requests.Session
) -> None:
    sb = make_sandbox(faults=FaultPlan(rates={"drop": 1.0}))
    with pytest.raises(requests.ConnectionError):
        api(sb, http, "GET", "/hubs/marketing/objects")
    with pytest.raises(requests.ConnectionError):  # before handling: no job is created
        upload(sb, http, contacts(*[f"u{i}@example.com" for i in range(50_000)]))
    assert sb.requests_log == [
        ("GET", "/hubs/marketing/objects", None),
        ("POST", "/hubs/marketing/bulk/contact", None),
    ]
    assert sb.jobs() == []


def test_injected_drop_is_one_shot(sandbox: Sandbox, http: requests.Session) -> None:
    sandbox.inject("drop", method="GET")
    with pytest.raises(requests.ConnectionError):
        api(sandbox, http, "GET", "/hubs/marketing/objects")
    assert api(sandbox, http, "GET", "/hubs/marketing/objects").status_code == 200


def test_random_faults_follow_the_seed(
    make_sandbox: Callable[..., Sandbox], http: requests.Session
) -> None:
    def statuses(sb: Sandbox) -> list[int]:
        return [api(sb, http, "GET", "/hubs/marketing/objects").status_code for _ in range(30)]

    plan = {"429": 0.3, "503": 0.3}
    one = statuses(make_sandbox(faults=FaultPlan(rates=plan, seed=7, retry_after=0)))
    two = statuses(make_sandbox(faults=FaultPlan(rates=plan, seed=7, retry_after=0)))
    assert one == two
    assert {200, 429, 503} <= set(one)


def test_injection_filters_on_method_and_path(sandbox: Sandbox, http: requests.Session) -> None:
    sandbox.inject("503", method="POST", path=r"/hubs/marketing/bulk/contact$")
    assert api(sandbox, http, "GET", "/hubs/marketing/objects").status_code == 200
    assert run_job(sandbox, http, "M_CompanyName\nAcme\n", obj="account")["status"] == "COMPLETED"
    assert_error(upload(sandbox, http, SEED_CSV), 503)
    assert [j["objectName"] for j in sandbox.jobs()] == ["account"]  # refused before handling


def test_drop_after_handling_creates_the_job(sandbox: Sandbox, http: requests.Session) -> None:
    sandbox.inject("drop", method="POST", path=r"/bulk/contact$", after_handling=True)
    with pytest.raises(requests.ConnectionError):
        upload(sandbox, http, SEED_CSV)
    posts = [entry for entry in sandbox.requests_log if entry[0] == "POST"]
    assert posts == [("POST", "/hubs/marketing/bulk/contact", None)]
    [job] = sandbox.jobs()
    assert wait_final(sandbox, http, job["id"])["status"] == "COMPLETED"
    assert len(sandbox.records("contact")) == 3


def test_error_after_handling_creates_the_job(sandbox: Sandbox, http: requests.Session) -> None:
    sandbox.inject("502", method="POST", after_handling=True)
    assert_error(upload(sandbox, http, SEED_CSV), 502)
    [job] = sandbox.jobs()
    assert job["objectName"] == "contact"


def test_inject_rejects_unknown_kind(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        sandbox.inject("418")


def test_fault_plan_parse() -> None:
    plan = FaultPlan.parse(["429:0.2", "503:0.1", "drop:0.05"], seed=3)
    assert plan.rates == {"429": 0.2, "503": 0.1, "drop": 0.05}
    assert plan.seed == 3
    assert FaultPlan.parse(["500:0.1,502:0.2"]).rates == {"500": 0.1, "502": 0.2}
    assert FaultPlan.parse([]).draw() is None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("429", "expected KIND:RATE"),
        ("429:", "expected KIND:RATE"),
        ("418:0.1", "unknown kind"),
        ("429:lots", "not a number"),
        ("429:1.5", "between 0 and 1"),
        ("429:0.1,429:0.2", "given twice"),
        ("429:0.6,503:0.6", "at most 1"),
    ],
)
def test_fault_plan_parse_errors(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FaultPlan.parse([spec])


# -- callbacks, lifecycle, persistence ------------------------------------------------


def test_signed_callback(
    make_sandbox: Callable[..., Sandbox], http: requests.Session, receiver: CallbackReceiver
) -> None:
    key = "callback-signing-key"
    sb = make_sandbox(signature_key=key)
    response = upload(sb, http, SEED_CSV, headers={"Elements-Async-Callback-Url": receiver.url})
    headers, body = receiver.get()
    digest = hmac.new(key.encode(), body, hashlib.sha256).digest()
    expected = "sha256=" + base64.b64encode(digest).decode()
    assert hmac.compare_digest(headers["Elements-Webhook-Signature"], expected)
    final = json.loads(body)
    assert final["id"] == response.json()["id"]
    assert final["status"] == "COMPLETED"
    assert final["recordsCount"] == 3


def test_callback_failure_does_not_stop_the_worker(
    sandbox: Sandbox, http: requests.Session, receiver: CallbackReceiver
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{probe.getsockname()[1]}/hook"
    run_job(sandbox, http, SEED_CSV, headers={"Elements-Async-Callback-Url": dead_url})
    upload(
        sandbox,
        http,
        contacts("z@example.com"),
        headers={"Elements-Async-Callback-Url": receiver.url},
    )
    headers, body = receiver.get()
    assert json.loads(body)["status"] == "COMPLETED"
    assert "Elements-Webhook-Signature" not in headers


def test_stop_frees_the_port(http: requests.Session) -> None:
    sb = Sandbox(step_seconds=0.01).start()
    port = sb.port
    assert api(sb, http, "GET", "/hubs/marketing/objects").status_code == 200
    sb.stop()
    sb.stop()  # idempotent
    with pytest.raises(requests.ConnectionError):
        http.get(f"http://127.0.0.1:{port}/elements/api-v2/hubs/marketing/objects", timeout=5)
    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))
    with Sandbox(port=port) as second:
        assert second.port == port


def test_busy_port_raises_sandbox_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(SandboxError, match="cannot listen"):
            Sandbox(port=busy.getsockname()[1]).start()


def test_data_dir_is_kept_and_reused(tmp_path: Path, http: requests.Session) -> None:
    with Sandbox(data_dir=tmp_path, step_seconds=0.01) as sb:
        first = run_job(sb, http, SEED_CSV)
    assert (tmp_path / "sandbox.db").exists()
    assert list((tmp_path / "uploads").iterdir()) == []  # uploads are removed once processed
    with Sandbox(data_dir=tmp_path, step_seconds=0.01) as sb:
        assert len(sb.records("contact")) == 3
        assert sb.jobs() == [first]
        again = run_job(sb, http, contacts("ada@example.com"))
        assert again["recordsFailedCount"] == 1
        assert int(again["id"]) > int(first["id"])


def test_restart_queues_created_jobs_and_fails_interrupted_ones(
    tmp_path: Path, http: requests.Session
) -> None:
    with Sandbox(data_dir=tmp_path, step_seconds=30) as sb:
        waiting = upload(sb, http, SEED_CSV).json()["id"]  # stays CREATED: the step is long
    with Sandbox(data_dir=tmp_path, step_seconds=0.01) as sb:
        assert wait_final(sb, http, waiting)["status"] == "COMPLETED"
        assert len(sb.records("contact")) == 3
    with Sandbox(data_dir=tmp_path, step_seconds=0.2, fail_jobs=True) as sb:
        running = upload(sb, http, contacts("x@example.com")).json()["id"]
        deadline = time.monotonic() + 15
        while (
            api(sb, http, "GET", f"/hubs/marketing/bulk/{running}/status").json()["status"]
            != "RUNNING"
        ):
            assert time.monotonic() < deadline
            time.sleep(0.01)
    with Sandbox(data_dir=tmp_path, step_seconds=0.01) as sb:
        assert wait_final(sb, http, running)["status"] == "FAILED"


def test_file_name_is_kept_as_sent(sandbox: Sandbox, http: requests.Session) -> None:
    name = "contacts-3f2a9c-20240501T120000Z-k2.csv"
    status = run_job(sandbox, http, SEED_CSV, name=name)
    assert status["fileName"] == name
    jobs = api(
        sandbox, http, "GET", "/hubs/marketing/bulk/jobs", params={"where": f"file_name='{name}'"}
    )
    assert [j["id"] for j in jobs.json()] == [status["id"]]


def test_serve_forever_runs_until_interrupted(http: requests.Session) -> None:
    root = Path(__file__).resolve().parents[1]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
    }
    code = (
        "from bulkprep.sandbox import Sandbox, serve_forever; "
        "serve_forever(Sandbox(step_seconds=0.01))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
        base_url = first.split()[-1]
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/elements/api-v2")
        printed = "".join(proc.stderr.readline() for _ in range(3))
        assert "sandbox-user-secret" in printed and "sandbox-element-token" in printed
        headers = {"Authorization": SandboxCredentials().auth_header}
        assert http.get(base_url + "/hubs/marketing/objects", headers=headers, timeout=10).ok
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
        assert "stopped" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
