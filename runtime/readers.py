"""Read houses from JSON, JSON Lines or CSV, as validated float32 batches of bounded size.

JSON (one object or an array of objects) is parsed whole; JSON Lines and CSV stream in chunks of
``chunk_rows`` rows, so a file of any length needs memory for one chunk only. A JSON Lines chunk
whose lines all share the first line's shape is read by `parse_uniform_lines` in numpy; any other
goes through json. Every failure is an InputError whose message names the line or record and the
field.
"""

from __future__ import annotations

import gc
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from itertools import islice
from typing import BinaryIO

import numpy as np

from houseprice.core.errors import InputError, MalformedInputError
from houseprice.runtime.json_input import flag_repeated_keys, lines_with_repeated_keys, object_pairs
from houseprice.runtime.validate import (
    Locate,
    Schema,
    finite_float32,
    records_to_array,
)

# Rows per chunk: large enough to amortise per-call overheads, small enough that a chunk of
# parsed JSON objects (~1 KB each) stays near 20 MB.
CHUNK_ROWS = 16_384
_BOM = b"\xef\xbb\xbf"


class Format(str, Enum):
    json = "json"  # one object, or an array of objects
    jsonl = "jsonl"  # one object per line
    csv = "csv"  # header row, then one house per row


@dataclass(frozen=True)
class Batch:
    x: np.ndarray  # (n, n_features) float32, model column order
    locate: Locate  # row index -> "line 12", "$[3]", ...
    csv_rows: list[list[str]] | None = None  # the CSV cells, echoed before the price
    single: bool = False  # a lone JSON object, answered with a lone object


@dataclass(frozen=True)
class RawChunk:
    """Up to ``chunk_rows`` raw JSON Lines lines, and how many lines came before them."""

    lines: list[bytes]
    offset: int


@dataclass(frozen=True)
class Source:
    """What was opened: JSON and CSV as validated batches, JSON Lines as raw chunks, which
    `parse_jsonl_chunk` turns into batches wherever the caller wants (in this process or not)."""

    format: Format
    batches: Iterator[Batch] | None = None
    chunks: Iterator[RawChunk] | None = None
    csv_header: list[str] | None = None


def open_source(
    stream: BinaryIO,
    name: str,
    schema: Schema,
    *,
    fmt: Format | None = None,
    coerce: bool = False,
    chunk_rows: int = CHUNK_ROWS,
) -> Source:
    """Detect the format (unless given) from the name and first line, and start reading."""
    blank, first = _leading_blank_lines(stream)
    fmt = fmt or detect_format(name, first, stream)
    read = [*blank, first] if first else blank  # the lines already taken from the stream
    if fmt is Format.json:
        data = b"".join(read) + stream.read()
        return Source(fmt, batches=_json_batches(data, name, schema, coerce))
    if fmt is Format.jsonl:
        return Source(fmt, chunks=jsonl_chunks(read, stream, chunk_rows))
    from houseprice.runtime.csv_reader import csv_source  # CSV only

    header, batches = csv_source(read, stream, name, schema, chunk_rows)
    return Source(fmt, batches=batches, csv_header=header)


def _leading_blank_lines(stream: BinaryIO) -> tuple[list[bytes], bytes]:
    """The blank lines before the first line with content, and that line (b"" at the end). The
    blank lines are kept and handed on, so line numbers in errors stay those of the file."""
    blank: list[bytes] = []
    while (line := stream.readline()) and not line.removeprefix(_BOM).strip(b" \t\r\n"):
        blank.append(line)
    return blank, line


def detect_format(name: str, first_line: bytes, stream: BinaryIO) -> Format:
    lower = name.lower()
    if lower.endswith((".jsonl", ".ndjson")):
        return Format.jsonl
    if lower.endswith(".csv"):
        return Format.csv
    if lower.endswith(".json"):
        return Format.json
    head = first_line.removeprefix(_BOM).strip(b" \t\r\n")
    if head.startswith(b"["):
        return Format.json
    if head.startswith(b"{"):
        # One complete object on the first line, then more lines: JSON Lines. A multi-line object
        # or a lone single-line one is plain JSON (both give the same answer for one house).
        try:
            json.loads(head)
        except (ValueError, RecursionError):
            return Format.json
        return Format.jsonl if _more_content(stream) else Format.json
    if not head:
        raise MalformedInputError(f"{name}: empty input, no houses")
    return Format.csv


def _more_content(stream: BinaryIO) -> bool:
    peek = getattr(stream, "peek", None)
    return bool(peek(1)) if peek is not None else True


def _decode(data: bytes, name: str, line_offset: int = 0) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = line_offset + data.count(b"\n", 0, exc.start) + 1
        raise MalformedInputError(f"{name}:{line}: not UTF-8 text") from None


def _json_error(name: str, exc: json.JSONDecodeError) -> MalformedInputError:
    return MalformedInputError(
        f"{name}:{exc.lineno}: malformed JSON: {exc.msg} (column {exc.colno})"
    )


