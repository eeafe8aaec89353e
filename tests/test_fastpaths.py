"""The vectorized fast paths never disagree with email-validator and phonenumbers.

Wherever ``fast_email_ok`` says yes, email-validator accepts the address and its
normalized form, lower-cased, is the address itself. Wherever the ``fast_phone``
mask holds, phonenumbers finds the number possible for the region and writes the
same E.164 (with ``;ext=N`` for an extension, as the library path writes it).
End to end, a phone the library reads only leniently is never accepted silently.
"""

from __future__ import annotations

import csv
import io
import itertools
import random
import re
from pathlib import Path

import phonenumbers
import polars as pl
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, ValidationResult

import bulkprep
from bulkprep.emails import fast_email_ok
from bulkprep.phones import fast_phone

SETTINGS = settings(max_examples=60, deadline=None)

# -- emails --------------------------------------------------------------------------

EMAIL_EDGES = [
    "a..b@x.com",
    "a@b.c",
    "a@x.local",
    "a@sub.x.local",
    "a@x.localhost",
    "a@x.test",
    "a@x.invalid",
    "a@x.onion",
    "a@x.arpa",
    "a@local.com",
    "A@X.COM",
    "a@xn--bcher-kva.com",
    "a@x.xn--p1ai",
    "a@ab--cd.com",
    "a--b@x.com",
    "a@-x.com",
    "a@x-.com",
    "a@x..com",
    ".a@x.com",
    "a.@x.com",
    "a@x.com.",
    "a@x.c0m",
    "a@1.2.3.4",
    "a@[1.2.3.4]",
    "a@localhost",
    "-a@x.com",
    "a-@x.com",
    "_@x.com",
    "a+tag@x.com",
    "a!b@x.com",
    '"a b"@x.com',
    "a@x_y.com",
    "a@x.co",
    "ann@example.com",
    "first.last@sub.example.co.uk",
    "a" * 64 + "@x.com",
    "a" * 65 + "@x.com",
    "a@" + "b" * 63 + ".com",
    "a@" + "b" * 64 + ".com",
]


def _address(length: int, local: int = 64) -> str:
    """An ASCII address of exactly ``length`` characters with a ``local``-char local part."""
    domain_len = length - local - 1
    labels, left = [], domain_len - 4  # room for ".com"
    while left > 0:
        size = min(63, left)
        if left - size == 1:  # never leave a one-character gap for a dot
            size -= 2
        labels.append("d" * size)
        left -= size + 1
    domain = ".".join(labels) + ".com"
    assert len(domain) == domain_len, (len(domain), domain_len)
    return "l" * local + "@" + domain


EMAIL_EDGES += [_address(n) for n in (253, 254, 255, 256)]
EMAIL_EDGES += [_address(n, local=10) for n in (254, 255)]


def fast_emails(values: list[str]) -> list[tuple[str, bool]]:
    lowered = pl.Series("v", values, dtype=pl.String).str.to_lowercase()
    verdict = pl.DataFrame({"v": lowered}).select(fast_email_ok(pl.col("v")).alias("ok"))["ok"]
    return list(zip(lowered.to_list(), verdict.to_list(), strict=True))


def assert_library_agrees_with_email_fast_path(values: list[str]) -> None:
    for value, ok in fast_emails(values):
        if not ok:
            continue
        try:
            result = validate_email(value, check_deliverability=False)
        except EmailNotValidError as exc:
            pytest.fail(f"fast path accepts {value!r}, email-validator refuses it: {exc}")
        assert result.normalized.lower() == value


def test_email_edge_cases() -> None:
    assert_library_agrees_with_email_fast_path(EMAIL_EDGES)


def test_email_fast_path_takes_the_common_case() -> None:
    verdicts = dict(fast_emails(["ann@example.com", "First.Last+tag@Sub.Example.co.uk"]))
    assert verdicts == {"ann@example.com": True, "first.last+tag@sub.example.co.uk": True}
    assert dict(fast_emails([_address(254), _address(255)])) == {
        _address(254): True,
        _address(255): False,
    }


EMAILISH = st.from_regex(
    r"[A-Za-z0-9_+.!#'-]{1,12}@([A-Za-z0-9_-]{1,12}\.){1,3}"
    r"(com|org|io|c0m|local|test|arpa|onion|xn--p1ai|[A-Za-z0-9-]{1,5})\.?",
    fullmatch=True,
)


