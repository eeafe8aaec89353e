"""Keep-first uniqueness across batches, in memory that grows only with distinct values.

Each distinct value is remembered as a 96-bit fingerprint (two polars hashes with
different seeds, 64 + 32 bits) and the line of its first occurrence: 16 bytes a
value, 160 MB for ten million distinct values. Fingerprints live in sorted runs,
merged geometrically (a small log-structured merge tree): a batch is probed with
``search_sorted`` on its own sorted keys, so no hash table is rebuilt per batch and
the cost per batch stays close to linear in the batch, not in what was seen. Two
different values share a fingerprint with probability about n² / 2⁹⁷ (6·10⁻¹⁶ for
ten million values).
"""

from __future__ import annotations

import polars as pl

_SEED_A = 0x9E3779B97F4A7C15
_SEED_B = 0x85EBCA6B


class SeenValues:
    """The values of one unique column seen so far, with their first lines."""

    def __init__(self) -> None:
        self._runs: list[pl.DataFrame] = []  # each sorted by (h1, h2): h1, h2, first

    def first_lines(self, values: pl.Series, lines: pl.Series, eligible: pl.Series) -> pl.Series:
        """Per row: the line of an earlier occurrence of its value, or null.

        Only ``eligible`` rows with a non-null value take part: they are checked, and
        the first of each value is remembered. ``lines`` must increase.
        """
        keyed = (
            pl.DataFrame({"v": values, "line": lines, "ok": eligible})
            .with_row_index("i")
            .filter(pl.col("ok") & pl.col("v").is_not_null())
            .select(
                "i",
                pl.col("line").cast(pl.UInt32),
                pl.col("v").hash(seed=_SEED_A).alias("h1"),
                pl.col("v").hash(seed=_SEED_B).floordiv(1 << 32).cast(pl.UInt32).alias("h2"),
            )
            .sort("h1", "h2", maintain_order=True)
        )
        earlier = self._probe(keyed)
        start = (pl.col("h1") != pl.col("h1").shift(1)) | (pl.col("h2") != pl.col("h2").shift(1))
        keyed = keyed.with_columns(
            earlier.alias("seen"),
            pl.when(start.fill_null(True)).then(pl.col("line")).forward_fill().alias("batch_first"),
        )
        new = keyed.filter(
            pl.col("seen").is_null() & (pl.col("batch_first") == pl.col("line"))
        ).select("h1", "h2", pl.col("line").alias("first"))
        self._add(new)
        dup = keyed.select(
            "i",
            pl.coalesce(
                pl.col("seen"),
                pl.when(pl.col("batch_first") != pl.col("line")).then(pl.col("batch_first")),
            )
            .cast(pl.Int64)
            .alias("dup"),
        )
        out = pl.Series("dup", [None] * len(values), dtype=pl.Int64)
        return out.scatter(dup["i"], dup["dup"]) if dup.height else out

    def _probe(self, keyed: pl.DataFrame) -> pl.Series:
        found = pl.Series("seen", [None] * keyed.height, dtype=pl.UInt32)
        for run in self._runs:
            at = run["h1"].search_sorted(keyed["h1"], side="left").clip(0, run.height - 1)
            candidate = run.select(pl.all().gather(at))
            hit = (candidate["h1"] == keyed["h1"]) & (candidate["h2"] == keyed["h2"])
            found = found.zip_with(~hit, candidate["first"]) if hit.any() else found
        return found

    def _add(self, new: pl.DataFrame) -> None:
        if not new.height:
            return
        self._runs.append(new)  # a filter of the sorted batch: already sorted
        while len(self._runs) > 1 and self._runs[-1].height * 2 >= self._runs[-2].height:
            newer, older = self._runs.pop(), self._runs.pop()
            self._runs.append(older.merge_sorted(newer, key="h1"))
