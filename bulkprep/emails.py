"""Email addresses: a vectorized fast path, and email-validator for the residue.

email-validator costs tens of microseconds a value, so the common case is decided
in polars: a lower-case ASCII address whose shape is a strict subset of what
email-validator accepts (dot-atom local part of letters, digits and ``_+-``; LDH
domain labels; an alphabetic, non-reserved top-level domain; RFC length limits).
Everything else, including every non-ASCII or unusual address, is sent to the
library, once per distinct value. The fast path never accepts what the library
refuses; a property test holds it to that.
"""

from __future__ import annotations

import polars as pl
from email_validator import EmailNotValidError, validate_email

# Top-level names email-validator refuses (special-use domains).
_RESERVED_TLDS = ("arpa", "invalid", "local", "localhost", "onion", "test")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
FAST_EMAIL = r"^[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*@(?:" + _LABEL + r"\.)+[a-z]{2,63}$"


def fast_email_ok(value: pl.Expr) -> pl.Expr:
    """True where ``value`` (already lower-cased) is certainly a valid address."""
    local_len = value.str.split_exact("@", 1).struct.field("field_0").str.len_bytes()
    tld = value.str.extract(r"\.([a-z]+)$", 1)
    return (
        value.str.contains(FAST_EMAIL)
        & (value.str.len_bytes() <= 254)
        & (local_len <= 64)
        & ~value.str.contains("--", literal=True)  # punycode and IDNA hyphen rules
        & ~tld.is_in(_RESERVED_TLDS)
    )


def check_emails(values: list[str]) -> pl.DataFrame:
    """Check distinct values with email-validator.

    Returns ``value``, ``normalized`` (lower-cased library form, null when invalid)
    and ``reason`` (the library's explanation, null when valid).
    """
    normalized: list[str | None] = []
    reasons: list[str | None] = []
    for value in values:
        try:
            result = validate_email(value, check_deliverability=False)
        except EmailNotValidError as exc:
            normalized.append(None)
            reasons.append(str(exc))
        else:
            normalized.append(result.normalized.lower())
            reasons.append(None)
    return pl.DataFrame(
        {"value": values, "normalized": normalized, "reason": reasons},
        schema={"value": pl.String, "normalized": pl.String, "reason": pl.String},
    )
