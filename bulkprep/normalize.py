"""Normalization: raw text cells to canonical values, as polars expressions.

For each schema column the batch gains:

* ``<name>``: the canonical value written to the clean file (null when empty);
* ``<name>§ok``: False where the value cannot be read as the column's type;
* ``<name>§why``: the reason, where it cannot;
* ``<name>§num``: the value as a number, for range checks (integer and number).

It runs in four passes over a batch: the text of every column (trim, NFC, case),
every column read as its type (email and phone by their vectorized fast paths), the
residue those fast paths leave sent to email-validator and phonenumbers, and the
libraries' verdicts. Repairs that keep the row (trimmed white space, a lower-cased
email, a repaired phone, an added URL scheme, an escaped formula) come back as
:class:`Repair` masks and messages; ``bulkprep.checks`` evaluates them with the
schema's checks in one pass, as findings whose severity the column decides (warning
unless the schema says otherwise).
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


def _with(frame: pl.DataFrame, exprs: list[pl.Expr]) -> pl.DataFrame:
    """``with_columns`` through the lazy engine, so shared subexpressions run once."""
    return frame.lazy().with_columns(exprs).collect()


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

    ``sources`` maps each schema column to the raw cell column (``§c0`` …) it reads
    from, or None when the file lacks it. Each repair's mask and message are
    expressions on the returned frame (``bulkprep.checks`` evaluates them).
    """
    repairs: list[Repair] = []
    frame = _text_pass(frame, schema, sources, repairs)
    frame = _type_pass(frame, schema, repairs)
    frame = _library_pass(frame, schema)
    frame = _final_pass(frame, schema, repairs)
    return frame, [r for r in repairs if sources.get(r.column) is not None]


def _text_pass(
    frame: pl.DataFrame, schema: Schema, sources: dict[str, str | None], repairs: list[Repair]
) -> pl.DataFrame:
    """Trimmed, NFC and re-cased text of every column (``§pre``); empty text is null."""
    stripped = []
    for col in schema.columns:
        src = sources.get(col.name)
        if src is None:
            stripped.append(pl.lit(None, dtype=pl.String).alias(_pre(col.name)))
            continue
        raw = pl.col(src)
        text = raw
        if col.trim:
            text = text.str.strip_chars(TRIM_CHARS)
            trimmed = f"{col.name}§trimmed"
            stripped.append((text.str.len_bytes() != raw.str.len_bytes()).alias(trimmed))
            repairs.append(
                Repair(
                    col.name,
                    "whitespace-trimmed",
                    pl.col(trimmed) & pl.col(_pre(col.name)).is_not_null(),
                    pl.lit("white space around the value was removed"),
                )
            )
        stripped.append(text.alias(_pre(col.name)))
    frame = _with(frame, stripped)
    frame = _nfc(frame, [_pre(c.name) for c in schema.columns if c.nfc and sources.get(c.name)])
    return frame.with_columns(
        pl.when(text == "").then(None).otherwise(text).alias(_pre(c.name))
        for c in schema.columns
        for text in [_recase(pl.col(_pre(c.name)), c.case)]
    )


