"""Phone numbers: a vectorized fast path for NANP numbers, phonenumbers for the residue.

The check is phonenumbers' ``is_possible_number_with_reason(...) == IS_POSSIBLE`` for
the row's region (a column's ``strict: true`` asks for ``is_valid_number`` instead).
Numbers are written in E.164; an extension is kept as ``;ext=N`` (RFC 3966).

Fast path: for rows whose region shares country code 1, a well-formed ten-digit
number whose area code starts with 2-9 (``(415) 555-0134``, ``415.555.0134``,
``+1 415 555 0134``, ``1-415-555-0134`` …) is possible and becomes ``+1`` and the ten
digits, exactly what the library gives; a property test holds it to that. Every
other value goes to the library once per distinct (value, region). A value the
library can read only leniently (unbalanced parentheses, letters, stray characters)
is accepted with a ``phone-repaired`` warning that says what was wrong.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
import polars as pl
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult

FAST_REGIONS = ("US", "CA")
FAST_PHONE = (
    r"^(?:\+?1[ .-]?)?(?:\(([2-9][0-9]{2})\)|([2-9][0-9]{2}))[ .-]?([0-9]{3})[ .-]?([0-9]{4})"
    r"(?:(?: ?(?:[xX]|[eE][xX][tT]\.?|[eE]xtension) ?|;ext=)([0-9]{1,6}))?$"
)
_EXTENSION = re.compile(r"\s*(?:[xX#]|[eE][xX][tT](?:ension)?\.?|;ext=)\s*\d{1,10}\s*$")
_WELL_FORMED_CHARS = re.compile(r"^\+?[0-9 ().\-/]+$")
_REASONS = {
    ValidationResult.TOO_SHORT: "too short",
    ValidationResult.TOO_LONG: "too long",
    ValidationResult.INVALID_COUNTRY_CODE: "has an unknown country code",
    ValidationResult.INVALID_LENGTH: "has a length no number of that country has",
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "is a local number without its area code",
}


def fast_phone(value: pl.Expr, region: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(mask, e164) for values the fast path decides; e164 is meaningful where mask holds.

    Where ``FAST_PHONE`` matches, an extension can only be the digits after the last
    marker character (``x``, the ``t`` of ext, the ``n`` of extension, the ``=`` of
    ``;ext=``); the number is the last ten of the other digits.
    """
    mask = region.is_in(FAST_REGIONS) & value.str.contains(FAST_PHONE)
    digits = value.str.replace_all(r"[^0-9]", "")
    extension = value.str.extract(r"[xXtTnN=]\.? ?([0-9]{1,6})$", 1)
    number = (
        pl.when(extension.is_null())
        .then(digits)
        .otherwise(digits.str.head(-extension.str.len_bytes().cast(pl.Int64)))
    )
    e164 = pl.concat_str(
        pl.lit("+1"),
        number.str.tail(10),
        pl.when(extension.is_null()).then(pl.lit("")).otherwise(pl.lit(";ext=") + extension),
    )
    return mask, e164


def malformation(value: str, extension: str | None = None) -> str | None:
    """Why ``value`` is not a cleanly written phone number, or None if it is.

    A trailing extension (`` x12``, `` ext. 12``, ``;ext=12``) is set aside only when
    the library read that same ``extension``; otherwise its letters count.
    """
    text = value
    match = _EXTENSION.search(value)
    if extension and match and re.sub(r"\D", "", match.group()) == extension:
        text = value[: match.start()]
    if any(c.isalpha() for c in text):
        return "letters read as digits"
    if text.count("(") != text.count(")") or text.count("(") > 1:
        return "unbalanced parenthesis"
    if "(" in text and text.index("(") > text.index(")"):
        return "unbalanced parenthesis"
    if "+" in text[1:]:
        return "misplaced '+'"
    wide = sorted({c for c in text if c.isdigit() and not c.isascii()})
    if wide:
        return f"digits that are not ASCII ({', '.join(map(repr, wide[:3]))})"
    if not _WELL_FORMED_CHARS.match(text):
        stray = sorted({c for c in text if not (c.isdigit() or c in " ().-/+")})
        return "stray character" + ("s " if len(stray) > 1 else " ") + ", ".join(map(repr, stray))
    return None


def check_phones(values: list[str], regions: list[str], *, strict: bool) -> pl.DataFrame:
    """Check (value, region) pairs with phonenumbers (repeats are answered by the cache).

    Returns ``value``, ``region``, ``e164`` (null when invalid), ``reason`` (why it is
    invalid) and ``repair`` (why a valid number needed repairing).
    """
    results = [
        check_phone(value, region, strict) for value, region in zip(values, regions, strict=True)
    ]
    e164s = [r[0] for r in results]
    reasons = [r[1] for r in results]
    repairs = [r[2] for r in results]
    return pl.DataFrame(
        {"value": values, "region": regions, "e164": e164s, "reason": reasons, "repair": repairs},
        schema=dict.fromkeys(("value", "region", "e164", "reason", "repair"), pl.String),
    )


@lru_cache(maxsize=1 << 17)
def check_phone(value: str, region: str, strict: bool) -> tuple[str | None, str | None, str | None]:
    """(e164, reason, repair) for one value; remembered, since exports repeat numbers."""
    number, reason = _parse(value, region, strict)
    if number is None:
        return None, reason, None
    text = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    if number.extension:
        text += f";ext={number.extension}"
    return text, None, malformation(value, number.extension)


def _parse(
    value: str, region: str, strict: bool
) -> tuple[phonenumbers.PhoneNumber | None, str | None]:
    try:
        number = phonenumbers.parse(value, region)
    except NumberParseException as exc:
        detail = str(exc).split(") ", 1)[-1].rstrip(".")
        return None, f"cannot be read as a phone number for region {region} ({detail})"
    result = phonenumbers.is_possible_number_with_reason(number)
    if result != ValidationResult.IS_POSSIBLE:
        why = _REASONS.get(result, "is not a possible number")
        return None, f"{why} for region {region}"
    if strict and not phonenumbers.is_valid_number(number):
        return None, f"is not an assigned number for region {region}"
    return number, None


def regions() -> frozenset[str]:
    """ISO region codes phonenumbers knows."""
    return frozenset(phonenumbers.SUPPORTED_REGIONS)
