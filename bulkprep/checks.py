"""Checks: a pandera polars schema compiled from a bulkprep schema.

Each constraint of a column becomes a pandera check whose failures map back to a
finding code of the catalog:

========================  =======================================  ===================
constraint                pandera                                  finding code
========================  =======================================  ===================
required                  ``Column(nullable=False)``               missing-value
type (email, phone, …)    custom check on the normalizer's verdict invalid-<type>
min_length / max_length   ``Check.str_length``                     too-short / too-long
pattern                   ``Check.str_matches`` (whole value)      pattern-mismatch
values / enum             ``Check.isin``                           not-allowed-value
minimum / maximum         ``Check.ge`` / ``Check.le`` on the number out-of-range
formula: reject           custom check on the first character      formula-injection
========================  =======================================  ===================

Validation runs with ``lazy=True`` on a collected batch, so every failure of every
check is reported, then failure cases are mapped back to batch rows.
Uniqueness is keep-first across batches and is checked by the engine (pandera's
``unique`` flags every copy, including the first).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandera.polars as pa
import polars as pl
from pandera.errors import SchemaErrors

from .normalize import FORMULA_START, INDEX, invalid_columns, invalid_reason, num_col, ok_col
from .schema import Column, Schema

TYPE_CODES = {
    "email": "invalid-email",
    "phone": "invalid-phone",
    "url": "invalid-url",
    "integer": "invalid-integer",
    "number": "invalid-number",
    "boolean": "invalid-boolean",
    "date": "invalid-date",
    "datetime": "invalid-datetime",
}

MessageFn = Callable[[pl.Expr], pl.Expr]


@dataclass(frozen=True)
class Rule:
    """What a pandera failure means: the schema column, the code and its message."""

    column: str
    code: str
    message: MessageFn


@dataclass(frozen=True)
class CompiledChecks:
    schema: pa.DataFrameSchema
    rules: dict[tuple[str, int | None], Rule]
    columns: list[str]  # frame columns the schema needs

    def run(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Validate ``frame``; return failures as ``_index, column, code, message``."""
        data = frame.select(self.columns)
        try:
            self.schema.validate(data, lazy=True)
        except SchemaErrors as exc:
            cases = exc.failure_cases
        else:
            return _empty()
        out = []
        keyed = cases.select(
            pl.col("column"),
            pl.when(pl.col("check") == "not_nullable")
            .then(None)
            .otherwise(pl.col("check_number"))
            .alias("check_number"),
            pl.col("index"),
        )
        for (column, number), group in keyed.group_by(
            ["column", "check_number"], maintain_order=True
        ):
            rule = self.rules.get((str(column), None if number is None else int(number)))
            if rule is None:
                raise AssertionError(f"unmapped pandera failure {column!r} #{number}")
            rows = data.with_columns(frame[INDEX]).gather(group["index"].cast(pl.UInt32))
            out.append(
                rows.select(
                    pl.col(INDEX),
                    pl.lit(rule.column).alias("column"),
                    pl.lit(rule.code).alias("code"),
                    rule.message(pl.col(rule.column)).alias("message"),
                )
            )
        return pl.concat(out) if out else _empty()


def _empty() -> pl.DataFrame:
    return pl.DataFrame(
        schema={INDEX: pl.Int64, "column": pl.String, "code": pl.String, "message": pl.String}
    )


def _quoted(value: pl.Expr) -> pl.Expr:
    return pl.lit("'") + value + pl.lit("'")


