"""Readers pinned to what a user sees: format detection, every malformed-input message with its
file and line, CSV columns, blank lines, chunk boundaries (found by mutation testing)."""

from __future__ import annotations

import numpy as np
import pytest

from houseprice.core.errors import InputError, MalformedInputError
from houseprice.runtime.readers import Format, open_source, parse_jsonl_chunk, wrap_text
from houseprice.runtime.validate import Schema

SCHEMA = Schema(["A", "B"])


def read(
    data: bytes, name: str = "in", fmt: Format | None = None, chunk_rows: int = 1000, coerce=False
):
    """(format, x of every house, every location) for ``data``."""
    source = open_source(
        wrap_text(data), name, SCHEMA, fmt=fmt, chunk_rows=chunk_rows, coerce=coerce
    )
    if source.chunks is not None:
        batches = [parse_jsonl_chunk(c, name, SCHEMA, coerce) for c in source.chunks]
    else:
        batches = list(source.batches)
    xs = [b.x for b in batches]
    where = [b.locate(i) for b in batches for i in range(len(b.x))]
    return source.format, (np.vstack(xs) if xs else np.empty((0, 2))), where, batches


def fails(
    data: bytes, name: str = "in", fmt: Format | None = None, kind=InputError, chunk_rows=1000
) -> str:
    with pytest.raises(kind) as caught:
        read(data, name, fmt, chunk_rows)
    return str(caught.value)


@pytest.mark.parametrize(
    ("data", "name", "fmt"),
    [
        (b'{"A": 1, "B": 2}', "x.jsonl", Format.jsonl), (b'{"A": 1, "B": 2}', "X.NDJSON", Format.jsonl),
        (b"A,B\n1,2\n", "x.CSV", Format.csv), (b'{"A": 1, "B": 2}', "x.Json", Format.json),
        (b'[{"A": 1, "B": 2}]', "-", Format.json), (b'\n\n {"A": 1, "B": 2}\n', "-", Format.json),
        (b'{"A": 1, "B": 2}\n{"A": 3, "B": 4}\n', "-", Format.jsonl),
        (b'{"A": 1,\n "B": 2}\n', "-", Format.json), (b"A,B\n1,2\n", "-", Format.csv),
        (b'\xef\xbb\xbf{"A": 1, "B": 2}\n{"A": 3, "B": 4}\n', "-", Format.jsonl),
    ],
)  # fmt: skip
def test_the_format_comes_from_the_name_then_the_first_line(data, name, fmt):
    found, x, _, _ = read(data, name)
    assert found is fmt and x.shape[1] == 2


def test_houses_and_their_places():
    _, x, where, batches = read(b'[{"A": 1, "B": 2}, {"b": 4, "a": 3}]', "h.json")
    assert x.tolist() == [[1, 2], [3, 4]] and where == ["h.json: $[0]", "h.json: $[1]"]
    _, x, where, batches = read(b'{"A": 1, "B": 2}', "one.json")
    assert batches[0].single and where == ["one.json"]
    _, x, where, _ = read(b'\n{"A": 1, "B": 2}\n\n{"A": 3, "B": 4}\n', "h.jsonl")
    assert x.tolist() == [[1, 2], [3, 4]] and where == ["h.jsonl:2", "h.jsonl:4"]
    _, x, where, batches = read(b"\nb, A \n\n4,3\n6,5\n", "h.csv")
    assert x.tolist() == [[3, 4], [5, 6]] and where == ["h.csv:4", "h.csv:5"]
    assert batches[0].csv_rows == [["4", "3"], ["6", "5"]]


