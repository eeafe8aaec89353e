"""Callback signatures: check that a bulk-job callback really came from the platform.

When a *Callback Notification Signature Key* is configured, Open Connectors sends
the header ``Elements-Webhook-Signature: sha256=<base64 HMAC-SHA256 of the raw
body>``. Verify it against the raw request bytes, before parsing any JSON::

    if not verify_signature(request.get_data(), request.headers.get(HEADER, ""), key):
        abort(401)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

HEADER = "Elements-Webhook-Signature"
PREFIX = "sha256="


def _key_bytes(key: str | bytes) -> bytes:
    return key.encode("utf-8") if isinstance(key, str) else bytes(key)


def sign(body: bytes, key: str | bytes) -> str:
    """The header value the platform sends for ``body``: ``sha256=<base64 digest>``."""
    raw_key = _key_bytes(key)
    if not raw_key:
        raise ValueError("the signature key is empty")
    digest = hmac.new(raw_key, body, hashlib.sha256).digest()
    return PREFIX + base64.b64encode(digest).decode("ascii")


def verify_signature(body: bytes, header: str | None, key: str | bytes) -> bool:
    """True when ``header`` is a valid signature of ``body`` under ``key``.

    Never raises: a missing, malformed or wrongly encoded header, or an empty key,
    is simply not a valid signature. The comparison takes constant time.
    """
    try:
        raw_key = _key_bytes(key)
        if not raw_key or not isinstance(header, str) or not isinstance(body, bytes | bytearray):
            return False
        value = header.strip()
        if value[: len(PREFIX)].lower() != PREFIX:
            return False
        given = base64.b64decode(value[len(PREFIX) :].strip(), validate=True)
    except (binascii.Error, ValueError, TypeError):
        return False
    expected = hmac.new(raw_key, bytes(body), hashlib.sha256).digest()
    return hmac.compare_digest(given, expected)
