"""Callback signatures: round trip, tampering, and malformed headers that must not raise."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from bulkprep.signature import sign, verify_signature

KEY = "callback-signature-key"
BODY = b'{"id": "42", "status": "COMPLETED", "recordsCount": 10}'


def test_round_trip_with_str_and_bytes_keys() -> None:
    header = sign(BODY, KEY)
    assert header.startswith("sha256=")
    assert verify_signature(BODY, header, KEY)
    assert verify_signature(BODY, header, KEY.encode())
    assert sign(BODY, KEY.encode()) == header


def test_matches_the_documented_construction() -> None:
    digest = hmac.new(KEY.encode(), BODY, hashlib.sha256).digest()
    assert sign(BODY, KEY) == "sha256=" + base64.b64encode(digest).decode()


def test_tampered_body_or_wrong_key_fails() -> None:
    header = sign(BODY, KEY)
    assert not verify_signature(BODY.replace(b"10", b"11"), header, KEY)
    assert not verify_signature(BODY + b" ", header, KEY)
    assert not verify_signature(BODY, header, "another-key")


def test_tampered_signature_fails() -> None:
    header = sign(BODY, KEY)
    raw = bytearray(base64.b64decode(header.removeprefix("sha256=")))
    raw[0] ^= 1
    assert not verify_signature(BODY, "sha256=" + base64.b64encode(bytes(raw)).decode(), KEY)


def test_prefix_case_and_surrounding_space_are_tolerated() -> None:
    header = sign(BODY, KEY)
    assert verify_signature(BODY, "  SHA256=" + header[7:] + " ", KEY)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "sha1=abcd",
        "sha256=not base64!!",
        "sha256=" + base64.b64encode(b"short").decode(),
        "sha256=\u00e9\u00e9",
        "md5=" + sign(BODY, KEY)[7:],
        sign(BODY, KEY)[7:],  # digest without the prefix
    ],
)
def test_malformed_headers_are_false_not_errors(header: str | None) -> None:
    assert verify_signature(BODY, header, KEY) is False


def test_empty_key_never_verifies_and_cannot_sign() -> None:
    assert verify_signature(BODY, sign(BODY, KEY), "") is False
    with pytest.raises(ValueError):
        sign(BODY, "")


def test_non_bytes_body_is_false() -> None:
    assert verify_signature(BODY.decode(), sign(BODY, KEY), KEY) is False  # type: ignore[arg-type]
