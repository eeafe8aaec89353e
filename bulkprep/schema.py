"""Declarative schemas: loading, checking and finding the YAML file of an object.

A schema file names an object, its columns in upload order, and for each column a
type, constraints, normalizers, header aliases and per-code severities. Files are
checked against the JSON Schema shipped as ``bulkprep/schema.json`` (so editors can
check them too); any unknown key or wrong value is a :class:`SchemaError` that
names the file, the key and what is allowed. The format is documented in
``docs/schema-format.md``.

Lookup order for schema folders: the ``schemas_dir`` argument (the command line's
``--schemas``, or the ``BULKPREP_SCHEMAS`` environment variable that click reads
for it), ``./schemas`` if present, then the schemas bundled with the package.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from ._exceptions import SchemaError
from .findings import CATALOG, Scope

TEXT_TYPES = frozenset({"string", "enum"})
SCHEMA_JSON = Path(__file__).with_name("schema.json")


@dataclass(frozen=True)
class Column:
    """One column of a schema, with every option resolved to its default."""

    name: str
    type: str = "string"
    description: str = ""
    required: bool = False
    unique: bool = False
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    values: tuple[str, ...] | None = None
    case_sensitive: bool = False
    aliases: tuple[str, ...] = ()
    trim: bool = True
    nfc: bool = True
    case: str = "preserve"
    region: str = "US"
    region_column: str | None = None
    strict: bool = False
    default_scheme: str = "https"
    formats: tuple[str, ...] = ()
    true_values: tuple[str, ...] = ("true", "yes", "y", "1", "t")
    false_values: tuple[str, ...] = ("false", "no", "n", "0", "f")
    formula: str = "reject"
    severity: dict[str, str] = field(default_factory=dict)

    def severity_of(self, code: str) -> str:
        return self.severity.get(code, CATALOG[code].severity.value)

    @property
    def is_text(self) -> bool:
        return self.type in TEXT_TYPES


@dataclass(frozen=True)
class Schema:
    """A loaded schema: the object name and its columns in upload order."""

    object: str
    columns: tuple[Column, ...]
    description: str = ""
    identifier: str | None = None
    severity: dict[str, str] = field(default_factory=dict)
    path: str | None = None

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    def severity_of(self, code: str) -> str:
        return self.severity.get(code, CATALOG[code].severity.value)

    @property
    def identifier_column(self) -> str | None:
        """The identifier column: explicit, else the first required unique column."""
        if self.identifier:
            return self.identifier
        for col in self.columns:
            if col.unique and col.required:
                return col.name
        return None


@cache
def json_schema() -> dict[str, Any]:
    """The JSON Schema that describes schema files."""
    return json.loads(SCHEMA_JSON.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def bundled_dir() -> Path:
    """The folder of schemas shipped with bulkprep (installed or in a source checkout)."""
    inside = Path(__file__).with_name("schemas")
    if inside.is_dir():
        return inside
    return Path(__file__).resolve().parent.parent / "schemas"


def search_dirs(schemas_dir: str | Path | None = None) -> list[Path]:
    """Folders searched for schema files, in order of precedence."""
    explicit = schemas_dir
    if explicit:
        if not Path(explicit).is_dir():
            raise SchemaError(
                f"schemas folder {explicit} does not exist (from --schemas or BULKPREP_SCHEMAS)"
            )
        return [Path(explicit)]
    dirs = []
    local = Path("schemas")
    if local.is_dir():
        dirs.append(local)
    bundled = bundled_dir()
    if not dirs or local.resolve() != bundled.resolve():
        dirs.append(bundled)
    return dirs


def find_schema(name: str, dirs: list[Path]) -> Path:
    """The file of object ``name`` (or ``name`` itself when it is a path to a YAML file)."""
    candidate = Path(name)
    if candidate.suffix in (".yaml", ".yml") and candidate.is_file():
        return candidate
    for folder in dirs:
        for suffix in (".yaml", ".yml"):
            path = folder / f"{name}{suffix}"
            if path.is_file():
                return path
    known = sorted({p.stem for folder in dirs for p in _yaml_files(folder)})
    where = ", ".join(str(d) for d in dirs)
    raise SchemaError(
        f"no schema for object {name!r} in {where}; known objects: {', '.join(known) or 'none'}"
    )


def list_schemas(dirs: list[Path]) -> list[Path]:
    """Every schema file visible through ``dirs``; earlier folders shadow later ones."""
    seen: dict[str, Path] = {}
    for folder in dirs:
        for path in _yaml_files(folder):
            seen.setdefault(path.stem, path)
    return [seen[k] for k in sorted(seen)]


def _yaml_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml"))


def load_schema(
    name: str | Path,
    *,
    schemas_dir: str | Path | None = None,
) -> Schema:
    """Load the schema of object ``name`` (or the YAML file at path ``name``)."""
    path = find_schema(str(name), search_dirs(schemas_dir))
    return parse_schema_file(path)


def parse_schema_file(path: Path) -> Schema:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise SchemaError(f"{path}: cannot be read ({reason})") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SchemaError(f"{path}{where}: not valid YAML ({problem})") from exc
    return parse_schema(data, source=str(path))


def parse_schema(data: Any, *, source: str = "<schema>") -> Schema:
    """Check ``data`` (a parsed YAML document) and build a :class:`Schema`."""
    validator = jsonschema.Draft202012Validator(json_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        raise SchemaError(f"{source}: {_describe(errors[0], data)}")
    formula = data.get("formula", "reject")
    columns = tuple(_column(c, formula) for c in data["columns"])
    schema = Schema(
        object=data["object"],
        columns=columns,
        description=data.get("description", ""),
        identifier=data.get("identifier"),
        severity=dict(data.get("severity", {})),
        path=source,
    )
    _check_semantics(schema, source)
    return schema


def _column(raw: dict[str, Any], formula: str) -> Column:
    values = {"formula": formula, **raw}
    for key in ("values", "aliases", "formats", "true_values", "false_values"):
        if key in values:
            values[key] = tuple(values[key])
    values["severity"] = dict(values.get("severity", {}))
    return Column(**values)


def _check_semantics(schema: Schema, source: str) -> None:
    seen: dict[str, str] = {}
    names: set[str] = set()
    for i, col in enumerate(schema.columns):
        where = f"{source}: columns[{i}] ({col.name})"
        if col.name in names:
            raise SchemaError(f"{where}: another column has the same name; names must differ")
        names.add(col.name)
        for key in [col.name, *col.aliases]:
            folded = fold_header(key)
            if folded in seen and seen[folded] != col.name:
                raise SchemaError(f"{where}: header {key!r} also names column {seen[folded]!r}")
            seen[folded] = col.name
        if col.type == "enum" and not col.values:
            raise SchemaError(f"{where}: type enum needs a 'values' list")
        if col.values is not None and col.type not in TEXT_TYPES:
            raise SchemaError(f"{where}: 'values' is allowed on string and enum columns only")
        if col.pattern is not None:
            problem = _regex_problem(col.pattern)
            if problem:
                raise SchemaError(
                    f"{where}: 'pattern' is not a valid regular expression for polars "
                    f"(Rust regex syntax: no look-around or back-references): {problem}"
                )
        if col.values and not col.case_sensitive:
            spellings = [v.casefold() for v in col.values]
            if len(set(spellings)) != len(spellings):
                raise SchemaError(
                    f"{where}: 'values' lists the same value in two cases; remove one, or "
                    "set case_sensitive: true"
                )
        if (
            col.min_length is not None
            and col.max_length is not None
            and col.min_length > col.max_length
        ):
            raise SchemaError(f"{where}: min_length is greater than max_length")
        if col.minimum is not None and col.maximum is not None and col.minimum > col.maximum:
            raise SchemaError(f"{where}: minimum is greater than maximum")
        if (col.minimum is not None or col.maximum is not None) and col.type not in (
            "integer",
            "number",
        ):
            raise SchemaError(f"{where}: minimum/maximum apply to integer and number columns")
        if col.region_column is not None and col.region_column not in schema.names:
            raise SchemaError(
                f"{where}: region_column {col.region_column!r} is not a column of this schema"
            )
        if col.formats and col.type not in ("date", "datetime"):
            raise SchemaError(f"{where}: 'formats' applies to date and datetime columns")
        for code in col.severity:
            _check_code(code, where, file_level=False)
    for code in schema.severity:
        _check_code(code, source, file_level=True)
    if schema.identifier is not None and schema.identifier not in schema.names:
        raise SchemaError(f"{source}: identifier {schema.identifier!r} is not a column")


def _check_code(code: str, where: str, *, file_level: bool) -> None:
    """A severity override names a known code of the right level (file vs column)."""
    entry = CATALOG.get(code)
    if entry is None:
        raise SchemaError(
            f"{where}: severity names unknown finding code {code!r}; "
            f"known codes: {', '.join(sorted(CATALOG))}"
        )
    if (entry.scope == Scope.FILE) != file_level and code != "missing-column":
        level = "the schema's top-level" if file_level else "a column's"
        right = "a column's severity" if file_level else "the top-level severity"
        raise SchemaError(f"{where}: {code!r} cannot be set in {level} severity; use {right}")


def _regex_problem(pattern: str) -> str | None:
    """The first line of polars' complaint about ``pattern``, or None if it compiles."""
    import polars as pl  # here, so that loading a schema does not load the data engine

    try:
        pl.Series([""]).str.contains(pattern)
    except pl.exceptions.ComputeError as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip().startswith("error:")]
        return lines[0].removeprefix("error: ") if lines else str(exc).splitlines()[0]
    return None


