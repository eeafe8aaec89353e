"""Checks: the constraints of a bulkprep schema compiled to polars expressions.

Each constraint of a column becomes a :class:`Rule`: a boolean polars expression
that is True where a row fails it, the finding code it maps to, its severity and a
message. The repairs of ``bulkprep.normalize`` (trimmed white space, a lower-cased
email …) are rules of the same shape, with warning severity:

========================  ============================================  ===================
constraint                the row fails where                           finding code
========================  ============================================  ===================
required                  the canonical value is null                   missing-value
type (email, phone, …)    the normalizer could not read the value       invalid-<type>
min_length / max_length   ``str.len_chars()`` is out of bounds          too-short / too-long
pattern                   ``str.contains("^(?:pattern)$")`` is False    pattern-mismatch
values / enum             ``is_in(values)`` is False                    not-allowed-value
minimum / maximum         the number is below / above the bound         out-of-range
formula: reject           the value starts like a formula               formula-injection
========================  ============================================  ===================

A null value passes every check but ``required``, as in pandera, whose lazy
validation the rules follow (``tests/test_checks_pandera.py`` runs both on the same
frames and compares the failures row by row). The engine evaluates every rule of a
batch in one pass (:meth:`CompiledChecks.flag`) and builds messages for the failing
rows only (:meth:`FlaggedBatch.findings`). Pandera itself is not run per batch:
it makes one pass over the batch per check, which cost more than all the checks
together here (see ``docs/performance.md``).

Uniqueness is keep-first across batches and is checked by the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import polars as pl

from .normalize import FORMULA_START, Repair, invalid_reason, num_col, ok_col
from .reader import LINE_COLUMN
from .report import FINDING_SCHEMA
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
ERROR = "§error"  # True where a row fails a rule of severity error
FLAGGED = "§flagged"  # True where a row fails any rule
ROW = "§row"


@dataclass(frozen=True)
class Rule:
    """One check (or repair) of one column: where rows fail it and what to say."""

    column: str  # the schema column the finding names
    code: str
    severity: str
    fails: pl.Expr  # True where a row fails; null counts as passing
    message: pl.Expr  # evaluated on the failing rows only


@dataclass(frozen=True)
class CompiledChecks:
    rules: list[Rule]
    columns: dict[str, Column]  # the schema's columns by name, for repair severities

    def flag(self, frame: pl.DataFrame, repairs: Sequence[Repair] = ()) -> FlaggedBatch:
        """Evaluate the repairs and every rule on ``frame`` in one pass."""
        rules = [*(self._repair_rule(r) for r in repairs), *self.rules]
        names = [f"§fail{i}" for i in range(len(rules))]
        errors = [n for n, r in zip(names, rules, strict=True) if r.severity == "error"]
        flagged = (
            frame.lazy()
            .with_columns(
                r.fails.fill_null(False).alias(n) for r, n in zip(rules, names, strict=True)
            )
            .with_columns(
                (pl.any_horizontal(errors) if errors else pl.lit(False)).alias(ERROR),
                (pl.any_horizontal(names) if names else pl.lit(False)).alias(FLAGGED),
            )
            .collect()
        )
        return FlaggedBatch(flagged, rules, names)

    def _repair_rule(self, repair: Repair) -> Rule:
        severity = self.columns[repair.column].severity_of(repair.code)
        return Rule(repair.column, repair.code, severity, repair.mask, repair.message)


@dataclass(frozen=True)
class FlaggedBatch:
    """A normalized batch with one boolean column per rule, plus ``§error`` and ``§flagged``."""

    frame: pl.DataFrame
    rules: list[Rule]
    names: list[str]

    def findings(self, value_of: Callable[[str], pl.Expr]) -> pl.LazyFrame:
        """``line, row, column, value, code, severity, message`` of every failure.

        ``value_of(column)`` gives the expression of a finding's value (the raw cell).
        Messages are built for the failing rows only.
        """
        failing = self.frame.lazy().filter(pl.col(FLAGGED))
        parts = [
            failing.filter(pl.col(name)).select(
                pl.col(LINE_COLUMN).alias("line"),
                pl.col(ROW).alias("row"),
                pl.lit(rule.column).alias("column"),
                value_of(rule.column).alias("value"),
                pl.lit(rule.code).alias("code"),
                pl.lit(rule.severity).alias("severity"),
                rule.message.alias("message"),
            )
            for rule, name in zip(self.rules, self.names, strict=True)
        ]
        return pl.concat(parts) if parts else pl.LazyFrame(schema=FINDING_SCHEMA)


def _quoted(value: pl.Expr) -> pl.Expr:
    return pl.lit("'") + value + pl.lit("'")


def compile_checks(schema: Schema, present: set[str]) -> CompiledChecks:
    """Compile the checks of the columns in ``present`` (columns found in the file)."""
    rules: list[Rule] = []
    for col in schema.columns:
        if col.name in present:
            rules += column_rules(col)
    return CompiledChecks(rules, {c.name: c for c in schema.columns})


def column_rules(col: Column) -> list[Rule]:
    """The rules of one column, in the order their findings are listed."""
    name = col.name
    v = pl.col(name)
    rules: list[Rule] = []

    def add(code: str, fails: pl.Expr, message: pl.Expr) -> None:
        rules.append(Rule(name, code, col.severity_of(code), fails, message))

    if col.required:
        add("missing-value", v.is_null(), pl.lit(f"{name} is required but empty"))
    if col.type in TYPE_CODES:
        add(TYPE_CODES[col.type], ~pl.col(ok_col(name)), _quoted(v) + " " + invalid_reason(col))
    if col.min_length is not None:
        add(
            "too-short",
            v.str.len_chars() < col.min_length,
            pl.format(
                "the value has {} characters; at least {} are needed",
                v.str.len_chars(),
                pl.lit(col.min_length),
            ),
        )
    if col.max_length is not None:
        add(
            "too-long",
            v.str.len_chars() > col.max_length,
            pl.format(
                "the value has {} characters; {} allows at most {}",
                v.str.len_chars(),
                pl.lit(name),
                pl.lit(col.max_length),
            ),
        )
    if col.pattern is not None:
        add(
            "pattern-mismatch",
            ~v.str.contains(f"^(?:{col.pattern})$"),
            _quoted(v) + pl.lit(f" does not match the pattern {col.pattern}"),
        )
    if col.values:
        shown = ", ".join(col.values[:12]) + (" …" if len(col.values) > 12 else "")
        add(
            "not-allowed-value",
            v.is_not_null() & ~v.is_in(list(col.values)),
            _quoted(v) + pl.lit(f" is not one of: {shown}"),
        )
    if col.is_text and col.formula == "reject":
        add(
            "formula-injection",
            v.str.contains(FORMULA_START),
            _quoted(v)
            + pl.lit(
                " starts like a spreadsheet formula (=, +, -, @, tab or CR); "
                "remove that character, or set formula: escape in the schema"
            ),
        )
    if col.type in ("integer", "number"):
        number = pl.col(num_col(name))
        if col.minimum is not None:
            add(
                "out-of-range",
                number < col.minimum,
                v + pl.lit(f" is below the minimum {col.minimum:g}"),
            )
        if col.maximum is not None:
            add(
                "out-of-range",
                number > col.maximum,
                v + pl.lit(f" is above the maximum {col.maximum:g}"),
            )
    return rules