def test_chunks_keep_line_numbers():
    lines = b"".join(b'{"A": %d, "B": 1}\n' % i for i in range(5))
    _, x, where, batches = read(lines, "c.jsonl", chunk_rows=2)
    assert [len(b.x) for b in batches] == [2, 2, 1] and where == [
        f"c.jsonl:{i}" for i in range(1, 6)
    ]
    assert x[:, 0].tolist() == [0, 1, 2, 3, 4]
    csv = b"A,B\n" + b"".join(b"%d,1\n" % i for i in range(5))
    _, x, where, batches = read(csv, "c.csv", chunk_rows=2)
    assert [len(b.x) for b in batches] == [2, 2, 1] and where == [f"c.csv:{i}" for i in range(2, 7)]


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "e", "e: empty input, no houses"),
        (b"\n \n", "e", "e: empty input, no houses"),
        (b"  ", "e.json", "e.json: empty input, no houses"),
        (b"[]", "e.json", "e.json: empty array, no houses"),
        (b"3", "e.json", "e.json: expected a JSON object or an array of objects, got int"),
        (b'{"A": 1,', "e.json", "e.json:1: malformed JSON: Expecting property name enclosed in double quotes (column 9)"),
        (b'{"A": 1, "B": 2}\n{"A": 1, "B": 2}\n', "e.json", "e.json:2: malformed JSON: Extra data (column 1); this looks like JSON Lines (one object per line): name the file .jsonl or pass --format jsonl"),
        (b'{"A": 1} {"A": 2}', "e.json", "e.json:1: malformed JSON: Extra data (column 10)"),
        (b"[" * 100_000, "e.json", "e.json: JSON nested too deeply"),
        (b'{"A": ' + b"1" * 5000 + b"}", "e.json", "e.json: unreadable JSON number (Exceeds the limit (4300 digits) for integer string conversion"),
        (b'[{"A": 1, "B": 2},\n\xff]', "e.json", "e.json:2: not UTF-8 text"),
        (b'\n\xff', "e.json", "e.json:2: not UTF-8 text"),
        (b'{"A": 1, "B": 2}\n{"A": 1, "B": 2\n', "e.jsonl", "e.jsonl:2: malformed JSON: Expecting ',' delimiter (column 16)"),
        (b'{"A": 1, "B": 2}\n\n[1]\n', "e.jsonl", "e.jsonl:3: expected an object of feature values, got an array"),
        (b'{"A": 1, "B": 2}\n' + b"[" * 100_000 + b"\n", "e.jsonl", "e.jsonl:2: JSON nested too deeply"),
        (b'{"A": ' + b"1" * 5000 + b', "B": 1}\n', "e.jsonl", "e.jsonl:1: unreadable JSON number (Exceeds the limit (4300 digits) for integer string conversion"),
        (b'{"A": 1, "B": 2}\n\xff\n', "e.jsonl", "e.jsonl:2: not UTF-8 text"),
        (b"", "e.csv", "e.csv: empty input, no header row and no houses"),
        (b"A,B\n", "e.csv", "e.csv: a header row but no houses"),
        (b"A,B\n\n \n", "e.csv", "e.csv: a header row but no houses"),
        (b"A,B,C\n1,2,3\n", "e.csv", "e.csv:1: unknown column 'C'; the model takes A, B"),
        (b"A,a\n1,2\n", "e.csv", "e.csv:1: column A appears twice"),
        (b"A\n1\n", "e.csv", "e.csv:1: missing column B"),
        (b"x\n1\n", "e.csv", "e.csv:1: unknown column 'x'; the model takes A, B"),
        (b"\n", "e.csv", "e.csv: empty input, no header row and no houses"),
        (b"A,B\n1,2\n1\n", "e.csv", "e.csv:3: 1 values, the header has 2"),
        (b"A,B\n1,2\n1,x\n", "e.csv", "e.csv:3: B: 'x' is not a number"),
        (b"A,B\n1,inf\n", "e.csv", "e.csv:2: B: inf is not a finite float32 number"),
        (b'A,B\n1,"2\n', "e.csv", "e.csv:2: malformed CSV: unexpected end of data"),
        (b"A,B\n1,2\n\xff,1\n", "e.csv", "e.csv:3: not UTF-8 text (byte 0 of the line)"),
    ],
)  # fmt: skip
def test_malformed_input_is_named_with_its_line(data, name, message):
    found = fails(data, name, kind=InputError)
    assert found == message or (message.endswith("conversion") and found.startswith(message)), found


