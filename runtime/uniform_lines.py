"""Parse JSON Lines in whole-array numpy steps when the lines repeat a few shapes.

Machine-written JSON Lines repeat one shape (or a few, when two writers or a merge of two files
made them): the same keys in the same order with the same spacing, and only the numbers change.
json.loads spends ~5 us per house building a dict and floats one at a time; here a block of such
lines is read as one byte array instead:

1. The first line, parsed by json, must be an object of exactly the model's features, each a
   number. It is the first template.
2. Each line, with every number (a run of ``0-9 + - . e E`` outside strings) replaced by ``#``,
   is its skeleton. When every skeleton of a block equals the first template's (the usual case)
   one array comparison says so; otherwise each line's skeleton is looked up among the templates,
   and a new one becomes a template if json reads its line as such a record (at most
   MAX_SHAPES). A line whose skeleton equals a template's is that template with other numbers in
   the same places, which fill the template's columns.
3. Each number must follow JSON's grammar (float() alone would also take "+1", ".5", "01", ...).
4. A number whose digits form an integer below 2**53, scaled by a power of ten within +-22, is
   converted with one correctly rounded multiply or divide (Clinger's fast path, exact); any
   other number goes through float(), which rounds the same way json does.

Anything else returns None and the caller's json path takes over (which also names the first bad
line). The values returned are bit for bit those json.loads and validation would produce.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import numpy as np

from houseprice.runtime.json_numbers import Numbers
from houseprice.runtime.validate import Schema

# Lines per block: the block's arrays stay in the CPU cache and reuse the same memory; on a whole
# 16k-line chunk numpy's big temporaries cost more in page faults than in arithmetic.
BLOCK_LINES = 1024
# Distinct line shapes one chunk may have (two writers, a merge of files: a few); more, and json
# reads the chunk.
MAX_SHAPES = 16
_QUOTE, _COMMA, _SLASH, _MARK = (np.uint8(c) for c in b'",/#')
_PLUS = np.uint8(ord("+"))
_LOWER_E, _CASE_BIT = np.uint8(ord("e")), np.uint8(0x20)


def parse_uniform_lines(lines: Sequence[bytes], schema: Schema) -> np.ndarray | None:
    """(len(lines), width) float64 in the schema's column order, or None unless every line is
    one of a few templates with other numbers (then json must parse them)."""
    if not lines:
        return None
    shapes = _Shapes.from_first_line(lines[0], schema)
    if shapes is None:
        return None
    table = np.empty((len(lines), schema.width), dtype=np.float64)
    for start in range(0, len(lines), BLOCK_LINES):
        block = lines[start : start + BLOCK_LINES]
        if not shapes.read_into(block, table[start : start + len(block)]):
            return None
    return table


class _Shapes:
    """The templates met so far, the first line's first. A line whose skeleton is new becomes a
    template if json reads it as a plain record, up to MAX_SHAPES; beyond that the input is not
    machine-written in any useful sense and json takes over."""

    def __init__(self, first: _Template, schema: Schema):
        self.schema, self.templates = schema, [first]
        self.index = {first.key: 0}  # skeleton bytes (no newline) -> template number
        self._refresh()

    @classmethod
    def from_first_line(cls, line: bytes, schema: Schema) -> _Shapes | None:
        first = _Template.from_line(line, schema)
        return None if first is None else cls(first, schema)

    def _refresh(self) -> None:
        self.columns = np.array([t.columns for t in self.templates], dtype=np.intp)
        self.key_e = np.array([t.key_e for t in self.templates], dtype=np.int64)

    def read_into(self, block: Sequence[bytes], out: np.ndarray) -> bool:
        """Fill ``out`` (len(block), width) with the block's numbers, or say it does not match."""
        data = b"".join(block)
        if not data.isascii() or b"\\" in data:
            return False
        if not data.endswith(b"\n"):
            data += b"\n"
        lines, width = len(block), self.schema.width
        chars = np.frombuffer(data, dtype=np.uint8)
        numeric = _number_chars(chars)
        starts, ends = _runs(numeric)
        if len(starts) != lines * width:
            return False
        shape = self._shape_of_each_line(_skeleton(chars, numeric, starts), block)
        if shape is None:
            return False
        # Every e or E outside the numbers is in the templates' keys: any more are exponents.
        key_e = (
            int(self.key_e[shape].sum())
            if isinstance(shape, np.ndarray)
            else lines * int(self.key_e[0])
        )
        numbers = Numbers(
            chars, starts, int((ends - starts).max()), data.count(b"e") + data.count(b"E") > key_e
        )
        if not numbers.valid:
            return False
        values = numbers.values(data, starts, ends)
        if not np.isfinite(values).all():
            return False
        if isinstance(shape, np.ndarray):  # mixed shapes: each line's numbers to its columns
            out[np.arange(lines)[:, None], self.columns[shape]] = values.reshape(lines, width)
        else:
            out[:, self.columns[0]] = values.reshape(lines, width)
        return True

    def _shape_of_each_line(
        self, skeleton: np.ndarray, block: Sequence[bytes]
    ) -> int | np.ndarray | None:
        """0 when every line is the first template (one numpy comparison: the usual case), else
        each line's template number; None if a line is none of them and cannot become one."""
        first, lines = self.templates[0].skeleton, len(block)
        if len(skeleton) == lines * len(first) and (skeleton.reshape(lines, -1) == first).all():
            return 0
        pieces = skeleton.tobytes().split(b"\n")
        pieces.pop()  # the empty piece after the final newline
        if len(pieces) != lines:
            return None
        shape = np.fromiter((self.index.get(p, -1) for p in pieces), dtype=np.intp, count=lines)
        for i in np.flatnonzero(shape < 0):
            found = self.index.get(pieces[i])
            if found is None:
                found = self._learn(block[i], pieces[i])
                if found is None:
                    return None
            shape[i] = found
        return shape

    def _learn(self, line: bytes, key: bytes) -> int | None:
        if len(self.templates) >= MAX_SHAPES:
            return None
        template = _Template.from_line(line, self.schema)
        if template is None or template.key != key:
            return None
        self.index[key] = len(self.templates)
        self.templates.append(template)
        self._refresh()
        return self.index[key]