@st.composite
def long_emails(draw: st.DrawFn) -> str:
    local = draw(st.integers(60, 66))
    labels = draw(st.lists(st.integers(1, 64), min_size=1, max_size=5))
    tld = draw(st.sampled_from(["com", "io", "local", "c0m", "x"]))
    chars = st.sampled_from("abc019-_.")
    body = "".join(draw(st.lists(chars, min_size=local, max_size=local)))
    domain = ".".join("".join(draw(st.lists(chars, min_size=n, max_size=n))) for n in labels)
    return f"{body}@{domain}.{tld}"


@SETTINGS
@given(st.lists(st.one_of(EMAILISH, long_emails()), min_size=1, max_size=40))
def test_email_fast_path_never_accepts_what_the_library_refuses(values: list[str]) -> None:
    assert_library_agrees_with_email_fast_path(values)


# -- phones --------------------------------------------------------------------------

PHONE_EDGES = [
    "(415) 555-0134",
    "1-415-555-0134",
    "+1 415 555 0134",
    "415 555 0134 x12",
    "415-555-0134 ext. 7",
    "415.555.0134 ext12",
    "4155550134 Extension 5",
    "(123) 456-7890",
    "(023) 456-7890",
    "0123456789",
    "1234567890",
    "4155550134",
    "14155550134",
    "+14155550134",
    "+1(415)555-0134",
    "+1.415.555.0134",
    "415-055-0134",
    "415 555 01345",
    "415 555 013",
    "+44 20 7946 0958",
    "+2 415 555 0134",
    "11 415 555 0134",
    "(415 555-0134",
    "415) 555-0134",
    "415--555-0134",
    "415 555 0134 x1234567",
    "+14155550134;ext=12",
]


def fast_phones(values: list[str], region: str = "US") -> list[tuple[str, bool, str]]:
    frame = pl.DataFrame(
        {"v": values, "r": [region] * len(values)}, schema={"v": pl.String, "r": pl.String}
    )
    mask, e164 = fast_phone(pl.col("v"), pl.col("r"))
    out = frame.select(mask.fill_null(False).alias("m"), e164.alias("e"))
    return list(zip(values, out["m"].to_list(), out["e"].to_list(), strict=True))