def test_what_no_house_can_be_read_from_is_malformed():
    for data, name in (
        (b"", "e"),
        (b"[]", "e.json"),
        (b"{", "e.json"),
        (b"A,B\n", "e.csv"),
        (b"\xff", "e.jsonl"),
    ):
        with pytest.raises(MalformedInputError):
            read(data, name)
    with pytest.raises(InputError) as caught:
        read(b'{"A": "x", "B": 1}', "e.json")
    assert not isinstance(caught.value, MalformedInputError)


def test_repeated_keys_are_caught_in_every_format():
    assert fails(b'{"A": 1, "B": 2, "A": 3}', "r.json") == "r.json: feature A given twice"
    assert (
        fails(b'[{"A": 1, "B": 2}, {"A": 1, "B": 2, "B": 3}]', "r.json")
        == "r.json: $[1]: feature B given twice"
    )
    assert (
        fails(b'{"A": 1, "B": 2}\n{"A": 1, "B": 2, "B": 3}\n', "r.jsonl")
        == "r.jsonl:2: feature B given twice"
    )
    _, x, _, _ = read(
        b'{"A": 1, "B": 2, "note": "a:b"}\n'.replace(b', "note": "a:b"', b""), "ok.jsonl"
    )
    assert x.tolist() == [[1, 2]]
    _, x, _, _ = read(b'[{"A": 1, "B": 2}]', "colon.json")
    assert x.tolist() == [[1, 2]]


def test_two_missing_columns_and_number_limits_are_named_whole():
    schema = Schema(["A", "B", "C"])
    with pytest.raises(InputError) as caught:
        list(open_source(wrap_text(b"A\n1\n"), "m.csv", schema).batches)
    assert str(caught.value) == "m.csv:1: missing column B, C"
    big = b'{"A": ' + b"1" * 5000 + b', "B": 1}'
    for data, name in ((big, "n.json"), (big + b"\n", "n.jsonl")):
        where = "n.json" if name == "n.json" else "n.jsonl:1"
        assert fails(data, name) == (
            f"{where}: unreadable JSON number (Exceeds the limit (4300 digits) for integer string "
            "conversion)"
        )


def test_two_objects_on_one_json_lines_line_are_refused():
    data = b'{"A": 1, "B": 2}\n{"A": 1, "B": 2}, {"A": 3, "B": 4}\n{"A": 5, "B": 6}\n'
    assert fails(data, "two.jsonl").startswith("two.jsonl:2: malformed JSON: Extra data")


def test_strings_are_numbers_only_when_the_reader_is_told_to_coerce():
    data = b'{"A": "1", "B": 2}'
    with pytest.raises(InputError, match="got the string '1'"):
        list(open_source(wrap_text(data), "s.json", SCHEMA).batches)
    _, x, _, _ = read(data, "s.json", coerce=True)
    assert x.tolist() == [[1, 2]]


def test_formats_have_the_names_the_flags_take():
    assert [f.value for f in Format] == ["json", "jsonl", "csv"]


def test_the_cyclic_collector_is_on_again_after_a_json_lines_chunk():
    """The general path turns the collector off while json parses a chunk: it must come back."""
    import gc

    lines = b'{"\\u0041": 1, "B": 2}\n' * 3  # an escaped key: the vectorised reader steps aside
    assert gc.isenabled()
    _, x, _, _ = read(lines, "g.jsonl")
    assert x.tolist() == [[1.0, 2.0]] * 3 and gc.isenabled()
    gc.disable()
    try:
        read(lines, "g.jsonl")
        assert not gc.isenabled()  # left off when the caller had it off
    finally:
        gc.enable()
