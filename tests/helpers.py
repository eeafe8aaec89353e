"""Helpers shared by the test modules: contact rows written as CSV, the sandbox's
secrets used by the upload tests, and views of what a sandbox was sent.

The contact header is written out here, not taken from bulkprep: it is the answer key
the schema and the sandbox's catalog are checked against.
"""

from __future__ import annotations

import csv
from pathlib import Path

from bulkprep.sandbox import Sandbox, SandboxCredentials

HEADER = [
    "C_EmailAddress", "C_FirstName", "C_LastName", "C_Title", "C_BusPhone", "C_Company",
    "C_Website1",
]  # fmt: skip
SECRETS = SandboxCredentials(
    user="usr-SECRET-7f3a9c", organization="org-SECRET-1b2c3d", element="elm-SECRET-9e8d7c"
)
SECRET_VALUES = (SECRETS.user, SECRETS.organization, SECRETS.element)


def person(email: str, first: str = "Pat", **cells: str) -> list[str]:
    """A contact row with the given email and first name, and any other cells."""
    row = dict.fromkeys(HEADER, "")
    row.update(C_EmailAddress=email, C_FirstName=first, C_LastName="Doe", C_Company="Acme")
    row.update(cells)
    return [row[name] for name in HEADER]


def write_rows(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_csv(path: str | Path) -> list[dict[str, str]]:
    with Path(path).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def posts(sb: Sandbox) -> list[tuple[str, str, int | None]]:
    """The POST requests the sandbox received: (method, path, status)."""
    return [entry for entry in sb.requests_log if entry[0] == "POST"]
