"""Every writer's output, byte for byte: what scripts downstream of hp-infer parse."""

from __future__ import annotations

import io

import numpy as np

from houseprice.runtime.readers import Batch, Format
from houseprice.runtime.writers import DECIMALS, PriceWriter, jsonl_prices


def batch(n: int, single: bool = False, csv_rows=None) -> Batch:
    return Batch(np.zeros((n, 1), np.float32), str, csv_rows, single)


def written(fmt: Format, batches, header=None) -> bytes:
    sink = io.BytesIO()
    writer = PriceWriter(sink, fmt, header)
    for b, prices in batches:
        writer.write(b, np.asarray(prices, np.float32))
    writer.close()
    return sink.getvalue()


def test_json_array_across_batches():
    out = written(Format.json, [(batch(2), [1.5, 2.0]), (batch(1), [3.25])])
    assert out == b'[{"price": 1.5}, {"price": 2.0}, {"price": 3.25}]\n'
    assert written(Format.json, []) == b"[]\n"


def test_json_single_object():
    assert written(Format.json, [(batch(1, single=True), [22.5])]) == b'{"price": 22.5}\n'


def test_json_lines():
    assert jsonl_prices(np.array([1.5, 2, 0.1], np.float32)) == (
        b'{"price": 1.5}\n{"price": 2.0}\n{"price": 0.1}\n'
    )
    assert jsonl_prices(np.empty(0, np.float32)) == b""


def test_prices_are_rounded_to_five_decimals_from_float64():
    assert DECIMALS == 5
    assert jsonl_prices(np.array([23.456790924072266, -0.000004], np.float32)) == (
        b'{"price": 23.45679}\n{"price": -0.0}\n'
    )


def test_csv_echoes_the_cells_with_lf_line_ends_and_one_header():
    rows = [["1", "a, b"], ["2", 'say "hi"']]
    out = written(
        Format.csv,
        [(batch(2, csv_rows=rows), [1.5, 2.25]), (batch(1, csv_rows=[["3", ""]]), [3.0])],
        header=["id", "note"],
    )
    assert out == b'id,note,price\n1,"a, b",1.5\n2,"say ""hi""",2.25\n3,,3.0\n'
    assert written(Format.csv, [], header=["id"]) == b""
    assert written(Format.csv, [(batch(1, csv_rows=[[]]), [1.0])]) == b"price\n1.0\n"