def compile_checks(schema: Schema, present: set[str]) -> CompiledChecks:
    """Compile the checks of the columns in ``present`` (columns found in the file)."""
    columns: dict[str, pa.Column] = {}
    rules: dict[tuple[str, int | None], Rule] = {}
    needed: list[str] = []
    for col in schema.columns:
        if col.name not in present:
            continue
        checks, col_rules = _column_checks(col)
        columns[col.name] = pa.Column(pl.String, checks=checks, nullable=not col.required)
        needed.append(col.name)
        for number, rule in enumerate(col_rules):
            rules[(col.name, number)] = rule
        rules[(col.name, None)] = Rule(col.name, "missing-value", _required_message(col.name))
        if col.type in TYPE_CODES:
            needed += invalid_columns(col)
        if col.type in ("integer", "number") and (
            col.minimum is not None or col.maximum is not None
        ):
            num_checks, num_rules = _range_checks(col)
            columns[num_col(col.name)] = pa.Column(pl.Float64, checks=num_checks, nullable=True)
            needed.append(num_col(col.name))
            for number, rule in enumerate(num_rules):
                rules[(num_col(col.name), number)] = rule
    return CompiledChecks(pa.DataFrameSchema(columns, strict=False), rules, needed)


def _required_message(name: str) -> MessageFn:
    text = pl.lit(f"{name} is required but empty")
    return lambda v: text


def _column_checks(col: Column) -> tuple[list[pa.Check], list[Rule]]:
    checks: list[pa.Check] = []
    rules: list[Rule] = []
    name = col.name

    def add(check: pa.Check, code: str, message: MessageFn) -> None:
        checks.append(check)
        rules.append(Rule(name, code, message))

    if col.type in TYPE_CODES:
        ok, reason = ok_col(name), invalid_reason(col)
        add(
            pa.Check(lambda d: d.lazyframe.select(pl.col(ok)), name=TYPE_CODES[col.type]),
            TYPE_CODES[col.type],
            lambda v: _quoted(v) + pl.lit(" ") + reason,
        )
    if col.min_length is not None:
        add(
            pa.Check.str_length(min_value=col.min_length),
            "too-short",
            lambda v: pl.format(
                "the value has {} characters; at least {} are needed",
                v.str.len_chars(),
                pl.lit(col.min_length),
            ),
        )
    if col.max_length is not None:
        add(
            pa.Check.str_length(max_value=col.max_length),
            "too-long",
            lambda v: pl.format(
                "the value has {} characters; {} allows at most {}",
                v.str.len_chars(),
                pl.lit(name),
                pl.lit(col.max_length),
            ),
        )
    if col.pattern is not None:
        add(
            pa.Check.str_matches(f"^(?:{col.pattern})$"),
            "pattern-mismatch",
            lambda v: _quoted(v) + pl.lit(f" does not match the pattern {col.pattern}"),
        )
    if col.values:
        shown = ", ".join(col.values[:12]) + (" …" if len(col.values) > 12 else "")
        add(
            pa.Check.isin(list(col.values)),
            "not-allowed-value",
            lambda v: _quoted(v) + pl.lit(f" is not one of: {shown}"),
        )
    if col.is_text and col.formula == "reject":
        add(
            pa.Check(
                lambda d: d.lazyframe.select(~pl.col(d.key).str.contains(FORMULA_START)),
                name="formula-injection",
            ),
            "formula-injection",
            lambda v: (
                _quoted(v)
                + pl.lit(
                    " starts like a spreadsheet formula (=, +, -, @, tab or CR); "
                    "remove that character, or set formula: escape in the schema"
                )
            ),
        )
    return checks, rules


def _range_checks(col: Column) -> tuple[list[pa.Check], list[Rule]]:
    checks: list[pa.Check] = []
    rules: list[Rule] = []
    if col.minimum is not None:
        checks.append(pa.Check.ge(col.minimum))
        rules.append(
            Rule(
                col.name,
                "out-of-range",
                lambda v: v + pl.lit(f" is below the minimum {col.minimum:g}"),
            )
        )
    if col.maximum is not None:
        checks.append(pa.Check.le(col.maximum))
        rules.append(
            Rule(
                col.name,
                "out-of-range",
                lambda v: v + pl.lit(f" is above the maximum {col.maximum:g}"),
            )
        )
    return checks, rules
