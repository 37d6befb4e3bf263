"""serve/oip_tensors.py's answers and values: float32 rows rounded as numpy rounds them, the
first value float32 cannot hold named, and the answer's bytes exactly what the protocol and
tritonclient expect."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from houseprice.core.errors import InputError
from houseprice.serve.oip_tensors import InferRequest, answer_head, encode_answer, float32_rows
from tests.serve.test_oip_tensors import SCHEMA

HEAD = answer_head("houseprice", "abc", "7")


def test_a_json_answer_gives_each_price_as_its_shortest_float32_text():
    prices = np.array([22.31097, 1e20, 0.1], dtype=np.float32)
    body, headers = encode_answer(HEAD, None, prices, binary=False)
    assert headers == {}
    assert body == (
        b'{"model_name":"houseprice","model_version":"abc","id":"7","outputs":[{"name":"price",'
        b'"datatype":"FP32","shape":[3],"data":[22.31097,1e+20,0.1]}]}'
    )
    assert (
        np.array(json.loads(body)["outputs"][0]["data"], dtype=np.float32).tolist()
        == prices.tolist()
    )


def test_a_binary_answer_is_the_header_then_little_endian_float32():
    prices = np.array([22.31097, 3.5], dtype=np.float32)
    body, headers = encode_answer(HEAD, {"warnings": "[]"}, prices, binary=True)
    size = int(headers["Inference-Header-Content-Length"])
    head = json.loads(body[:size])
    assert head["parameters"] == {"warnings": "[]"} and head["id"] == "7"
    assert head["outputs"] == [
        {"name": "price", "datatype": "FP32", "shape": [2], "parameters": {"binary_data_size": 8}}
    ]
    assert np.frombuffer(body[size:], dtype="<f4").tolist() == prices.tolist()


def _rows(values, shape=(1, 3)):
    return float32_rows(InferRequest(None, values, shape, False), SCHEMA, lambda i: f"house {i}")


@given(
    st.lists(
        st.floats(width=64, allow_nan=False, allow_infinity=False, min_value=-3e38, max_value=3e38)
        | st.integers(-(2**100), 2**100),
        min_size=3,
        max_size=3,
    )
)
def test_few_values_round_to_float32_exactly_as_numpys_cast(values):
    few = _rows(values)
    many = _rows(values * 30, (30, 3))  # 90 values: the numpy path
    assert (
        few.dtype == np.float32
        and few.tolist() == np.array([values], dtype=np.float64).astype(np.float32).tolist()
    )
    assert many.tolist() == [few[0].tolist()] * 30


@pytest.mark.parametrize("repeat", [1, 30], ids=["few", "many"])
@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (float("nan"), "house 0: B: nan is not a finite float32 number"),
        (float("-inf"), "house 0: B: -inf is not a finite float32 number"),
        (1e39, "house 0: B: 1e+39 is not a finite float32 number"),
        (10**50, "house 0: B: 1e+50 is not a finite float32 number"),
        (10**400, "house 0: B: an integer of 401 digits is too large"),
        (2**1024, "house 0: B: an integer of 309 digits is too large"),  # float64's first miss
        (-(2**1024), "house 0: B: an integer of 309 digits is too large"),
    ],
)
@pytest.mark.parametrize("neighbours", [(1.0, 2.0), (1, 2)], ids=["floats", "ints"])
def test_the_first_value_float32_cannot_hold_is_named(bad, message, repeat, neighbours):
    with pytest.raises(InputError) as caught:
        _rows([neighbours[0], bad, neighbours[1]] * repeat, (repeat, 3))
    assert str(caught.value) == message


def test_the_largest_integer_float64_holds_is_refused_as_beyond_float32():
    largest = int(np.finfo(np.float64).max)  # 2**1024 - 2**971: fits a float64, not a float32
    with pytest.raises(
        InputError, match=r"^house 0: A: 1.79769\S* is not a finite float32 number$"
    ):
        _rows([largest, 1, 2])


def test_binary_rows_are_checked_too():
    rows = np.array([[1, 2, 3], [4, np.inf, 6]], dtype="<f4")
    with pytest.raises(InputError, match=r"^house 1: B: inf is not a finite float32 number$"):
        _rows(rows, (2, 3))
    many = np.ones((30, 3), dtype="<f4")  # 90 values: beyond the few checked in Python
    many[29, 2] = np.nan
    with pytest.raises(InputError, match=r"^house 29: C: nan is not a finite float32 number$"):
        _rows(many, (30, 3))
    wide = np.array([[1, 1e39, 3]], dtype="<f8")  # finite as float64, not as float32
    with pytest.raises(InputError, match=r"^house 0: B: 1e\+39 is not a finite float32 number$"):
        _rows(wide, (1, 3))
    for fine in (rows[:1], rows[:1].astype("<f8"), many[:2]):
        got = _rows(fine, fine.shape)
        assert got.dtype == np.float32 and got.tolist() == fine.astype(np.float32).tolist()


def test_the_head_is_json_of_name_version_and_id():
    assert answer_head("h", "v", None) == '"model_name":"h","model_version":"v"'
    assert answer_head("h", "v", 'q"1') == '"model_name":"h","model_version":"v","id":"q\\"1"'
