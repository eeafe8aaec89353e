"""Drafting a schema from the target's object metadata (``bulkprep schema pull``)."""

from __future__ import annotations

from typing import Any

import yaml

_TYPES = (
    (("email",), "email"),
    (("phone", "tel", "fax", "mobile"), "phone"),
    (("url", "website", "uri"), "url"),
    (("bool",), "boolean"),
    (("datetime", "date-time", "timestamp"), "datetime"),
    (("date",), "date"),
    (("int", "long"), "integer"),
    (("number", "double", "decimal", "float", "currency", "percent"), "number"),
)


def column_type(field: dict[str, Any]) -> str:
    """A bulkprep column type for one metadata field (``string`` when nothing fits)."""
    hints = " ".join(
        str(field.get(k) or "").lower() for k in ("vendorNativeType", "type", "format")
    )
    for words, kind in _TYPES:
        if any(w in hints for w in words):
            return kind
    return "string"


def draft_schema(object_name: str, metadata: dict[str, Any], *, source: str) -> str:
    """YAML text of a draft schema for ``object_name`` from its metadata."""
    fields = metadata.get("fields") or []
    columns: list[dict[str, Any]] = []
    skipped: list[str] = []
    for field in fields:
        if not isinstance(field, dict):
            continue
        name = field.get("vendorPath") or field.get("path")
        if not name:
            continue
        if field.get("vendorReadOnly") or field.get("readOnly"):
            skipped.append(str(name))
            continue
        column: dict[str, Any] = {"name": str(name), "type": column_type(field)}
        if field.get("vendorRequired") or field.get("required"):
            column["required"] = True
        if column["type"] == "string":
            column["max_length"] = 100
        if column["type"] == "phone":
            column["region"] = "US"
        display = field.get("vendorDisplayName")
        if display and display != name:
            column["aliases"] = [str(display)]
        columns.append(column)
    header = [
        f"# Draft schema for {object_name!r}, pulled from {source}.",
        "# Review it before use: types are guessed from the metadata, string columns get",
        "# max_length 100 and phones region US; add unique, patterns and aliases as needed.",
    ]
    if skipped:
        header.append(f"# Read-only fields left out: {', '.join(skipped)}.")
    body = yaml.safe_dump(
        {"object": object_name, "columns": columns}, sort_keys=False, allow_unicode=True
    )
    return "\n".join(header) + "\n" + body
