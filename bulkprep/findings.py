"""Findings: problems in the data, as data.

Every finding carries a stable kebab-case ``code`` from :data:`CATALOG`. A code is
never renamed or reused for another meaning; ``docs/findings.md`` documents each
one and a test keeps the page and the catalog in step.

A finding's ``line`` is the physical line where its record starts (the header is
line 1 and newlines inside quoted fields count); ``row`` is the 1-based data row.
File-level findings have ``line`` and ``row`` set to ``None``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """``error`` rejects the row (or the file); ``warning`` keeps it."""

    ERROR = "error"
    WARNING = "warning"


class Scope(StrEnum):
    FILE = "file"
    ROW = "row"
    CELL = "cell"


@dataclass(frozen=True)
class Code:
    """One entry of the catalog: a stable code with its title and default severity."""

    code: str
    title: str
    scope: Scope
    severity: Severity
    description: str
    example: str


@dataclass(frozen=True)
class Finding:
    """One problem found in the data."""

    line: int | None
    row: int | None
    column: str | None
    value: str | None
    code: str
    severity: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def is_error(self) -> bool:
        return self.severity == Severity.ERROR.value


def _c(
    code: str, title: str, scope: Scope, severity: Severity, description: str, example: str
) -> Code:
    return Code(code, title, scope, severity, description, example)


E, W = Severity.ERROR, Severity.WARNING
F, R, C = Scope.FILE, Scope.ROW, Scope.CELL

CATALOG: dict[str, Code] = {
    c.code: c
    for c in [
        # File level
        _c(
            "missing-column",
            "Missing column",
            F,
            E,
            "A column of the schema has no matching header in the file. For a required "
            "column this is an error and every row is rejected; for an optional column it "
            "is a warning and the column is left empty in the clean file.",
            "Required column 'C_EmailAddress' is missing from the header.",
        ),
        _c(
            "extra-column",
            "Extra column",
            F,
            W,
            "A header matches no column of the schema (by name, case- and "
            "whitespace-insensitively, or by alias). The column is dropped from the clean file.",
            "Column 'Fax' is not in schema 'contact'; it is dropped from the clean file.",
        ),
        _c(
            "duplicate-header",
            "Duplicate header",
            F,
            E,
            "Two headers name the same schema column (directly or through an alias), so "
            "it is not clear which to use. Every row is rejected until the header is fixed.",
            "Headers 'Email' (column 1) and 'C_EmailAddress' (column 4) both map to "
            "'C_EmailAddress'.",
        ),
        # Row level (structure)
        _c(
            "ragged-row",
            "Ragged row",
            R,
            E,
            "The record has fewer or more cells than the header. The row is rejected; its "
            "cells are kept in the rejects file and any surplus cells are quoted in the message.",
            "Row has 5 cells, the header has 7.",
        ),
        _c(
            "unterminated-quote",
            "Unterminated quote",
            R,
            E,
            "A quoted field is opened and never closed before the end of the file. The "
            "record's first line is rejected and reading resumes on the next line.",
            "A quoted field opened on this line is never closed.",
        ),
        # Cell level: checks
        _c(
            "missing-value",
            "Missing value",
            C,
            E,
            "A required column is empty (after trimming).",
            "C_EmailAddress is required but empty.",
        ),
        _c(
            "duplicate-value",
            "Duplicate value",
            C,
            E,
            "A unique column repeats a value, compared after normalization (so case "
            "differences in an email count). The first occurrence is kept; later ones are "
            "findings that name the line of the first.",
            "'ann@acme.com' already appears on line 4.",
        ),
        _c(
            "invalid-email",
            "Invalid email address",
            C,
            E,
            "The value is not a valid email address (checked by email-validator, without "
            "a DNS lookup).",
            "'ann@@acme' is not a valid email address: ...",
        ),
        _c(
            "invalid-phone",
            "Invalid phone number",
            C,
            E,
            "The value cannot be read as a phone number for the column's region (checked "
            "by phonenumbers).",
            "'12345' is not a possible phone number for region US.",
        ),
        _c(
            "invalid-url",
            "Invalid URL",
            C,
            E,
            "The value is not an http or https URL with a valid host name.",
            "'ftp://acme.com' uses scheme 'ftp'; only http and https are allowed.",
        ),
        _c(
            "invalid-integer",
            "Invalid integer",
            C,
            E,
            "The value is not a whole number.",
            "'12.5' is not an integer.",
        ),
        _c(
            "invalid-number",
            "Invalid number",
            C,
            E,
            "The value is not a number.",
            "'12,5x' is not a number.",
        ),
        _c(
            "invalid-boolean",
            "Invalid boolean",
            C,
            E,
            "The value is not one of the accepted true/false spellings.",
            "'maybe' is not a boolean (use true/false, yes/no, 1/0).",
        ),
        _c(
            "invalid-date",
            "Invalid date",
            C,
            E,
            "The value does not match the column's date format(s).",
            "'2024-13-01' is not a date in format %Y-%m-%d.",
        ),
        _c(
            "invalid-datetime",
            "Invalid date-time",
            C,
            E,
            "The value does not match the column's date-time format(s).",
            "'yesterday' is not a date-time in format %Y-%m-%dT%H:%M:%S.",
        ),
        _c(
            "not-allowed-value",
            "Value not allowed",
            C,
            E,
            "The value is not one of the column's allowed values.",
            "'Gold' is not one of: Customer, Prospect, Partner.",
        ),
        _c(
            "too-long",
            "Value too long",
            C,
            E,
            "The value has more characters than the column's max_length.",
            "Value has 140 characters; C_Company allows at most 100.",
        ),
        _c(
            "too-short",
            "Value too short",
            C,
            E,
            "The value has fewer characters than the column's min_length.",
            "Value has 1 character; at least 2 are needed.",
        ),
        _c(
            "pattern-mismatch",
            "Pattern mismatch",
            C,
            E,
            "The value does not match the column's regular expression.",
            "'AB-1' does not match pattern ^[A-Z]{2}-\\d{4}$.",
        ),
        _c(
            "out-of-range",
            "Out of range",
            C,
            E,
            "The value is below the column's minimum or above its maximum.",
            "150 is above the maximum 100.",
        ),
        _c(
            "formula-injection",
            "Possible formula injection",
            C,
            E,
            "A text cell starts with =, +, -, @, a tab or a carriage return, which a "
            "spreadsheet may run as a formula. The schema's formula policy decides: "
            "reject (default), escape, or allow.",
            "'=HYPERLINK(\"http://evil\")' starts with '='.",
        ),
        # Cell level: repairs (warnings: the row is kept with the repaired value)
        _c(
            "whitespace-trimmed",
            "Whitespace trimmed",
            C,
            W,
            "Leading or trailing white space (including no-break spaces and zero-width "
            "characters) was removed.",
            "' Acme ' was trimmed to 'Acme'.",
        ),
        _c(
            "email-lowercased",
            "Email lower-cased",
            C,
            W,
            "An email address had upper-case letters and was lower-cased.",
            "'Ann@Acme.com' was lower-cased to 'ann@acme.com'.",
        ),
        _c(
            "phone-repaired",
            "Phone number repaired",
            C,
            W,
            "A malformed phone number (unbalanced parentheses, stray characters, letters) "
            "could still be read as a possible number and was rewritten in E.164. Check "
            "that it is the intended number.",
            "'444) 444-1234' was repaired to '+14444441234' (unbalanced parenthesis).",
        ),
        _c(
            "url-scheme-added",
            "URL scheme added",
            C,
            W,
            "A URL had no scheme; the column's default scheme was added.",
            "'www.acme.com' became 'https://www.acme.com'.",
        ),
        _c(
            "formula-escaped",
            "Formula escaped",
            C,
            W,
            "A text cell that a spreadsheet would run as a formula was prefixed with a "
            "single quote, because the column's formula policy is 'escape'.",
            "'=1+1' was escaped to \"'=1+1\".",
        ),
        # Server side
        _c(
            "server-count-mismatch",
            "Server counts disagree",
            F,
            W,
            "A finished job's own record counts (recordsCount, recordsFailedCount) do not "
            "match the rows sent or the failed records its error list returned. The rows are "
            "still counted from the error list; check the job with `bulkprep status` and "
            "`bulkprep errors`.",
            "Job 12 reports 3 failed records but its error list has 2.",
        ),
        _c(
            "server-rejected",
            "Refused by the server",
            R,
            E,
            "The row was uploaded, and the bulk job reported it as a failed record. The "
            "message is the server's reason.",
            "Server refused the record: Email address already exists.",
        ),
    ]
}


def catalog_markdown() -> str:
    """The findings page, ``docs/findings.md``, rendered from the catalog.

    Regenerate the page with ``python -m bulkprep.findings > docs/findings.md``;
    a test fails when the page and the catalog differ.
    """
    scope_title = {Scope.FILE: "File", Scope.ROW: "Row", Scope.CELL: "Cell"}
    out = [
        "# Finding codes",
        "",
        "Every problem bulkprep finds in the data is a *finding* with a stable kebab-case",
        "code from this catalog. Codes are never renamed or reused. `error` findings reject",
        "the row (file-level errors reject every row); `warning` findings keep it. A schema",
        "can change the severity of a code per column (`severity:`), see",
        "[the schema format](schema-format.md).",
        "",
        "This page is generated from `bulkprep/findings.py`",
        "(`python -m bulkprep.findings > docs/findings.md`); a test keeps them in step.",
        "",
        "| code | level | default severity | title |",
        "| --- | --- | --- | --- |",
    ]
    out += [
        f"| [`{c.code}`](#{c.code}) | {scope_title[c.scope]} | {c.severity.value} | {c.title} |"
        for c in CATALOG.values()
    ]
    for c in CATALOG.values():
        out += [
            "",
            f"## {c.code}",
            "",
            f"**{c.title}** ({scope_title[c.scope].lower()} level, {c.severity.value} by default)",
            "",
            c.description,
            "",
            f"Example message: {c.example}",
        ]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(catalog_markdown(), end="")