def _describe(error: jsonschema.ValidationError, data: Any) -> str:
    """Turn a JSON Schema error into: where, which key, what is allowed."""
    path = list(error.absolute_path)
    where = _where(path, data)
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        extra = (
            sorted(set(error.instance) - set(allowed)) if isinstance(error.instance, dict) else []
        )
        return (
            f"{where}unknown key {', '.join(map(repr, extra))}; allowed keys: {', '.join(allowed)}"
        )
    if error.validator == "enum":
        options = ", ".join(str(v) for v in schema.get("enum", []))
        return f"{where}{error.instance!r} is not allowed; use one of: {options}"
    if error.validator == "required":
        return f"{where}{error.message}"
    if error.validator == "type":
        return f"{where}expected {error.validator_value}, got {error.instance!r}"
    if error.validator == "pattern" and "§" in str(error.validator_value):
        return f"{where}{error.instance!r} contains §, which bulkprep keeps for its own use"
    return f"{where}{error.message}"


def _where(path: list[Any], data: Any) -> str:
    parts: list[str] = []
    node = data
    for step in path:
        if isinstance(step, int):
            name = node[step].get("name") if isinstance(node[step], dict) else None
            parts[-1] = f"{parts[-1]}[{step}]" + (f" ({name})" if name else "")
        else:
            parts.append(str(step))
        node = node[step]
    return (" > ".join(parts) + ": ") if parts else ""


def fold_header(name: str) -> str:
    """Header comparison key: case-insensitive, white space and BOM ignored."""
    return "".join(name.replace("\ufeff", "").split()).casefold()
