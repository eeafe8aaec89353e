"""Schema files: mistakes are SchemaErrors that name the file, the column and the fix."""

from __future__ import annotations

from typing import Any

import pytest

from bulkprep import SchemaError
from bulkprep.schema import parse_schema


def schema(*columns: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"object": "t", "columns": list(columns), **top}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (schema({"name": "a", "maxlength": 3}), "unknown key 'maxlength'; allowed keys:"),
        (schema({"name": "a", "type": "emial"}), "'emial' is not allowed; use one of:"),
        (schema({"name": "a"}, {"name": "a"}), "columns[1] (a): another column has the same"),
        (schema({"name": "a", "pattern": "(?=x)x+"}), "look-around"),
        (schema({"name": "a", "type": "enum", "values": ["A", "a"]}), "same value in two cases"),
        (schema({"name": "a", "severity": {"too-lng": "warning"}}), "unknown finding code"),
        (schema({"name": "a", "severity": {"extra-column": "error"}}), "top-level severity"),
        (schema({"name": "a"}, severity={"too-long": "warning"}), "a column's severity"),
        (schema({"name": "a", "minimum": 1}), "minimum/maximum apply to integer and number"),
        (schema({"name": "a", "region_column": "nope"}), "region_column 'nope'"),
        (schema({"name": "a", "type": "enum"}), "type enum needs a 'values' list"),
        (schema({"name": "a"}, identifier="b"), "identifier 'b' is not a column"),
    ],
)
def test_mistakes_are_named(data: dict[str, Any], expected: str) -> None:
    with pytest.raises(SchemaError) as info:
        parse_schema(data, source="t.yaml")
    assert str(info.value).startswith("t.yaml")
    assert expected in str(info.value)


def test_rust_regex_syntax_is_accepted() -> None:
    loaded = parse_schema(schema({"name": "a", "pattern": r"\p{Lu}\p{Ll}+"}), source="t.yaml")
    assert loaded.columns[0].pattern == r"\p{Lu}\p{Ll}+"


def test_cased_values_may_differ_when_case_sensitive() -> None:
    column = {"name": "a", "type": "enum", "values": ["A", "a"], "case_sensitive": True}
    assert parse_schema(schema(column), source="t.yaml").columns[0].values == ("A", "a")
