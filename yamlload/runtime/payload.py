"""Payload CSV files: their rows, held compactly and parsed into a dict when a user takes
one."""

from __future__ import annotations

import csv
import io
import re
from array import array
from collections.abc import Sequence
from typing import Any

from ..errors import UsageError
from ..plan.ir import Payload
from ..plan.source import MAX_PAYLOAD_BYTES, read_bounded


def read_payload(payload: Payload) -> Sequence[dict[str, Any]]:
    """The rows of a payload CSV, each a dict of its fields when it is used.

    The file must be a regular file of at most MAX_PAYLOAD_BYTES. Its rows are held as
    the file's bytes and where each row starts (`_Rows`: about the file's size in
    memory, where a dict per row took 13 times that); `loadAll` rows become one list of
    dicts, the value a user holds.
    """
    try:
        data = read_bounded(payload.path, MAX_PAYLOAD_BYTES)
    except OSError as exc:
        raise UsageError(f"payload {payload.path}: cannot read: {exc.strerror or exc}") from None
    lines = _Lines(data, 3 if data.startswith(b"\xef\xbb\xbf") else 0)
    reader = csv.reader(lines, delimiter=payload.delimiter)
    starts: array[int] = array("q")
    ends: array[int] = array("q")
    fields = tuple(payload.fields)
    header = not fields or payload.skip_header
    try:
        begin = lines.pos
        for row in reader:
            at, begin = begin, lines.pos
            if payload.skip_empty_lines and not any(cell.strip() for cell in row):
                continue
            if header:
                header = False
                fields = fields or tuple(row)
                continue
            starts.append(at)
            ends.append(begin)
    except UnicodeDecodeError:
        offset, byte = lines.bad
        raise UsageError(
            f"payload {payload.path}: not UTF-8 text (byte 0x{byte:02x} "
            f"at offset {offset}); save it as UTF-8"
        ) from None
    except csv.Error as exc:
        raise UsageError(f"{payload.path}:{reader.line_num}: not valid CSV: {exc}") from None
    rows = _Rows(data, starts, ends, fields, payload.delimiter, payload.cast)
    return list(rows) if payload.load_all else rows


class _Lines:
    """The lines of a CSV file's bytes, decoded one by one for csv.reader, with the offset
    where the next one starts (`pos`): a row is the bytes between two offsets. Lines end
    at \\n, \\r\\n or \\r, as a file opened with newline="" splits them."""

    def __init__(self, data: bytes, pos: int) -> None:
        self.data = data
        self.pos = pos
        self.bad = (0, 0)  # offset and value of a byte that is not UTF-8

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        data, pos = self.data, self.pos
        if pos >= len(data):
            raise StopIteration
        newline = data.find(b"\n", pos)
        stop = len(data) if newline < 0 else newline + 1
        carriage = data.find(b"\r", pos, stop)
        if carriage >= 0 and carriage + 1 < stop and carriage != newline - 1:
            stop = carriage + 1  # a lone \r ends the line
        self.pos = stop
        try:
            return data[pos:stop].decode("utf-8")
        except UnicodeDecodeError as exc:
            self.bad = (pos + exc.start, data[pos + exc.start])
            raise


class _Rows(Sequence[dict[str, Any]]):
    """A payload's rows, held compactly: the file's bytes, where each row starts and
    ends, and one shared tuple of field names. Indexing parses that one row into a
    dict (a fresh one each time, so a user may change its own)."""

    def __init__(
        self,
        data: bytes,
        starts: array[int],
        ends: array[int],
        fields: tuple[str, ...],
        delimiter: str,
        cast: bool,
    ) -> None:
        self._data = data
        self._starts = starts
        self._ends = ends
        self.fields = fields
        self._delimiter = delimiter
        self._cast = cast

    def __len__(self) -> int:
        return len(self._starts)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        text = self._data[self._starts[index] : self._ends[index]].decode("utf-8")
        cells = next(csv.reader(io.StringIO(text, newline=""), delimiter=self._delimiter), [])
        if self._cast:
            return {name: _cast(cell) for name, cell in zip(self.fields, cells, strict=False)}
        return dict(zip(self.fields, cells, strict=False))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<{len(self)} payload rows of {', '.join(self.fields)}>"


_NUMBER = re.compile(r"^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def _cast(cell: str) -> Any:
    text = cell.strip()
    if _NUMBER.match(text):
        number = float(text)
        return (
            int(number)
            if number.is_integer() and "." not in text and "e" not in text.lower()
            else number
        )
    return cell
