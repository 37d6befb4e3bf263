"""CSV houses: a header row naming the model's features (any case, any order), then one house per
row, streamed in chunks; every cell echoed back by the writer before the price. Every failure
names the file's line."""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from typing import Any, BinaryIO

import numpy as np

from houseprice.core.errors import InputError, MalformedInputError
from houseprice.runtime.readers import Batch
from houseprice.runtime.validate import Locate, Schema, finite_float32, show

CsvReader = Any  # csv.reader's type is not importable at run time (_csv.Reader)


def csv_source(
    first: list[bytes], stream: BinaryIO, name: str, schema: Schema, chunk_rows: int
) -> tuple[list[str], Iterator[Batch]]:
    text = _Utf8Lines(first, stream, name)
    reader = csv.reader(text, strict=True)
    header = _csv_next(reader, name)
    while header is not None and not any(c.strip() for c in header):  # blank lines first
        header = _csv_next(reader, name)
    if header is None:
        raise MalformedInputError(f"{name}: empty input, no header row and no houses")
    order = _csv_columns(header, schema, name)
    return header, _csv_batches(reader, header, order, name, schema, chunk_rows)


def _csv_columns(header: list[str], schema: Schema, name: str) -> list[int]:
    """For each model feature, the CSV column holding it."""
    where: dict[int, int] = {}
    for col, cell in enumerate(header):
        j = schema.column(cell.strip())
        if j is None:
            raise InputError(
                f"{name}:1: unknown column {cell!r}; the model takes {schema.describe()}"
            )
        if j in where:
            raise InputError(f"{name}:1: column {schema.names[j]} appears twice")
        where[j] = col
    missing = [schema.names[j] for j in range(schema.width) if j not in where]
    if missing:
        raise InputError(f"{name}:1: missing column {', '.join(missing)}")
    return [where[j] for j in range(schema.width)]


def _csv_batches(
    reader: CsvReader,
    header: list[str],
    order: list[int],
    name: str,
    schema: Schema,
    chunk_rows: int,
) -> Iterator[Batch]:
    houses = 0
    while True:
        rows: list[list[str]] = []
        numbers: list[int] = []
        while len(rows) < chunk_rows:
            row = _csv_next(reader, name)
            if row is None:
                break
            if is_blank(row):
                continue
            if len(row) != len(header):
                raise MalformedInputError(
                    f"{name}:{reader.line_num}: {len(row)} values, the header has {len(header)}"
                )
            rows.append(row)
            numbers.append(reader.line_num)
        if not rows:
            break
        locate = lambda i, numbers=numbers: f"{name}:{numbers[i]}"  # noqa: E731
        houses += len(rows)
        yield Batch(_csv_array(rows, order, schema, locate), locate, csv_rows=rows)
    if houses == 0:
        raise MalformedInputError(f"{name}: a header row but no houses")


def is_blank(row: list[str]) -> bool:
    """A blank or whitespace-only line, skipped (hp-batch counts lines the same way)."""
    return not row or (len(row) == 1 and not row[0].strip())


def _csv_next(reader: CsvReader, name: str) -> list[str] | None:
    try:
        return next(reader)
    except StopIteration:
        return None
    except csv.Error as exc:
        raise MalformedInputError(f"{name}:{reader.line_num}: malformed CSV: {exc}") from None


def _csv_array(
    rows: list[list[str]], order: list[int], schema: Schema, locate: Locate
) -> np.ndarray:
    try:
        table = np.array(rows, dtype=np.float64)[:, order]
    except ValueError:
        table = None
    if table is None:  # find the exact cell and say what it holds
        for i, row in enumerate(rows):
            for j, col in enumerate(order):
                try:
                    float(row[col])
                except ValueError:
                    raise InputError(
                        f"{locate(i)}: {schema.names[j]}: {show(row[col])} is not a number"
                    ) from None
        raise InputError(f"{locate(0)}: unreadable numbers")  # numpy and float() disagree
    return finite_float32(table, schema, locate)


class _Utf8Lines:
    """Text lines from a binary stream, decoded strictly, a decoding error naming its line."""

    def __init__(self, first: list[bytes], stream: BinaryIO, name: str):
        self._lines = _chain_first(first, stream)
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self._name = name
        self.line = 0

    def __iter__(self) -> _Utf8Lines:
        return self

    def __next__(self) -> str:
        raw = next(self._lines)
        self.line += 1
        try:
            return self._decoder.decode(raw)
        except UnicodeDecodeError as exc:
            raise MalformedInputError(
                f"{self._name}:{self.line}: not UTF-8 text (byte {exc.start} of the line)"
            ) from None


def _chain_first(first: list[bytes], stream: BinaryIO) -> Iterator[bytes]:
    yield from first
    yield from stream
