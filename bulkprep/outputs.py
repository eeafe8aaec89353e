"""Output files, written atomically: a temporary file beside the target, renamed at the end.

A failed or interrupted run leaves no half-written output behind, and an output path
that is the input file itself is refused before anything is written.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO

import polars as pl

from ._exceptions import OutputError


def _current_umask() -> int:
    mask = os.umask(0)  # reading the umask means setting it: once, at import
    os.umask(mask)
    return mask


_UMASK = _current_umask()


class AtomicFile:
    """A binary file that appears at ``path`` only when committed."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".part", dir=folder)
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot be written ({exc.strerror or exc})") from exc
        self._tmp = Path(tmp)
        # mkstemp creates the file private (0600); give it the usual mode for new files.
        os.chmod(tmp, 0o666 & ~_UMASK)
        self.handle: IO[bytes] = os.fdopen(fd, "wb")

    def commit(self) -> None:
        try:
            self.handle.close()
            os.replace(self._tmp, self.path)
        except OSError as exc:
            self.discard()
            raise OutputError(f"{self.path}: cannot be written ({exc.strerror or exc})") from exc

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self.handle.close()
        with contextlib.suppress(OSError):
            self._tmp.unlink()

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


class CsvSink:
    """Appends polars frames to a CSV file (comma, UTF-8, no BOM), header once.

    In a one-column file an empty value is written as ``""``: an empty line would be
    read back as no row at all.
    """

    def __init__(self, path: str | Path, columns: list[str]) -> None:
        self.file = AtomicFile(path)
        self.columns = columns
        self._header_written = False
        self._empty = '""' if len(columns) == 1 else ""

    def write(self, frame: pl.DataFrame) -> None:
        if not self._header_written:
            pl.DataFrame(schema=dict.fromkeys(self.columns, pl.String)).write_csv(self.file.handle)
            self._header_written = True
        if frame.height:
            frame.write_csv(self.file.handle, include_header=False, null_value=self._empty)

    def commit(self) -> None:
        if not self._header_written:
            self.write(pl.DataFrame(schema=dict.fromkeys(self.columns, pl.String)))
        self.file.commit()

    def discard(self) -> None:
        self.file.discard()


def write_text(path: str | Path, text: str) -> None:
    with AtomicFile(path) as out:
        out.handle.write(text.encode("utf-8"))


def check_not_input(source: str | Path, *outputs: str | Path | None) -> None:
    """Refuse an output path that is the input file (or another output)."""
    seen: dict[Path, str] = {}
    if str(source) != "-":
        seen[Path(source).resolve()] = "the input file"
    for out in outputs:
        if out is None:
            continue
        resolved = Path(out).resolve()
        if resolved in seen:
            raise OutputError(f"{out}: is {seen[resolved]}; choose another output path")
        seen[resolved] = "another output of this run"
