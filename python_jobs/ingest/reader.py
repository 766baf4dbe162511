"""Read a landing CSV as bounded chunks of parsed rows, turning every unparseable line into a reject.

Each physical line is one record (the contract forbids embedded newlines), so a broken quote or invalid bytes can
only ever damage the line they are on: the reader parses line by line and never lets one bad line swallow the next.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

_BATCH_BYTES = 1 << 20  # ~1 MiB of lines per fast-path batch


class LandingFileError(Exception):
    """The file as a whole cannot be read against its schema (e.g. a declared column is missing)."""


@dataclass(frozen=True)
class Reject:
    line: int
    column: str | None
    reason: str
    raw_line: str


@dataclass
class Chunk:
    """Up to `chunk_rows` lines of one file: parsed rows (as strings) plus the lines that could not be parsed."""

    line_numbers: list[int] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    extras: list[str | None] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)

    @property
    def lines_read(self) -> int:
        return len(self.rows) + len(self.rejects)


@dataclass
class FileHeader:
    columns: list[str]
    unexpected: list[str]  # columns the contract does not know: schema drift, kept in `_extra_columns`
    missing: list[str]


def _decode(raw: bytes) -> str:
    return raw.rstrip(b"\r\n").decode("utf-8", errors="replace")


def _parse_line(text: str) -> list[str]:
    # strict=True turns an unterminated quote into csv.Error instead of a silently merged field.
    return next(csv.reader([text], strict=True), [])


def read_header(first_line: bytes, expected: tuple[str, ...]) -> FileHeader:
    try:
        columns = _parse_line(first_line.rstrip(b"\r\n").decode("utf-8"))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise LandingFileError(f"header line cannot be parsed: {exc}") from exc
    known = set(expected)
    return FileHeader(
        columns=columns,
        unexpected=[c for c in columns if c not in known],
        missing=[c for c in expected if c not in columns],
    )


class LandingFile:
    """Iterate one landing file in chunks; `sha256` and `size` are complete once iteration has finished."""

    def __init__(self, path: Path, expected: tuple[str, ...], chunk_rows: int = 100_000) -> None:
        self.path = path
        self.expected = expected
        self.chunk_rows = chunk_rows
        self.size = path.stat().st_size
        self.header: FileHeader | None = None
        self._digest = hashlib.sha256()

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    @property
    def is_empty(self) -> bool:
        return self.size == 0

    def chunks(self) -> Iterator[Chunk]:
        with self.path.open("rb") as handle:
            first = handle.readline()
            self._digest.update(first)
            if not first:
                return
            self.header = read_header(first, self.expected)
            if self.header.missing:
                raise LandingFileError(
                    f"{self.path.name}: declared column(s) {', '.join(self.header.missing)} missing from the header"
                )
            positions = [self.header.columns.index(c) for c in self.expected]
            extra_positions = [
                (i, c) for i, c in enumerate(self.header.columns) if c in self.header.unexpected
            ]
            width = len(self.header.columns)

            chunk = Chunk()
            line_no = 2
            while True:
                # Read a batch of whole lines (bounded by bytes), then try the fast path on all of them at once.
                batch = handle.readlines(_BATCH_BYTES)
                if not batch:
                    break
                for raw in batch:
                    self._digest.update(raw)
                if not self._read_batch_fast(chunk, line_no, batch, positions, extra_positions, width):
                    for offset, raw in enumerate(batch):
                        self._read_line(chunk, line_no + offset, raw, positions, extra_positions, width)
                line_no += len(batch)
                if chunk.lines_read >= self.chunk_rows:
                    yield chunk
                    chunk = Chunk()
            if chunk.lines_read:
                yield chunk

    @staticmethod
    def _read_batch_fast(
        chunk: Chunk,
        first_line: int,
        batch: list[bytes],
        positions: list[int],
        extra_positions: list[tuple[int, str]],
        width: int,
    ) -> bool:
        """Decode and parse a whole batch in C; False (nothing added) if any line needs the careful path."""
        try:
            texts = [raw.rstrip(b"\r\n").decode("utf-8") for raw in batch]
            records = list(csv.reader(texts, strict=True))
        except (UnicodeDecodeError, csv.Error):
            return False
        # A broken quote can swallow the next line without raising: the counts then disagree.
        if len(records) != len(texts) or any(len(r) != width for r in records):
            return False
        chunk.line_numbers.extend(range(first_line, first_line + len(batch)))
        chunk.texts.extend(texts)
        if positions == list(range(width)):
            chunk.rows.extend(records)
        else:
            chunk.rows.extend([[r[p] for p in positions] for r in records])
        if extra_positions:
            chunk.extras.extend(
                json.dumps({name: r[i] for i, name in extra_positions}, sort_keys=True) for r in records
            )
        else:
            chunk.extras.extend([None] * len(records))
        return True

    @staticmethod
    def _read_line(
        chunk: Chunk,
        line_no: int,
        raw: bytes,
        positions: list[int],
        extra_positions: list[tuple[int, str]],
        width: int,
    ) -> None:
        try:
            text = raw.rstrip(b"\r\n").decode("utf-8")
        except UnicodeDecodeError as exc:
            chunk.rejects.append(Reject(line_no, None, f"invalid UTF-8 at byte {exc.start}", _decode(raw)))
            return
        try:
            fields = _parse_line(text)
        except csv.Error as exc:
            chunk.rejects.append(Reject(line_no, None, f"broken quoting: {exc}", text))
            return
        if len(fields) != width:
            chunk.rejects.append(
                Reject(line_no, None, f"wrong column count: expected {width}, found {len(fields)}", text)
            )
            return
        chunk.line_numbers.append(line_no)
        chunk.texts.append(text)
        chunk.rows.append([fields[p] for p in positions])
        chunk.extras.append(
            json.dumps({name: fields[i] for i, name in extra_positions}, sort_keys=True)
            if extra_positions
            else None
        )
