"""The one-house fast path never disagrees with the general pipeline: for any body it either
declines (None) or answers the very bytes `hp-infer` writes for it."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from houseprice.core.errors import InputError
from houseprice.runtime.infer import infer_stream
from houseprice.runtime.one_house import OneHouseJson, round_like_numpy
from houseprice.runtime.predictor import Predictor
from houseprice.runtime.readers import Format
from houseprice.runtime.validate import RangeCheck
from tests.conftest import EXAMPLES

HOUSE = json.loads((EXAMPLES / "house.json").read_text())
MARGIN = 0.1


@pytest.fixture(scope="module")
def fast(exported) -> OneHouseJson:
    predictor = Predictor.load(exported.onnx)
    info = predictor.info
    ranges = RangeCheck(predictor.schema, info.feature_min, info.feature_max, MARGIN)
    return OneHouseJson(predictor, ranges.lower, ranges.upper)


def general(predictor: Predictor, body: bytes) -> bytes | None:
    """What hp-infer writes for ``body`` as a JSON file, or None if it rejects it or warns."""
    sink = io.BytesIO()
    try:
        summary = infer_stream(
            predictor, io.BytesIO(body), "body", sink, fmt=Format.json, margin=MARGIN
        )
    except InputError:
        return None
    return None if summary.out_of_range else sink.getvalue()


values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e3, max_value=1e3),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.sampled_from([10**400, -(10**309), 2**128, 3.5e38]),  # beyond float64 or float32
    st.integers(min_value=0, max_value=1000),
    st.booleans(),
    st.none(),
    st.text(max_size=3),
)


@st.composite
def bodies(draw) -> bytes:
    record = dict(HOUSE)
    for name in draw(st.lists(st.sampled_from(list(HOUSE)), max_size=4)):
        record[name] = draw(values)
    if draw(st.booleans()):  # a key in other case, missing, or unknown
        name = draw(st.sampled_from(list(HOUSE)))
        value = record.pop(name)
        change = draw(st.sampled_from(["lower", "drop", "extra"]))
        if change == "lower":
            record[name.lower()] = value
        elif change == "extra":
            record[name] = value
            record["GARAGE"] = 1
    text = json.dumps(record)
    if draw(st.booleans()):  # a key given twice, spacing, a BOM, trailing garbage
        text = draw(
            st.sampled_from(
                [
                    text[:-1] + ', "RM": 6.5}',
                    text.replace(", ", ","),
                    "\ufeff" + text,
                    text + " x",
                    "[" + text + "]",
                    " \n" + text + "\n",
                ]
            )
        )
    return text.encode()


@settings(max_examples=400, deadline=None)
@given(body=bodies())
def test_the_fast_path_answers_as_the_general_one_or_declines(fast, body):
    answer = fast.answer(body)
    if answer is not None:
        assert answer == general(fast.predictor, body)


def test_the_fast_path_takes_the_plain_house(fast):
    body = json.dumps(HOUSE).encode()
    assert fast.answer(body) is not None and fast.answer(body) == general(fast.predictor, body)


@settings(max_examples=2000, deadline=None)
@given(st.floats(min_value=-1e6, max_value=1e6, width=32))
def test_rounding_matches_numpy(value):
    assert round_like_numpy(value) == np.round(np.float64(value), 5)


def test_predict_of_one_mapping_matches_the_array_path(exported):
    predictor = Predictor.load(exported.onnx)
    row = np.array([[HOUSE[n] for n in predictor.feature_names]], dtype=np.float32)
    assert predictor.predict(HOUSE)[0] == predictor.predict_array(row)[0]
    lower = {k.lower(): v for k, v in HOUSE.items()}  # the general path's case-insensitive match
    assert predictor.predict(lower)[0] == predictor.predict_array(row)[0]
    with pytest.raises(InputError, match="CRIM: nan is not a finite"):
        predictor.predict({**HOUSE, "CRIM": math.nan})


def _models(tmp_path, width: int, output: str = "sum") -> Predictor:
    from tests.runtime.model_files import info, sum_model

    path = sum_model(
        tmp_path / f"{output}{width}.onnx", width, info(width).to_metadata(), output=output
    )
    return Predictor.load(path)


def _fast_for(predictor: Predictor) -> OneHouseJson:
    return OneHouseJson(predictor, predictor.info.feature_min, predictor.info.feature_max)


@pytest.mark.parametrize("output", ["nan", "inf"])
def test_a_model_that_gives_no_finite_price_sends_the_house_to_the_general_path(tmp_path, output):
    predictor = _models(tmp_path, 13, output)
    house = dict.fromkeys(predictor.feature_names, 1.0)  # in range: the model itself is at fault
    assert _fast_for(predictor).answer(json.dumps(house).encode()) is None
    with pytest.raises(InputError, match=rf"^house: the model gives no finite price \({output}\)"):
        predictor.predict(house)


def test_one_and_many_feature_models(tmp_path):
    for width in (1, 2, 13):
        predictor = _models(tmp_path, width)
        house = {name: 0.25 for name in predictor.feature_names}
        expected = f'{{"price": {round_like_numpy(0.25 * width)!r}}}\n'.encode()
        assert _fast_for(predictor).answer(json.dumps(house).encode()) == expected
        assert predictor.predict(house) == pytest.approx(0.25 * width)
        assert predictor.predict([house, house]).tolist() == [0.25 * width] * 2
        assert _fast_for(predictor).answer(json.dumps({**house, "x": 1}).encode()) is None


def test_deep_nesting_and_odd_bodies_decline(fast):
    for body in (b"[" * 100_000, b'{"a": ' * 100_000, b"\xff", b"", b"[]", b"1", b'"x"'):
        assert fast.answer(body) is None
    colon = json.dumps({**HOUSE, "CRIM": HOUSE["CRIM"]}).replace('"ZN"', '"Z:N"').encode()
    assert fast.answer(colon) is None
    repeated = json.dumps(HOUSE)[:-1] + ', "CRIM": 1}'
    assert fast.answer(repeated.encode()) is None


def test_the_fast_path_answers_at_exact_bounds_and_declines_just_beyond(tmp_path):
    fast = _fast_for(_models(tmp_path, 2))  # training ranges [0, 1], exact in float32
    for a, b, answered in ((0.0, 1.0, True), (1.0, 0.0, True), (-1e-30, 0.5, False),
                           (0.5, 1.0000001, False)):  # fmt: skip
        got = fast.answer(json.dumps({"CRIM": a, "ZN": b}).encode())
        assert (got is not None) is answered, (a, b)


def test_the_fast_path_declines_at_the_range_bounds_only_beyond_them(fast):
    low, high = fast.bounds[0]
    for value, answered in (
        (low, True),
        (high, True),
        (np.nextafter(np.float32(high), np.float32(1e9)), False),
        (np.nextafter(np.float32(low), np.float32(-1e9)), False),
    ):
        body = json.dumps({**HOUSE, "CRIM": float(value)}).encode()
        assert (fast.answer(body) is not None) is answered, value


def test_a_plain_house_becomes_one_float32_row_in_schema_order():
    from houseprice.runtime.one_house import OneHouse
    from houseprice.runtime.validate import Schema

    names = list(HOUSE)
    row = OneHouse(Schema(names)).row(dict(reversed(HOUSE.items())))
    assert row.dtype == np.float32 and row.shape == (1, len(names))
    assert row[0].tolist() == np.array([HOUSE[n] for n in names], np.float32).tolist()
    assert OneHouse(Schema(names)).row({**HOUSE, "RM": "6"}) is None