class _Template:
    """A line's shape: its bytes with each number replaced by a mark, and for each number (in
    line order) the schema column it fills."""

    def __init__(self, skeleton: np.ndarray, columns: list[int]):
        self.skeleton, self.columns = skeleton, columns
        self.key = skeleton[:-1].tobytes()  # without the newline, as a block's lines split
        self.key_e = int(np.count_nonzero((skeleton | _CASE_BIT) == _LOWER_E))  # e/E per line

    @classmethod
    def from_line(cls, line: bytes, schema: Schema) -> _Template | None:
        if not line.endswith(b"\n"):
            line += b"\n"
        if not line.isascii() or b"\\" in line:
            return None
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            return None
        if not isinstance(record, dict) or len(record) != schema.width:
            return None
        # Plain numbers only: not bool, not NaN or Infinity (json takes them, JSON has no such
        # number), and numbers in strings are --coerce's business.
        if not all(_plain_number(v) for v in record.values()):
            return None
        columns = [schema.column(key) for key in record]
        if sorted(c for c in columns if c is not None) != list(range(schema.width)):
            return None
        chars = np.frombuffer(line, dtype=np.uint8)
        numeric = _number_chars(chars)
        starts, _ = _runs(numeric)
        if len(starts) != schema.width:  # one run per value, none elsewhere
            return None
        return cls(_skeleton(chars, numeric, starts), columns)  # type: ignore[arg-type]


def _plain_number(value: object) -> bool:
    return type(value) is int or (type(value) is float and math.isfinite(value))


def _number_chars(chars: np.ndarray) -> np.ndarray:
    """Number characters outside strings. (With no backslash in the data every quote opens or
    closes a string, so an odd count of quotes so far means "inside".)"""
    quotes = chars == _QUOTE
    inside = (np.cumsum(quotes, dtype=np.int32) & 1).astype(bool) | quotes
    # '+' ',' '-' '.' '/' '0'...'9' are consecutive in ASCII; ',' and '/' are not number chars.
    punct_or_digit = ((chars - _PLUS) < 15) & (chars != _COMMA) & (chars != _SLASH)
    return (punct_or_digit | ((chars | _CASE_BIT) == _LOWER_E)) & ~inside


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) of each run of True. (The data starts with a non-number char:
    the template line parsed as an object, and blocks start where lines do.)"""
    if mask[0]:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
    edges = np.flatnonzero(mask[1:] != mask[:-1]) + 1
    return edges[0::2], edges[1::2]


def _skeleton(chars: np.ndarray, numeric: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The bytes with each number replaced by one mark."""
    keep = ~numeric
    keep[starts] = True
    marked = chars.copy()
    marked[starts] = _MARK
    return marked[keep]
