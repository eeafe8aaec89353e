"""Reading CSV files into batches of raw text cells, each row with its source line.

The reader never guesses silently and never loses a row:

* the delimiter is sniffed (comma, tab, semicolon, pipe) unless given, and an Excel
  ``sep=X`` first line is honoured;
* a UTF-8 BOM is skipped, UTF-16 is recognised by its BOM or its NUL pattern, and
  ``encoding=`` overrides; bytes that do not decode raise :class:`EncodingError`
  naming the line, never replacement characters;
* each record keeps its physical start line (the header is line 1, newlines inside
  quoted fields count, blank lines are skipped but counted);
* a ragged row or an unterminated quote becomes a row issue, and reading goes on.

The file is read in blocks of about ``batch_bytes`` cut at record boundaries, so
memory stays flat whatever the file's size. Each block is parsed by polars (the
fast path); the parse is accepted only when two exact invariants hold (every
delimiter and every newline of the block is either structure or inside a cell),
otherwise the block is parsed again by the standard library's csv module, which
reports the exact problem.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, BinaryIO

import polars as pl

from ._exceptions import EncodingError, InputError

DELIMITERS = (",", "\t", ";", "|")
DEFAULT_BATCH_BYTES = 12 * 1024 * 1024
LINE_COLUMN = "§line"  # working column; "§" cannot occur in a schema's column names
_SNIFF_BYTES = 64 * 1024
_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\n|\r)|[^\r\n]+$")
_SEP_LINE_RE = re.compile(rb"^sep=(.)\r?\n", re.IGNORECASE)


@dataclass(frozen=True)
class RowIssue:
    """A structural problem with one record of a batch (``index`` is 0-based in the batch)."""

    index: int
    code: str
    message: str


@dataclass
class RawBatch:
    """Raw text cells ``§c0 … §c{n-1}`` plus ``§line``; ``issues`` marks broken records."""

    frame: pl.DataFrame
    issues: list[RowIssue] = field(default_factory=list)
    lines: int | None = None  # physical lines of the block, when the parser counted them

    @property
    def height(self) -> int:
        return self.frame.height


def cell_name(index: int) -> str:
    """The working name of the raw cells of column ``index`` (0-based)."""
    return f"§c{index}"


def cell_columns(width: int) -> list[str]:
    return [cell_name(i) for i in range(width)]


class CsvSource:
    """An opened CSV input: its header and dialect, and an iterator of raw batches.

    Use :func:`open_csv` to create one; iterate :meth:`batches` once.
    """

    def __init__(
        self,
        name: str,
        stream: BinaryIO,
        *,
        encoding: str | None,
        delimiter: str | None,
        batch_bytes: int,
        close: bool,
    ) -> None:
        self.name = name
        self._stream = stream
        self._close = close
        self._batch_bytes = max(1024, batch_bytes)
        first = stream.read(self._batch_bytes)
        if not first:
            raise InputError(f"{name}: the file is empty; a CSV file needs at least a header line")
        self.encoding, first = _detect_encoding(name, first, encoding)
        self._blocks = self._utf8_blocks(first)
        data = next(self._blocks, b"")
        self.line = 1  # physical line number where ``data`` starts
        match = _SEP_LINE_RE.match(data)
        sep_line = match.group(1).decode("utf-8", "replace") if match else None
        if match:
            data = data[match.end() :]
            self.line += 1
        data = self._skip_blank_lines(data)
        header_bytes, data = self._split_header(data)
        self.header_line = self.line
        self.delimiter = delimiter or sep_line or _sniff(header_bytes + data[:_SNIFF_BYTES])
        if len(self.delimiter) != 1:
            raise InputError(f"{name}: the delimiter must be one character, not {self.delimiter!r}")
        self.header = _parse_header(name, header_bytes, self.delimiter, self.header_line)
        self.line += _count_lines(header_bytes)
        self._pending = data

    # -- decoding -----------------------------------------------------------

    def _utf8_blocks(self, first: bytes) -> Iterator[bytes]:
        """Yield the input as UTF-8 bytes (transcoding when the encoding is another).

        Old Mac files end lines with CR alone: when the first block has CRs and no LF,
        every CR is read as LF.
        """
        blocks = self._decoded_blocks(first)
        head = b""
        for block in blocks:
            head += block
            # Decide on a block that has an LF, or a CR that is not its last byte (the
            # LF of a CRLF may open the next block).
            if b"\n" in head or b"\r" in head[:-1]:
                break
        cr_only = b"\n" not in head and b"\r" in head
        for block in itertools.chain([head], blocks):
            if block:
                yield block.replace(b"\r", b"\n") if cr_only else block

    def _decoded_blocks(self, first: bytes) -> Iterator[bytes]:
        if self.encoding == "utf-8":
            yield first
            while block := self._stream.read(self._batch_bytes):
                yield block
            return
        decoder = codecs.getincrementaldecoder(self.encoding)(errors="strict")
        lines_before = 1
        block = first
        while True:
            final = not block
            try:
                text = decoder.decode(block, final=final)
            except UnicodeDecodeError as exc:
                partial = block[: exc.start].decode(self.encoding, "replace")
                line = lines_before + partial.count("\n")
                raise EncodingError(
                    f"{self.name} line {line}: bytes {block[exc.start : exc.end]!r} cannot be "
                    f"decoded as {self.encoding}; pass the file's real encoding with --encoding"
                ) from exc
            lines_before += text.count("\n")
            if text:
                yield text.encode("utf-8")
            if final:
                return
            block = self._stream.read(self._batch_bytes)

    def _more(self) -> bytes:
        return next(self._blocks, b"")

    # -- header -------------------------------------------------------------

    def _skip_blank_lines(self, data: bytes) -> bytes:
        while True:
            end = data.find(b"\n")
            if end < 0:
                more = self._more()
                if more:
                    data += more
                    continue
                if data.strip():
                    return data
                raise InputError(f"{self.name}: the file has no header line (only blank lines)")
            if data[:end].strip():
                return data
            data = data[end + 1 :]
            self.line += 1

    def _split_header(self, data: bytes) -> tuple[bytes, bytes]:
        while True:
            cut = _first_boundary(data)
            if cut is not None:
                return data[:cut], data[cut:]
            more = self._more()
            if not more:
                if _ends_in_quote([data.decode("utf-8", "replace")], None):
                    raise InputError(
                        f"{self.name} line {self.line}: a quoted name in the header is never "
                        "closed, so the whole file would be read as the header; fix its quotes"
                    )
                return data, b""
            data += more

    # -- batches ------------------------------------------------------------

    def batches(self) -> Iterator[RawBatch]:
        """Yield raw batches in file order. Closes the stream at the end."""
        try:
            yield from self._batches()
        finally:
            self.close()

    def close(self) -> None:
        if self._close:
            self._stream.close()

    def _batches(self) -> Iterator[RawBatch]:
        width = len(self.header)
        buffer, self._pending = self._pending, b""
        eof = False
        floor = 0  # after a carried record, cut only past its start
        while True:
            # Top up a short buffer (a partial record, or the rest of the first block
            # after the header) with one more block; a buffer of at least half a block is
            # cut as it is, so no batch is much larger than a block.
            while not eof and len(buffer) < self._batch_bytes // 2:
                more = self._more()
                eof = not more
                buffer += more
            if not buffer:
                return
            cut = len(buffer) if eof else _record_boundary(buffer, floor)
            if cut is None:  # one record larger than a block: read on
                more = self._more()
                eof = not more
                buffer += more
                continue
            chunk, buffer = buffer[:cut], buffer[cut:]
            floor = 0
            batch = _parse_fast(chunk, width, self.delimiter, self.line)
            carry = b""
            if batch is None:
                batch, carry = self._parse_slow(chunk, width, final=eof and not buffer)
            if batch.lines is not None:
                self.line += batch.lines
            else:
                self.line += _count_lines(chunk[: len(chunk) - len(carry)])
            if batch.height:
                yield batch
            if carry:
                # The block ended inside a quoted field: read on before deciding.
                more = self._more()
                eof = not more
                buffer = carry + buffer + more
                floor = len(carry)

    def _parse_slow(self, chunk: bytes, width: int, *, final: bool) -> tuple[RawBatch, bytes]:
        """Parse with the csv module; return the batch and the bytes of an unfinished record."""
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = self.line + chunk[: exc.start].count(b"\n")
            raise EncodingError(_decode_message(self.name, chunk, exc, line)) from exc
        lines = _LINE_RE.findall(text)
        rows: list[list[str]] = []
        line_numbers: list[int] = []
        issues: list[RowIssue] = []
        start = 0
        while start < len(lines):
            reader = csv.reader(iter(lines[start:]), delimiter=self.delimiter, strict=False)
            consumed = 0
            restart = None
            for record in reader:
                first, consumed = consumed, reader.line_num
                if consumed == first + 1 and not lines[start + first].strip():
                    continue  # blank line
                if consumed == len(lines) - start and _ends_in_quote(
                    lines[start + first :], self.delimiter
                ):
                    if not final:
                        carry = "".join(lines[start + first :]).encode("utf-8")
                        return _slow_batch(rows, line_numbers, issues, width), carry
                    line = self.line + start + first
                    issues.append(
                        RowIssue(
                            len(rows),
                            "unterminated-quote",
                            "a quoted field starts on this line and is never closed; "
                            "the line is rejected and reading resumes on the next line",
                        )
                    )
                    rows.append(_cells_of_line(lines[start + first], self.delimiter))
                    line_numbers.append(line)
                    restart = start + first + 1
                    break
                if len(record) != width:
                    issues.append(RowIssue(len(rows), "ragged-row", _ragged(record, width)))
                rows.append(record)
                line_numbers.append(self.line + start + first)
            if restart is None:
                break
            start = restart
        return _slow_batch(rows, line_numbers, issues, width), b""


def open_csv(
    source: str | Path | IO[bytes],
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
) -> CsvSource:
    """Open ``source`` (a path, ``"-"`` for standard input, or a binary stream)."""
    if isinstance(source, (str, Path)) and str(source) == "-":
        return CsvSource(
            "<stdin>",
            sys.stdin.buffer,
            encoding=encoding,
            delimiter=delimiter,
            batch_bytes=batch_bytes,
            close=False,
        )
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.is_dir():
            raise InputError(f"{path}: is a folder, not a CSV file")
        try:
            stream: BinaryIO = path.open("rb")
        except OSError as exc:
            raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
        try:
            return CsvSource(
                str(path),
                stream,
                encoding=encoding,
                delimiter=delimiter,
                batch_bytes=batch_bytes,
                close=True,
            )
        except BaseException:
            stream.close()
            raise
    name = getattr(source, "name", "<stream>")
    return CsvSource(
        str(name),
        source,  # type: ignore[arg-type]
        encoding=encoding,
        delimiter=delimiter,
        batch_bytes=batch_bytes,
        close=False,
    )


# -- helpers -----------------------------------------------------------------


def _detect_encoding(name: str, first: bytes, encoding: str | None) -> tuple[str, bytes]:
    if encoding:
        try:
            info = codecs.lookup(encoding)
        except LookupError as exc:
            raise InputError(f"unknown encoding {encoding!r} (try utf-8, cp1252, utf-16)") from exc
        enc = info.name
        if enc in ("utf-8", "utf-8-sig"):
            if first.startswith(codecs.BOM_UTF8):
                first = first[len(codecs.BOM_UTF8) :]
            return "utf-8", first
        return enc, first
    if first.startswith(codecs.BOM_UTF8):
        return "utf-8", first[len(codecs.BOM_UTF8) :]
    if first.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32", first
    if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", first
    if first.startswith(b"PK\x03\x04"):
        raise InputError(
            f"{name}: is a zip archive or an Excel workbook, not CSV text; "
            "save it as CSV (File > Save As > CSV UTF-8) and try again"
        )
    head = first[:4096]
    if b"\x00" in head:
        even, odd = head[0::2].count(0), head[1::2].count(0)
        if odd > len(head) // 4 and even == 0:
            return "utf-16-le", first
        if even > len(head) // 4 and odd == 0:
            return "utf-16-be", first
        raise InputError(
            f"{name}: looks like a binary file (NUL byte at offset {head.index(0)}), not CSV text"
        )
    return "utf-8", first


def _decode_message(name: str, chunk: bytes, exc: UnicodeDecodeError, line: int) -> str:
    bad = chunk[exc.start : exc.start + 4][: max(1, exc.end - exc.start)]
    try:
        chunk.decode("cp1252")
        guess = "it looks like Windows-1252: rerun with --encoding cp1252"
    except UnicodeDecodeError:
        guess = "rerun with --encoding and the file's real encoding (for example latin-1)"
    return f"{name} line {line}: bytes {bad!r} are not valid UTF-8; {guess}"


_LINE_END = re.compile(rb"\r\n|\n|\r")


def _first_boundary(data: bytes) -> int | None:
    """Offset just past the first line end (LF, CRLF or lone CR) that ends a record."""
    quotes, pos = 0, 0
    for match in _LINE_END.finditer(data):
        end = match.start()
        if end == len(data) - 1 and data.endswith(b"\r"):
            return None  # maybe the CR of a CRLF cut by the block: read on
        quotes += data.count(b'"', pos, end)
        if quotes % 2 == 0:
            return match.end()
        pos = end
    return None


def _record_boundary(data: bytes, floor: int = 0) -> int | None:
    """Offset just past the newline at which to cut ``data``, after ``floor``; None if none.

    The last newline with an even number of quote characters before it (where a record
    most likely ends) is preferred, else the last newline. A cut inside a quoted field
    is safe, only slower: the block then fails the fast path, and the exact parser
    carries the unfinished record over to the next block.
    """
    last = data.rfind(b"\n", floor)
    if last < 0:
        return None
    pos = last
    quotes_after = data.count(b'"', pos)
    total = data.count(b'"')
    while pos >= floor:
        if (total - quotes_after) % 2 == 0:
            return pos + 1
        prev = data.rfind(b"\n", floor, pos)
        if prev < 0:
            break
        quotes_after += data.count(b'"', prev, pos)
        pos = prev
    return last + 1


def _count_lines(chunk: bytes) -> int:
    """Physical lines in ``chunk``: ends are LF, CRLF or a lone CR (as the csv module reads)."""
    if not chunk:
        return 0
    lone_cr = chunk.count(b"\r") - chunk.count(b"\r\n") if b"\r" in chunk else 0
    ended = chunk.endswith((b"\n", b"\r"))
    return chunk.count(b"\n") + lone_cr + (0 if ended else 1)


def _sniff(sample: bytes) -> str:
    text = sample.decode("utf-8", "ignore")
    lines = _LINE_RE.findall(text)[:50]
    if lines and not lines[-1].endswith(("\n", "\r")) and len(lines) > 1:
        lines = lines[:-1]  # probably cut in the middle
    best, best_score = ",", (0.0, 0)
    for delimiter in DELIMITERS:
        try:
            records = [r for r in csv.reader(iter(lines), delimiter=delimiter) if r]
        except csv.Error:
            continue
        if not records or len(records[0]) < 2:
            continue
        width = len(records[0])
        data = records[1:21] or records[:1]
        score = (sum(len(r) == width for r in data) / len(data), width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _parse_header(name: str, header: bytes, delimiter: str, line: int) -> list[str]:
    try:
        text = header.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EncodingError(_decode_message(name, header, exc, line)) from exc
    rows = [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter) if r]
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise InputError(f"{name} line {line}: no usable header (the first line has no names)")
    cells = rows[0]
    if sum(len(r) for r in rows) > len(cells):
        raise InputError(f"{name} line {line}: the header line is malformed (check its quotes)")
    return cells


def _parse_fast(chunk: bytes, width: int, delimiter: str, line: int) -> RawBatch | None:
    """Parse a block with polars; ``None`` when the parse cannot be proven exact."""
    if b"\r" in chunk and chunk.count(b"\r") != chunk.count(b"\r\n"):
        return None  # a lone CR ends a line for the csv module, not for polars
    names = cell_columns(width)
    try:
        frame = pl.read_csv(
            chunk,
            has_header=False,
            schema=dict.fromkeys(names, pl.String),
            separator=delimiter,
            quote_char='"',
            empty_string_is_null=False,
            raise_if_empty=False,
            truncate_ragged_lines=False,
        )
    except Exception:  # any parse problem: let the exact parser explain it
        return None
    if frame.width != width or frame.null_count().sum_horizontal().item() > 0:
        return None
    rows = frame.height
    cells = [pl.col(n) for n in names]
    # Only a quoted cell can hold a delimiter or a newline: count those in the few
    # rows that have one, not in every cell.
    nl = pl.Series("nl", [0] * rows, dtype=pl.Int64)
    inner_delimiters = 0
    if b'"' in chunk:
        special = f"[{re.escape(delimiter)}\n]"
        indexed = frame.with_row_index("§i").filter(
            pl.any_horizontal(c.str.contains(special) for c in cells)
        )
        counts = indexed.select(
            "§i",
            pl.sum_horizontal(c.str.count_matches("\n", literal=True) for c in cells).alias("nl"),
            pl.sum_horizontal(c.str.count_matches(delimiter, literal=True) for c in cells).alias(
                "d"
            ),
        )
        nl = nl.scatter(counts["§i"], counts["nl"].cast(pl.Int64))
        inner_delimiters = int(counts["d"].sum())
    newlines = _count_lines(chunk)  # no lone CR here (refused above)
    if newlines != rows + int(nl.sum()):
        return None
    if chunk.count(delimiter.encode()) != rows * (width - 1) + inner_delimiters:
        return None
    if width == 1 and (frame[names[0]].str.strip_chars() == "").any():
        return None  # a blank line and an empty value look alike: let the exact parser decide
    lines = pl.int_range(0, rows, eager=True, dtype=pl.Int64) + nl.cum_sum() - nl + line
    return RawBatch(frame.with_columns(lines.alias(LINE_COLUMN)), lines=newlines)


def _slow_batch(
    rows: list[list[str]], lines: list[int], issues: list[RowIssue], width: int
) -> RawBatch:
    names = cell_columns(width)
    columns: dict[str, list[str]] = {n: [] for n in names}
    for record in rows:
        cells = record[:width] + [""] * (width - len(record))
        for n, cell in zip(names, cells, strict=True):
            columns[n].append(cell)
    frame = pl.DataFrame(columns, schema=dict.fromkeys(names, pl.String)).with_columns(
        pl.Series(LINE_COLUMN, lines, dtype=pl.Int64)
    )
    return RawBatch(frame, issues)


def _ends_in_quote(lines: list[str], delimiter: str | None) -> bool:
    """True when the record made of ``lines`` is still inside a quoted field at its end.

    A quote opens a quoted field only at the start of a field (as the csv module reads
    it); elsewhere it is a literal character. ``delimiter=None`` treats every quote as
    structural (for a header, where the delimiter is not known yet).
    """
    inside = False
    at_start = True
    pending_quote = False  # inside a quoted field, the previous character was a quote
    for line in lines:
        for ch in line:
            if inside:
                if pending_quote:
                    pending_quote = False
                    if ch == '"':
                        continue  # a doubled quote
                    inside = False  # the quote closed the field; read ch outside
                elif ch == '"':
                    pending_quote = True
                    continue
                else:
                    continue
            if ch == '"' and (at_start or delimiter is None):
                inside, at_start = True, False
            elif ch == delimiter or ch in "\r\n":
                at_start = True
            else:
                at_start = False
    return inside and not pending_quote


def _cells_of_line(line: str, delimiter: str) -> list[str]:
    rows = list(csv.reader([line.rstrip("\r\n")], delimiter=delimiter, strict=False))
    return rows[0] if rows else []


def _ragged(record: list[str], width: int) -> str:
    count = len(record)
    text = f"the row has {count} cell{'s' if count != 1 else ''}, the header has {width}"
    if count > width:
        surplus = ", ".join(repr(c) for c in record[width:][:5])
        more = " …" if count - width > 5 else ""
        text += f" (surplus cells: {surplus}{more})"
    return text + "; check for a missing or extra delimiter or an unquoted delimiter in a value"
