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

from functools import lru_cache

import polars as pl
from email_validator import EmailNotValidError, validate_email

# Left to the library: a local part over 64 characters, "--" (punycode and IDNA hyphen
# rules), and the special-use top-level names email-validator refuses.
_UNSURE = r"^[^@]{65}|--|\.(?:arpa|invalid|local|localhost|onion|test)$"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
FAST_EMAIL = r"^[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*@(?:" + _LABEL + r"\.)+[a-z]{2,63}$"


def fast_email_ok(value: pl.Expr) -> pl.Expr:
    """True where ``value`` (already lower-cased) is certainly a valid address."""
    return (
        value.str.contains(FAST_EMAIL)
        & (value.str.len_bytes() <= 254)
        & ~value.str.contains(_UNSURE)
    )


@lru_cache(maxsize=1 << 16)
def check_email(value: str) -> tuple[str | None, str | None]:
    """(normalized, reason) for one address; remembered across batches."""
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        return None, str(exc)
    return result.normalized.lower(), None


def check_emails(values: list[str]) -> pl.DataFrame:
    """Check values with email-validator (a repeated value is answered by the cache).

    Returns ``value``, ``normalized`` (lower-cased library form, null when invalid)
    and ``reason`` (the library's explanation, null when valid).
    """
    results = [check_email(value) for value in values]
    normalized = [r[0] for r in results]
    reasons = [r[1] for r in results]
    return pl.DataFrame(
        {"value": values, "normalized": normalized, "reason": reasons},
        schema={"value": pl.String, "normalized": pl.String, "reason": pl.String},
    )