def _nfc(frame: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    """Columns ``names`` in Unicode NFC. ASCII text is always NFC, so only the values
    with other characters are normalized (a minority in most files)."""
    if not names:
        return frame
    wide = frame.select(
        (pl.col(n).str.len_bytes() != pl.col(n).str.len_chars()).arg_true().implode() for n in names
    ).row(0)
    out = []
    for name, rows in zip(names, wide, strict=True):
        if rows:
            column = frame.get_column(name)
            out.append(column.scatter(rows, column.gather(rows).str.normalize("NFC")))
    return frame.with_columns(out) if out else frame


def _type_pass(frame: pl.DataFrame, schema: Schema, repairs: list[Repair]) -> pl.DataFrame:
    """Every column read as its type, in one pass; email and phone take their fast path."""
    exprs: list[pl.Expr] = []
    for col in schema.columns:
        kind = _LIBRARY_TYPES.get(col.type)
        exprs.extend(kind.fast(col, repairs) if kind else _typed(col, repairs))
    return _with(frame, exprs)


def _library_pass(frame: pl.DataFrame, schema: Schema) -> pl.DataFrame:
    """The residue the fast paths left, sent to the libraries; each distinct value is
    checked once and remembered (``functools.lru_cache``), across batches too."""
    return frame.with_columns(
        series
        for col in schema.columns
        if col.type in _LIBRARY_TYPES
        for series in _LIBRARY_TYPES[col.type].residue(frame, col)
    )


def _final_pass(frame: pl.DataFrame, schema: Schema, repairs: list[Repair]) -> pl.DataFrame:
    """The library types' verdicts, and formulas escaped, in one pass."""
    final = [
        e
        for col in schema.columns
        if col.type in _LIBRARY_TYPES
        for e in _LIBRARY_TYPES[col.type].final(col, repairs)
    ]
    escaped = [c.name for c in schema.columns if c.is_text and c.formula == "escape"]
    for n in escaped:
        starts = pl.col(n).str.contains(FORMULA_START).fill_null(False)
        final += [
            starts.alias(f"{n}§escaped"),
            pl.when(starts).then(pl.lit("'") + pl.col(n)).otherwise(pl.col(n)).alias(n),
        ]
        repairs.append(
            Repair(
                n,
                "formula-escaped",
                pl.col(f"{n}§escaped"),
                pl.lit("the value starts like a formula and was prefixed with '"),
            )
        )
    return _with(frame, final) if final else frame


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
        schemeless = f"{col.name}§schemeless"
        value = _url_with_scheme(v, col)
        ok = value.str.contains(_URL)  # the pattern admits http and https only
        repairs.append(
            Repair(
                col.name,
                "url-scheme-added",
                pl.col(schemeless) & pl.col(ok_col(col.name)),
                pl.lit(f"the URL had no scheme; '{col.default_scheme}://' was added"),
            )
        )
        # a lower-case scheme (HTTPS://… becomes https://…)
        canonical = value.str.replace(r"^(?i:https)://", "https://").str.replace(
            r"^(?i:http)://", "http://"
        )
        return [
            *_valid(col.name, pl.when(ok).then(canonical).otherwise(v), ok),
            (v.is_not_null() & ~v.str.contains(_HAS_SCHEME)).alias(schemeless),
        ]
    raise AssertionError(f"unhandled column type {kind}")  # pragma: no cover


def _residue(frame: pl.DataFrame, mask: pl.Expr, keys: list[str]) -> pl.DataFrame:
    """The rows the fast path left (a small residue): their position and ``keys``."""
    return frame.lazy().with_row_index("§pos").filter(mask).select("§pos", *keys).collect()


def _spread(height: int, positions: pl.Series, results: dict[str, pl.Series]) -> list[pl.Series]:
    """The library's results for the residue rows as full-length columns (null elsewhere)."""
    return [
        pl.repeat(None, height, dtype=pl.String, eager=True).alias(name).scatter(positions, values)
        for name, values in results.items()
    ]


def _temp(col: Column, what: str) -> str:
    return f"{col.name}§{what}"


class _Email:
    """An email column: the fast path for every row, email-validator for the residue."""

    @staticmethod
    def fast(col: Column, repairs: list[Repair]) -> list[pl.Expr]:
        v = pl.col(_pre(col.name))
        lowered = v.str.to_lowercase()
        repairs.append(
            Repair(
                col.name,
                "email-lowercased",
                pl.col(_temp(col, "lowered")),
                pl.lit("the address was lower-cased"),
            )
        )
        return [
            lowered.alias(col.name),
            emails.fast_email_ok(lowered).fill_null(False).alias(_temp(col, "fast")),
            (lowered != v).alias(_temp(col, "lowered")),
        ]

    @staticmethod
    def residue(frame: pl.DataFrame, col: Column) -> list[pl.Series]:
        mask = pl.col(col.name).is_not_null() & ~pl.col(_temp(col, "fast"))
        rows = _residue(frame, mask, [col.name])
        checked = emails.check_emails(rows[col.name].to_list())
        return _spread(
            frame.height,
            rows["§pos"],
            {_temp(col, "lib"): checked["normalized"], _temp(col, "reason"): checked["reason"]},
        )

    @staticmethod
    def final(col: Column, repairs: list[Repair]) -> list[pl.Expr]:
        library = pl.col(_temp(col, "lib"))
        ok = pl.col(_temp(col, "fast")) | library.is_not_null()
        value = pl.coalesce(library, pl.col(col.name))
        return _valid(col.name, value, ok, reason=pl.col(_temp(col, "reason")))


class _Phone:
    """A phone column: the NANP fast path for every row, phonenumbers for the residue."""

    @staticmethod
    def fast(col: Column, repairs: list[Repair]) -> list[pl.Expr]:
        v = pl.col(_pre(col.name))
        region = pl.lit(col.region)
        if col.region_column:
            # the region column's text before its own checks; upper case makes the
            # canonical spelling of a case-insensitive enum irrelevant
            given = pl.col(_pre(col.region_column)).str.to_uppercase()
            region = pl.when(given.is_in(sorted(phones.regions()))).then(given).otherwise(region)
        mask, e164 = phones.fast_phone(v, region)
        if col.strict:  # every value goes to phonenumbers' is_valid_number
            mask, e164 = pl.lit(False), pl.lit(None, dtype=pl.String)
        return [
            region.alias(_temp(col, "region")),
            mask.fill_null(False).alias(_temp(col, "fast")),
            e164.alias(_temp(col, "e164")),
        ]

    @staticmethod
    def residue(frame: pl.DataFrame, col: Column) -> list[pl.Series]:
        v, region = _pre(col.name), _temp(col, "region")
        mask = pl.col(v).is_not_null() & ~pl.col(_temp(col, "fast"))
        rows = _residue(frame, mask, [v, region])
        checked = phones.check_phones(rows[v].to_list(), rows[region].to_list(), strict=col.strict)
        return _spread(
            frame.height,
            rows["§pos"],
            {
                _temp(col, "lib"): checked["e164"],
                _temp(col, "reason"): checked["reason"],
                _temp(col, "repair"): checked["repair"],
            },
        )

    @staticmethod
    def final(col: Column, repairs: list[Repair]) -> list[pl.Expr]:
        v = pl.col(_pre(col.name))
        fast, library = pl.col(_temp(col, "fast")), pl.col(_temp(col, "lib"))
        repair = pl.col(_temp(col, "repair"))
        repairs.append(
            Repair(
                col.name,
                "phone-repaired",
                ~fast & repair.is_not_null(),
                pl.format(
                    "'{}' was repaired to '{}' ({}); check it is the intended number",
                    v,
                    library,
                    repair,
                ),
            )
        )
        ok = fast | library.is_not_null()
        value = pl.when(fast).then(pl.col(_temp(col, "e164"))).otherwise(pl.coalesce(library, v))
        return _valid(col.name, value, ok, reason=pl.col(_temp(col, "reason")))


_LIBRARY_TYPES: dict[str, type[_Email] | type[_Phone]] = {"email": _Email, "phone": _Phone}
