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

from houseprice.runtime.errors import InputError
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
        summary = infer_stream(predictor, io.BytesIO(body), "body", sink, fmt=Format.json,
                               margin=MARGIN)  # fmt: skip
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
        text = draw(st.sampled_from([
            text[:-1] + ', "RM": 6.5}', text.replace(", ", ","), "\ufeff" + text, text + " x",
            "[" + text + "]", " \n" + text + "\n",
        ]))  # fmt: skip
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