def library_e164(value: str, region: str) -> str | None:
    """The library path's answer: E.164 (plus ``;ext=N``) of a possible number, else None."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.is_possible_number_with_reason(number) != ValidationResult.IS_POSSIBLE:
        return None
    text = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return text + (f";ext={number.extension}" if number.extension else "")


def assert_library_agrees_with_phone_fast_path(values: list[str], region: str = "US") -> None:
    for value, ok, e164 in fast_phones(values, region):
        if ok:
            assert library_e164(value, region) == e164, value


@pytest.mark.parametrize("region", ["US", "CA"])
def test_phone_edge_cases(region: str) -> None:
    assert_library_agrees_with_phone_fast_path(PHONE_EDGES, region)


def test_phone_fast_path_takes_the_common_case_and_only_for_nanp_regions() -> None:
    common = ["(415) 555-0134", "1-415-555-0134", "+1 415 555 0134", "4155550134"]
    assert [(ok, e) for _, ok, e in fast_phones(common)] == [(True, "+14155550134")] * 4
    assert not any(ok for _, ok, _ in fast_phones(common, "GB"))
    assert not any(ok for _, ok, _ in fast_phones(["12345", "0123456789", "(123) 456-7890"]))


PHONEISH = st.from_regex(
    r"(\+?1[ .-]?)?(\([0-9]{3}\)|[0-9]{3})[ .-]{0,2}[0-9]{3}[ .-]?[0-9]{3,5}"
    r"( ?(x|X|ext|ext\.|Extension|#) ?[0-9]{1,8})?",
    fullmatch=True,
)
NANP = st.from_regex(
    r"(\+?1[ .-]?)?(\([2-9][0-9]{2}\)|[2-9][0-9]{2})[ .-]?[0-9]{3}[ .-]?[0-9]{4}"
    r"( ?(x|X|ext\.?|EXT|Extension) ?[0-9]{1,7})?",
    fullmatch=True,
)
DIGITISH = st.from_regex(r"\+?[0-9 ().-]{7,18}", fullmatch=True)


@SETTINGS
@given(
    st.lists(st.one_of(NANP, PHONEISH, DIGITISH), min_size=1, max_size=40),
    st.sampled_from(["US", "CA"]),
)
def test_phone_fast_path_never_disagrees_with_the_library(values: list[str], region: str) -> None:
    assert_library_agrees_with_phone_fast_path(values, region)


# -- end to end ----------------------------------------------------------------------


def validate_phones(phones: list[str]) -> bulkprep.Report:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["C_EmailAddress", "C_BusPhone"])
    writer.writerows([f"p{i}@example.com", phone] for i, phone in enumerate(phones))
    return bulkprep.validate("contact", io.BytesIO(buffer.getvalue().encode("utf-8")))


def phone_findings(report: bulkprep.Report) -> list[tuple[int | None, str, str]]:
    return [(f.line, f.code, f.severity) for f in report.findings if f.column == "C_BusPhone"]


def test_a_malformed_phone_is_kept_only_with_a_warning(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("Email,Phone\nann@example.com,444) 444-1234\n", encoding="utf-8")
    report = bulkprep.clean(
        "contact", source, output=tmp_path / "clean.csv", rejects=tmp_path / "rejects.csv"
    )
    assert (report.rows, report.clean_rows) == (1, 1)
    assert phone_findings(report) == [(2, "phone-repaired", "warning")]
    (finding,) = [f for f in report.findings if f.code == "phone-repaired"]
    assert finding.value == "444) 444-1234"
    assert "+14444441234" in finding.message
    with (tmp_path / "clean.csv").open(newline="", encoding="utf-8") as handle:
        clean = list(csv.DictReader(handle))
    assert clean[0]["C_BusPhone"] == "+14444441234"


def test_a_too_short_phone_is_rejected() -> None:
    report = validate_phones(["12345"])
    assert phone_findings(report) == [(2, "invalid-phone", "error")]
    assert (report.rows, report.clean_rows, report.rejected_rows) == (1, 0, 1)


MALFORMED = [
    "444) 444-1234",
    "(444 444-1234",
    "444-444-1234)",
    "(444)) 444-1234",
    "444*444*1234",
    "++1 444 444 1234",
    "1-800-FLOWERS",
    "tel:+1-444-444-1234",
    "４４４４４４１２３４",  # full-width digits
]


@pytest.mark.parametrize("phone", MALFORMED)
def test_malformed_phones_are_never_accepted_silently(phone: str) -> None:
    report = validate_phones([phone])
    codes = phone_findings(report)
    assert codes in ([(2, "phone-repaired", "warning")], [(2, "invalid-phone", "error")])


def test_no_single_stray_character_slips_through() -> None:
    # Every single-character corruption of a cleanly written number is either
    # repaired with a warning or rejected.
    bases = ["(415) 555-0134", "415-555-0134", "415.555.0134", "+1 415 555 0134", "4155550134"]
    junk = ")(*_a?!;:,'\"[]{}<>|~`$%^&=@xX#eE"
    values = sorted(
        value
        for value in {b[:i] + ch + b[i:] for b in bases for i in range(len(b) + 1) for ch in junk}
        # an inserted x or # before trailing digits writes an extension: not a corruption
        if not re.search(r"[xX#][0-9]+$", value)
    )
    report = validate_phones(values)
    flagged = {f.row for f in report.findings if f.column == "C_BusPhone"}
    silent = [v for row, v in enumerate(values, start=1) if row not in flagged]
    assert silent == []


def test_a_letter_inside_the_digits_is_not_accepted_silently() -> None:
    # The 'x' looked like an extension marker to the malformation check and was dropped.
    report = validate_phones(["4x155550134", "4X155550134"])
    assert phone_findings(report) == [
        (2, "phone-repaired", "warning"),
        (3, "phone-repaired", "warning"),
    ]


def test_the_repair_message_says_what_was_wrong() -> None:
    report = validate_phones(["\uff14\uff11\uff15\uff15\uff15\uff15\uff10\uff11\uff13\uff14"])
    (finding,) = [f for f in report.findings if f.code == "phone-repaired"]
    assert "+14155550134" in finding.message
    assert re.search(r"\(stray characters? \)", finding.message) is None


def test_fast_and_library_paths_give_one_value_per_number(tmp_path: Path) -> None:
    # The same number written every fast-path way, and a few ways only the library reads.
    spellings = [
        "".join(parts)
        for parts in itertools.product(
            ["", "1-", "+1 ", "+1"], ["(415) ", "415-", "415."], ["555-0134", "5550134"]
        )
    ]
    spellings += ["415 / 555 0134", "+1 415 555-0134", "1 (415) 5550134", "+1-415-555-0134"]
    random.Random(0).shuffle(spellings)
    source = tmp_path / "in.csv"
    with source.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["C_EmailAddress", "C_BusPhone"])
        writer.writerows([f"p{i}@example.com", phone] for i, phone in enumerate(spellings))
    report = bulkprep.clean(
        "contact", source, output=tmp_path / "clean.csv", rejects=tmp_path / "rejects.csv"
    )
    assert report.rejected_rows == 0
    assert phone_findings(report) == []
    with (tmp_path / "clean.csv").open(newline="", encoding="utf-8") as handle:
        phones = {row["C_BusPhone"] for row in csv.DictReader(handle)}
    assert phones == {"+14155550134"}
