"""Normalization: raw text cells to canonical values, as polars expressions.

For each schema column the batch gains:

* ``<name>``: the canonical value written to the clean file (null when empty);
* ``<name>§ok``: False where the value cannot be read as the column's type;
* ``<name>§why``: the reason, where it cannot;
* ``<name>§num``: the value as a number, for range checks (integer and number).

Repairs that keep the row (trimmed white space, a lower-cased email, a repaired
phone, an added URL scheme, an escaped formula) come back as warning findings.
Checks of the canonical values are compiled separately (``bulkprep.checks``).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from . import emails, phones
from .schema import Column, Schema

# White space, no-break spaces and zero-width characters, trimmed from both ends.
TRIM_CHARS = (
    " \t\n\r\x0b\x0c\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\u200b\u200c\u200d\u2060\ufeff"
)
FORMULA_START = r"^[=+\-@\t\r]"
# Host labels of ASCII letters, digits and hyphens, or any non-ASCII letters (IDN);
# byte-range classes keep this regex fast (Unicode classes cost 50x more here).
_LABEL_CHAR = r"[a-zA-Z0-9[^\x00-\x7F]]"
_URL = (
    rf"^(?i:https?)://(?:{_LABEL_CHAR}(?:(?:{_LABEL_CHAR}|-){{0,61}}{_LABEL_CHAR})?\.)+"
    r"(?:[a-zA-Z]|[^\x00-\x7F]){2,63}\.?(?::[0-9]{1,5})?(?:[/?#][^\s]*)?$"
)
_HAS_SCHEME = r"^[A-Za-z][A-Za-z0-9+.-]*://|^(?i:mailto|javascript|data|tel|file|news|urn):"
DEFAULT_FORMATS = {
    "date": ("%Y-%m-%d",),
    "datetime": ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S%.f"),
}
# %.f writes a fraction of a second only when there is one, so none is lost.
ISO_FORMAT = {"date": "%Y-%m-%d", "datetime": "%Y-%m-%dT%H:%M:%S%.f"}

INDEX = "_index"


def _with(frame: pl.DataFrame, exprs: list[pl.Expr]) -> pl.DataFrame:
    """``with_columns`` through the lazy engine, so shared subexpressions run once."""
    return frame.lazy().with_columns(exprs).collect()


def _nfc(text: pl.Expr) -> pl.Expr:
    # ASCII text is always NFC; only values with other characters pay for normalizing.
    return (
        pl.when(text.str.len_bytes() != text.str.len_chars())
        .then(text.str.normalize("NFC"))
        .otherwise(text)
    )


def ok_col(name: str) -> str:
    return f"{name}§ok"


def why_col(name: str) -> str:
    return f"{name}§why"


def num_col(name: str) -> str:
    return f"{name}§num"


def _pre(name: str) -> str:
    return f"{name}§pre"


@dataclass(frozen=True)
class Repair:
    """A warning-producing repair: where it happened and what to say."""

    column: str
    code: str
    mask: pl.Expr
    message: pl.Expr


def normalize(
    frame: pl.DataFrame, schema: Schema, sources: dict[str, str | None]
) -> tuple[pl.DataFrame, list[Repair]]:
    """Add canonical and helper columns to ``frame``; return it and its repairs.

    ``sources`` maps each schema column to the raw cell column (``c0`` …) it reads
    from, or None when the file lacks it. Each repair's mask and message are
    expressions on the returned frame (``bulkprep.checks`` evaluates them).
    """
    repairs: list[Repair] = []
    pre = []
    for col in schema.columns:
        src = sources.get(col.name)
        if src is None:
            pre.append(pl.lit(None, dtype=pl.String).alias(_pre(col.name)))
            continue
        raw = pl.col(src)
        text = raw
        if col.trim:
            text = text.str.strip_chars(TRIM_CHARS)
            trimmed = f"{col.name}§trimmed"
            pre.append((text.str.len_bytes() != raw.str.len_bytes()).alias(trimmed))
            repairs.append(
                Repair(
                    col.name,
                    "whitespace-trimmed",
                    pl.col(trimmed) & pl.col(_pre(col.name)).is_not_null(),
                    pl.lit("white space around the value was removed"),
                )
            )
        if col.nfc:
            text = _nfc(text)
        text = _recase(text, col.case)
        pre.append(text.alias(_pre(col.name)))
    frame = _with(frame, pre)
    frame = frame.with_columns(
        pl.when(pl.col(_pre(c.name)) == "").then(None).otherwise(pl.col(_pre(c.name))).name.keep()
        for c in schema.columns
    )

    late: list[Column] = []
    exprs: list[pl.Expr] = []
    for col in schema.columns:
        if col.type in ("email", "phone"):
            late.append(col)
        else:
            exprs.extend(_typed(col, repairs))
    frame = _with(frame, exprs)
    for col in late:
        if col.type == "email":
            frame = _emails(frame, col, repairs)
        else:
            frame = _phones(frame, col, schema, repairs)
    escaped = [c.name for c in schema.columns if c.is_text and c.formula == "escape"]
    if escaped:
        frame = frame.with_columns(
            pl.col(escaped).str.contains(FORMULA_START).fill_null(False).name.suffix("§escaped")
        ).with_columns(
            pl.when(pl.col(f"{n}§escaped"))
            .then(pl.lit("'") + pl.col(n))
            .otherwise(pl.col(n))
            .alias(n)
            for n in escaped
        )
        repairs.extend(
            Repair(
                n,
                "formula-escaped",
                pl.col(f"{n}§escaped"),
                pl.lit("the value starts like a formula and was prefixed with '"),
            )
            for n in escaped
        )
    return frame, [r for r in repairs if sources.get(r.column) is not None]


def _recase(text: pl.Expr, case: str) -> pl.Expr:
    if case == "lower":
        return text.str.to_lowercase()
    if case == "upper":
        return text.str.to_uppercase()
    if case == "title":
        return text.str.to_titlecase()
    return text


def _valid(
    name: str,
    value: pl.Expr,
    ok: pl.Expr,
    num: pl.Expr | None = None,
    reason: pl.Expr | None = None,
) -> list[pl.Expr]:
    """The canonical value, the verdict, and what the messages of failures need.

    Messages are not built here, for every row: :func:`invalid_reason` builds them
    for the failing rows only. ``reason`` is the library's explanation, if any.
    """
    present = pl.col(_pre(name)).is_not_null()
    out = [value.alias(name), (ok | ~present).alias(ok_col(name))]
    if reason is not None:
        out.append(reason.alias(why_col(name)))
    if num is not None:
        out.append(num.alias(num_col(name)))
    return out


def invalid_reason(col: Column) -> pl.Expr:
    """Why a value of ``col`` cannot be read; evaluated on the failing rows only."""
    v = pl.col(_pre(col.name))
    kind = col.type
    if kind == "email":
        return pl.lit("is not a valid email address: ") + pl.col(why_col(col.name))
    if kind == "phone":
        return pl.lit("is not a possible phone number: ") + pl.col(why_col(col.name))
    if kind == "integer":
        return pl.lit("is not a whole number")
    if kind == "number":
        return pl.lit("is not a number")
    if kind == "boolean":
        spellings = "/".join([*col.true_values[:3], *col.false_values[:3]])
        return pl.lit(f"is not a boolean (use {spellings})")
    if kind in ("date", "datetime"):
        what = "a date" if kind == "date" else "a date-time"
        formats = col.formats or DEFAULT_FORMATS[kind]
        return pl.lit(f"is not {what} in format {' or '.join(formats)}")
    if kind == "url":
        scheme = _url_scheme(_url_with_scheme(v, col))
        return (
            pl.when(scheme.is_in(["http", "https"]) | scheme.is_null())
            .then(pl.lit("is not a valid URL (it needs a host name such as www.example.com)"))
            .otherwise(pl.format("uses scheme '{}'; only http and https are allowed", scheme))
        )
    raise AssertionError(f"no reason for type {kind}")  # pragma: no cover


def _url_with_scheme(v: pl.Expr, col: Column) -> pl.Expr:
    return (
        pl.when(v.str.contains(_HAS_SCHEME))
        .then(v)
        .otherwise(pl.lit(f"{col.default_scheme}://") + v)
    )


def _url_scheme(value: pl.Expr) -> pl.Expr:
    return value.str.extract(r"^([A-Za-z][A-Za-z0-9+.-]*):", 1).str.to_lowercase()


def _typed(col: Column, repairs: list[Repair]) -> list[pl.Expr]:
    v = pl.col(_pre(col.name))
    kind = col.type
    if kind in ("string", "enum"):
        if col.values and not col.case_sensitive:
            lowered = [x.lower() for x in col.values]
            v = v.str.to_lowercase().replace_strict(lowered, list(col.values), default=v)
        return [v.alias(col.name), pl.lit(True).alias(ok_col(col.name))]
    if kind == "integer":
        parsed = v.str.strip_prefix("+").cast(pl.Int64, strict=False)
        ok = v.str.contains(r"^[+-]?[0-9]+$") & parsed.is_not_null()
        return _valid(
            col.name,
            pl.when(ok).then(parsed.cast(pl.String)).otherwise(v),
            ok,
            parsed.cast(pl.Float64),
        )
    if kind == "number":
        parsed = v.cast(pl.Float64, strict=False)
        ok = v.str.contains(r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
        return _valid(col.name, v, ok & parsed.is_not_null(), parsed)
    if kind == "boolean":
        folded = v.str.to_lowercase()
        truthy = folded.is_in([t.lower() for t in col.true_values])
        falsy = folded.is_in([f.lower() for f in col.false_values])
        value = pl.when(truthy).then(pl.lit("true")).when(falsy).then(pl.lit("false")).otherwise(v)
        return _valid(col.name, value, truthy | falsy)
    if kind in ("date", "datetime"):
        dtype = pl.Date if kind == "date" else pl.Datetime("us")
        formats = col.formats or DEFAULT_FORMATS[kind]
        parsed = pl.coalesce([v.str.strptime(dtype, f, strict=False) for f in formats])
        value = (
            pl.when(parsed.is_not_null()).then(parsed.dt.strftime(ISO_FORMAT[kind])).otherwise(v)
        )
        return _valid(col.name, value, parsed.is_not_null())
    if kind == "url":
        has_scheme = v.str.contains(_HAS_SCHEME)
        value = _url_with_scheme(v, col)
        ok = value.str.contains(_URL)  # the pattern admits http and https only
        repairs.append(
            Repair(
                col.name,
                "url-scheme-added",
                v.is_not_null() & ~has_scheme & ok,
                pl.format(
                    "the URL had no scheme; '{}' was added", pl.lit(f"{col.default_scheme}://")
                ),
            )
        )
        # a lower-case scheme (HTTPS://… becomes https://…)
        canonical = value.str.replace(r"^(?i:https)://", "https://").str.replace(
            r"^(?i:http)://", "http://"
        )
        return _valid(col.name, pl.when(ok).then(canonical).otherwise(v), ok)
    raise AssertionError(f"unhandled column type {kind}")  # pragma: no cover


def _residue_results(
    frame: pl.DataFrame, keys: list[str], results: pl.DataFrame, names: list[str]
) -> pl.DataFrame:
    """Add the library's ``results`` (one row per distinct key) as full-length columns.

    Only the rows the fast path left are joined (the residue is small); the other rows
    get nulls. This avoids joining the whole batch on long string keys.
    """
    if not results.height:
        return frame.with_columns(pl.lit(None, dtype=pl.String).alias(n) for n in names)
    residue = (
        frame.select(keys)
        .with_row_index("§pos")
        .join(results, on=keys, how="inner")
        .select("§pos", *names)
    )
    filled = {
        n: pl.Series(n, [None] * frame.height, dtype=pl.String).scatter(residue["§pos"], residue[n])
        for n in names
    }
    return frame.with_columns(*filled.values())


def _emails(frame: pl.DataFrame, col: Column, repairs: list[Repair]) -> pl.DataFrame:
    name = col.name
    v = pl.col(_pre(name))
    lowered = v.str.to_lowercase()
    frame = _with(
        frame,
        [
            lowered.alias(name),
            emails.fast_email_ok(lowered).fill_null(False).alias(ok_col(name)),
            (lowered != v).alias(f"{name}§lowered"),
        ],
    )
    repairs.append(
        Repair(
            name,
            "email-lowercased",
            pl.col(f"{name}§lowered"),
            pl.lit("the address was lower-cased"),
        )
    )
    residue = (
        frame.filter(pl.col(name).is_not_null() & ~pl.col(ok_col(name)))
        .get_column(name)
        .unique()
        .to_list()
    )
    checked = emails.check_emails(residue).rename(
        {"value": name, "normalized": "§norm", "reason": "§reason"}
    )
    frame = _residue_results(frame, [name], checked, ["§norm", "§reason"])
    ok = pl.col(ok_col(name)) | pl.col("§norm").is_not_null()
    value = pl.coalesce(pl.col("§norm"), pl.col(name))
    return _with(frame, _valid(name, value, ok, reason=pl.col("§reason"))).drop("§norm", "§reason")


def _phones(
    frame: pl.DataFrame, col: Column, schema: Schema, repairs: list[Repair]
) -> pl.DataFrame:
    name = col.name
    v = pl.col(_pre(name))
    region = pl.lit(col.region)
    if col.region_column:
        given = pl.col(col.region_column).str.to_uppercase()
        region = pl.when(given.is_in(sorted(phones.regions()))).then(given).otherwise(region)
    mask, e164 = phones.fast_phone(v, region)
    if col.strict:
        mask = pl.lit(False)
    frame = _with(
        frame,
        [region.alias("§region"), mask.fill_null(False).alias("§fast"), e164.alias("§e164")],
    )
    residue = (
        frame.filter(v.is_not_null() & ~pl.col("§fast"))
        .select(v.alias("§v"), pl.col("§region"))
        .unique()
    )
    checked = phones.check_phones(
        residue["§v"].to_list(), residue["§region"].to_list(), strict=col.strict
    ).rename({"value": _pre(name), "region": "§region"})
    frame = _residue_results(frame, [_pre(name), "§region"], checked, ["e164", "reason", "repair"])
    fast = pl.col("§fast")
    ok = fast | pl.col("e164").is_not_null()
    value = pl.when(fast).then(pl.col("§e164")).otherwise(pl.coalesce(pl.col("e164"), v))
    repaired = f"{name}§repaired"
    frame = _with(
        frame,
        [
            *_valid(name, value, ok, reason=pl.col("reason")),
            pl.when(~fast & pl.col("repair").is_not_null())
            .then(
                pl.format(
                    "'{}' was repaired to '{}' ({}); check it is the intended number",
                    v,
                    pl.col("e164"),
                    pl.col("repair"),
                )
            )
            .alias(repaired),
        ],
    )
    repairs.append(Repair(name, "phone-repaired", pl.col(repaired).is_not_null(), pl.col(repaired)))
    return frame.drop("§region", "§fast", "§e164", "e164", "reason", "repair")