def _json_batches(data: bytes, name: str, schema: Schema, coerce: bool) -> Iterator[Batch]:
    text = _decode(data, name)
    if not text.strip():
        raise MalformedInputError(f"{name}: empty input, no houses")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        error = _json_error(name, exc)
        if exc.msg == "Extra data" and exc.lineno > 1 and exc.colno == 1:
            error = MalformedInputError(
                f"{error}; this looks like JSON Lines (one object per line): name the file "
                ".jsonl or pass --format jsonl"
            )
        raise error from None
    except RecursionError:
        raise MalformedInputError(f"{name}: JSON nested too deeply") from None
    except ValueError as exc:  # json's own limit: an integer of over 4,300 digits
        raise MalformedInputError(f"{name}: unreadable JSON number ({_first_words(exc)})") from None
    value = flag_repeated_keys(value, text)
    if isinstance(value, dict):
        yield Batch(
            records_to_array([value], schema, lambda i: name, coerce), lambda i: name, single=True
        )
    elif isinstance(value, list):
        if not value:
            raise MalformedInputError(f"{name}: empty array, no houses")
        locate = lambda i: f"{name}: $[{i}]"  # noqa: E731
        yield Batch(records_to_array(value, schema, locate, coerce), locate)
    else:
        raise MalformedInputError(
            f"{name}: expected a JSON object or an array of objects, got {type(value).__name__}"
        )


def _first_words(exc: Exception) -> str:
    return str(exc).split(":")[0][:80]


def jsonl_chunks(first: list[bytes], stream: BinaryIO, chunk_rows: int) -> Iterator[RawChunk]:
    """The stream's lines in chunks, ``first`` (lines already read) leading; memory holds one
    chunk (plus what the consumer keeps)."""
    offset = 0
    chunk = list(first)
    while True:
        chunk += islice(stream, chunk_rows - len(chunk))
        if not chunk:
            return
        yield RawChunk(chunk, offset)
        offset += len(chunk)
        chunk = []


def parse_jsonl_chunk(chunk: RawChunk, name: str, schema: Schema, coerce: bool) -> Batch:
    """Validated houses of one chunk (blank lines skipped); InputError names the exact line."""
    from houseprice.runtime.uniform_lines import parse_uniform_lines  # JSON Lines only

    lines, offset = chunk.lines, chunk.offset
    by_line = lambda i: f"{name}:{offset + i + 1}"  # noqa: E731  (house i is line i of the chunk)
    uniform = parse_uniform_lines(lines, schema)  # the usual machine-written shape; None if not
    if uniform is not None:
        return Batch(finite_float32(uniform, schema, by_line), by_line)
    # Split on "\n" only, as the stream was: str.splitlines would also split on U+2028 and kin.
    texts = _decode(b"".join(lines), name, offset).split("\n")
    if len(texts) > len(lines):
        texts.pop()  # the empty piece after the final newline
    if all(texts):  # no empty lines (the usual case): line i of the chunk is house i
        try:
            return Batch(_jsonl_fast(texts, schema, by_line, coerce), by_line)
        except (ValueError, InputError, RecursionError):
            pass  # maybe whitespace-only lines; the general path below sorts it out
    numbers = [offset + i + 1 for i, t in enumerate(texts) if t.strip()]
    kept = [texts[n - offset - 1] for n in numbers]
    locate = lambda i: f"{name}:{numbers[i]}"  # noqa: E731
    if len(kept) < len(texts):  # blank lines dropped: a fast attempt not yet tried
        try:
            return Batch(_jsonl_fast(kept, schema, locate, coerce), locate)
        except (ValueError, InputError, RecursionError):
            pass  # find the exact line and reason below
    records = []
    for i, line in enumerate(kept):
        try:
            records.append(json.loads(line, object_pairs_hook=object_pairs))
        except json.JSONDecodeError as exc:
            raise MalformedInputError(
                f"{locate(i)}: malformed JSON: {exc.msg} (column {exc.colno})"
            ) from None
        except RecursionError:
            raise MalformedInputError(f"{locate(i)}: JSON nested too deeply") from None
        except ValueError as exc:  # json's own limit: an integer of over 4,300 digits
            raise MalformedInputError(
                f"{locate(i)}: unreadable JSON number ({_first_words(exc)})"
            ) from None
    return Batch(records_to_array(records, schema, locate, coerce), locate)


def _jsonl_fast(kept: list[str], schema: Schema, locate: Locate, coerce: bool) -> np.ndarray:
    """One json.loads for the whole chunk. Each line must look like an object on its own, and the
    count must match: otherwise a line was not one JSON value, and the slow path says which."""
    if not all(t.lstrip().startswith("{") and t.rstrip().endswith("}") for t in kept):
        raise ValueError("not one object per line")
    # Thousands of new dicts would trigger the cyclic GC over and over; none of them can form a
    # cycle, so it waits until the chunk is parsed.
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        records = json.loads("[" + ",".join(kept) + "]")
    finally:
        if gc_was_on:
            gc.enable()
    if len(records) != len(kept):
        raise ValueError("line count mismatch")
    for i in lines_with_repeated_keys(kept, records):
        records[i] = json.loads(kept[i], object_pairs_hook=object_pairs)
    return records_to_array(records, schema, locate, coerce)


def wrap_text(data: bytes) -> BinaryIO:
    """A peekable binary stream over bytes, as `open_source` expects (for tests and callers)."""
    return io.BufferedReader(io.BytesIO(data))  # type: ignore[arg-type]
