"""The vectorised JSON Lines reader must give json's values bit for bit, or step aside (None)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from houseprice.runtime.uniform_lines import BLOCK_LINES, MAX_SHAPES, parse_uniform_lines
from houseprice.runtime.validate import Schema

# "E" and digits inside keys must not be taken for numbers.
SCHEMA = Schema(["CRIM", "AGE", "X1e5"])
TEMPLATE = '{{"CRIM": {}, "AGE": {}, "X1e5": {}}}\n'


def _lines(*rows: tuple[str, ...], template: str = TEMPLATE) -> list[bytes]:
    return [template.format(*row).encode() for row in rows]


def _by_json(lines: list[bytes]) -> np.ndarray | None:
    """What json.loads and validation make of the lines: float64 rows, or None if a line is not
    an object of plain finite numbers."""
    rows = []
    for line in lines:
        try:
            record = json.loads(line)  # keys match case-insensitively, as validation does
            values = [{k.lower(): v for k, v in record.items()}[n.lower()] for n in SCHEMA.names]
            if any(type(v) not in (int, float) for v in values):
                return None
            row = [float(v) for v in values]
        except (ValueError, KeyError, OverflowError):
            return None
        if not all(math.isfinite(v) for v in row):
            return None
        rows.append(row)
    return np.array(rows, dtype=np.float64)


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool((a.view(np.int64) == b.view(np.int64)).all())


def _agrees_with_json_or_declines(lines: list[bytes]) -> None:
    expected = _by_json(lines)
    got = parse_uniform_lines(lines, SCHEMA)
    if expected is None:
        assert got is None
    else:
        assert got is not None, "declined a chunk json reads fine"
        assert _same_bits(got, expected)


finite = st.floats(allow_nan=False, allow_infinity=False)
numbers = st.one_of(
    st.integers(-(10**25), 10**25).map(str),
    finite.map(repr),  # shortest round trip: 0.1, 1e+16, 5e-324, -0.0
    st.tuples(finite, st.integers(0, 20)).map(lambda p: f"{p[0]:.{p[1]}e}"),
    st.tuples(finite.filter(lambda x: abs(x) < 1e6), st.integers(0, 12)).map(
        lambda p: f"{p[0]:.{p[1]}f}"
    ),
    st.text("0123456789+-.eE", min_size=1, max_size=10),  # mostly not JSON numbers
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(numbers, numbers, numbers), min_size=1, max_size=12))
@example([("9223372036854775808", "-18446744073709551617", "9007199254740993")])  # int64, 2**53
@example([("0.30000000000000004", "1e22", "1e23"), ("123456789012345678e-3", "1E-22", "-5e-324")])
# Just past the exact conversion's limits (a mantissa over 2**53, a power of ten over 10**22):
# a fast path that took them would round twice and miss json's value.
@example([("10144033.133738949", "971774816594292e23", "1")])
def test_agrees_with_json_bit_for_bit_or_declines(rows):
    lines = _lines(("1", "2.5", "3"), *rows)  # a valid template line first
    _agrees_with_json_or_declines(lines)


SHAPES = [
    TEMPLATE,
    '{{"CRIM": {}, "AGE":{},"X1e5": {}}}\n',
    '{{ "crim" : {},  "age" : {}, "x1e5" : {} }}\n',
]
REORDERED = '{{"X1e5": {2}, "CRIM": {0}, "AGE": {1}}}\n'


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, len(SHAPES)), st.tuples(numbers, numbers, numbers)),
        min_size=1,
        max_size=12,
    )
)
def test_mixed_shapes_agree_with_json_bit_for_bit_or_decline(rows):
    # Shape len(SHAPES) is the first one with its keys in another order.
    def line(shape: int, values: tuple[str, ...]) -> bytes:
        template = SHAPES[shape] if shape < len(SHAPES) else REORDERED
        return template.format(*values).encode()

    lines = [line(0, ("1", "2.5", "3")), *(line(s, v) for s, v in rows)]
    _agrees_with_json_or_declines(lines)


def test_reads_the_usual_shape_in_schema_order_across_blocks():
    rows = [(f"{i / 7:.5f}", str(i), f"-{i}e-3") for i in range(BLOCK_LINES * 2 + 5)]
    reordered = '{{"X1e5": {2}, "crim": {0}, "AGE": {1}}}\n'  # any key order, any key case
    for template in (TEMPLATE, reordered):
        lines = _lines(*rows, template=template)
        got = parse_uniform_lines(lines, SCHEMA)
        assert got is not None and _same_bits(got, _by_json(_lines(*rows)))


def test_a_last_line_without_newline_is_read():
    lines = _lines(("1", "2", "3"), ("4", "5", "6"))
    lines[-1] = lines[-1].rstrip(b"\n")
    got = parse_uniform_lines(lines, SCHEMA)
    assert got is not None and got.tolist() == [[1, 2, 3], [4, 5, 6]]


def test_negative_zero_is_signed_exactly_as_json_reads_it():
    got = parse_uniform_lines(_lines(("-0", "-0.0", "-0e0")), SCHEMA)
    assert got is not None
    assert np.signbit(got[0]).tolist() == [False, True, True]  # json: int 0, -0.0, -0.0


@pytest.mark.parametrize(
    "second",
    [
        '{"CRIM": 1, "AGE": 2}',  # missing key
        '{"CRIM": 1, "AGE": 2, "X1e5": 3, "B": 4}',  # extra key
        '{"CRIM": "1", "AGE": 2, "X1e5": 3}',  # a number in a string (--coerce's business)
        '{"CRIM": true, "AGE": 2, "X1e5": 3}',
        '{"CRIM": null, "AGE": 2, "X1e5": 3}',
        '{"CRIM": [1], "AGE": 2, "X1e5": 3}',
        '{"CRIM": 1e999, "AGE": 2, "X1e5": 3}',  # infinite
        '{"CRIM": -Infinity, "AGE": 2, "X1e5": 3}',
        '{"CRIM": 1, "AGE": 2, "X1e6": 3}',  # a digit changed inside a key
        '{"CRIM": 1, "AGE": 2, "X1é5": 3}',  # not ASCII
        '{"CRIM": 1, "AGE": 2, "X1\\u0065" : 3}',  # an escape
        "",  # blank line
        "[1, 2, 3]",
        '{"CRIM": 1, "AGE": 2, "X1e5": 3} x',
    ],
)
def test_declines_any_line_that_is_not_a_plain_record(second):
    lines = [b'{"CRIM": 1, "AGE": 2, "X1e5": 3}\n', second.encode() + b"\n"]
    assert parse_uniform_lines(lines, SCHEMA) is None


@pytest.mark.parametrize(
    "first",
    [
        '{"CRIM": NaN, "AGE": 2, "X1e5": 3}',
        '{"CRIM": -Infinity, "AGE": 2, "X1e5": 3}',
        '{"CRIM": 1, "CRIM": 1, "AGE": 2, "X1e5": 3}',  # duplicate key
        '{"CRIM": 1, "crim": 1, "AGE": 2}',  # the same feature twice
        '{"CRIM": 1, "AGE": 2, "OTHER": 3}',
        '{"CRIM": false, "AGE": 2, "X1e5": 3}',
        "not json",
    ],
)
def test_declines_a_first_line_that_is_not_a_plain_record(first):
    second = b'{"CRIM": 1, "AGE": 2, "X1e5": 3}\n'
    assert parse_uniform_lines([first.encode() + b"\n", second], SCHEMA) is None


def test_reads_lines_of_a_few_shapes_mixed_in_any_order():
    rows = [(f"{i / 7:.5f}", str(i), f"-{i}e-3") for i in range(BLOCK_LINES * 2 + 5)]
    shapes = [
        TEMPLATE,
        '{{"CRIM": {0},  "AGE": {1}, "X1e5": {2}}}\n',  # other spacing
        '{{"AGE":{1},"X1e5":{2},"CRIM":{0}}}\n',  # other key order, no spaces
        '{{"x1E5": {2}, "age": {1}, "crim": {0}}}\r\n',  # other case, a CRLF ending
    ]
    # The first block all one shape but the first, the second alternating, the rest mixed.
    lines = [shapes[0].format(*rows[0]).encode()]
    lines += [shapes[1].format(*r).encode() for r in rows[1:BLOCK_LINES]]
    lines += [shapes[i % 4].format(*r).encode() for i, r in enumerate(rows[BLOCK_LINES:])]
    got = parse_uniform_lines(lines, SCHEMA)
    assert got is not None and _same_bits(got, _by_json(lines))


def test_more_shapes_than_the_limit_go_to_json():
    # Every line with its own spacing: hand-written, not machine-written.
    lines = [('{"CRIM": 1,' + " " * i + '"AGE": 2, "X1e5": 3}\n').encode() for i in range(40)]
    assert parse_uniform_lines(lines[:MAX_SHAPES], SCHEMA) is not None
    assert parse_uniform_lines(lines, SCHEMA) is None


def test_a_bad_line_in_a_later_block_declines_the_whole_chunk():
    lines = _lines(*[("1", "2", "3")] * (BLOCK_LINES + 3))
    lines[BLOCK_LINES + 1] = b'{"CRIM": 01, "AGE": 2, "X1e5": 3}\n'  # leading zero
    assert parse_uniform_lines(lines, SCHEMA) is None
    assert parse_uniform_lines([], SCHEMA) is None


def test_runs_are_found_and_a_leading_number_has_none():
    from houseprice.runtime.uniform_lines import _runs

    mask = np.array([False, True, True, False, True, False])
    starts, ends = _runs(mask)
    assert starts.tolist() == [1, 4] and ends.tolist() == [3, 5]
    starts, ends = _runs(np.array([True, False, True, False]))  # not an object: no runs at all
    assert starts.tolist() == [] and ends.tolist() == []
