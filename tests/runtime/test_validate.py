"""Validation pinned to what a user sees: the first bad record and field named, exact messages,
the echo limits, and the range check's boundaries on both sides (found by mutation testing)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from houseprice.core.errors import InputError
from houseprice.runtime.json_input import object_pairs
from houseprice.runtime.validate import (
    SHOW_CHARS,
    RangeCheck,
    Schema,
    finite_float32,
    nonfinite_price_error,
    records_to_array,
    show,
)
from tests.runtime.model_files import info

SCHEMA = Schema(["CRIM", "ZN", "RM"])


def locate(i: int) -> str:
    return f"$[{i}]"


def error(records, schema=SCHEMA, coerce=False) -> str:
    with pytest.raises(InputError) as caught:
        records_to_array(records, schema, locate, coerce)
    return str(caught.value)


def test_good_records_in_any_key_order_and_case():
    x = records_to_array(
        [{"rm": 3, "CRIM": 1.5, "zn": 2}, {"CRIM": 4, "ZN": 5, "RM": 6}], SCHEMA, locate
    )
    np.testing.assert_array_equal(x, np.array([[1.5, 2, 3], [4, 5, 6]], np.float32))
    assert x.dtype == np.float32 and x.shape == (2, 3)
    assert records_to_array([], SCHEMA, locate).shape == (0, 3)


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ([{"CRIM": 1, "ZN": 2, "RM": 3}, {"CRIM": "a", "ZN": "b", "RM": 3}, {"CRIM": "c", "ZN": 1, "RM": 1}],
         "$[1]: CRIM: expected a number, got the string 'a' (to accept"),
        ([{"CRIM": 1, "ZN": None, "RM": True}], "$[0]: ZN: expected a number, got null"),
        ([{"CRIM": 1, "ZN": 1, "RM": True}], "$[0]: RM: expected a number, got a boolean"),
        ([{"CRIM": 1, "ZN": [], "RM": 1}], "$[0]: ZN: expected a number, got an array"),
        ([{"CRIM": {}, "ZN": 1, "RM": 1}], "$[0]: CRIM: expected a number, got an object"),
        ([{"CRIM": 1, "ZN": 2}], "$[0]: missing feature RM"),
        ([{"CRIM": 1}], "$[0]: missing feature ZN, RM"),
        ([{"CRIM": 1, "ZN": 2, "RM": 3, "AGE": 4}], "$[0]: unknown feature 'AGE'; the model takes CRIM, ZN, RM"),
        ([{"CRIM": 1, "crim": 2, "ZN": 1}], "$[0]: feature CRIM given twice ('crim')"),
        ([[1, 2, 3]], "$[0]: expected an object of feature values, got an array"),
        (["x"], "$[0]: expected an object of feature values, got a string"),
        ([{"CRIM": 1, "ZN": 2, "RM": float("nan")}], "$[0]: RM: nan is not a finite float32 number"),
        ([{"CRIM": 1, "ZN": 2, "RM": -float("inf")}, {"CRIM": "x"}], "$[0]: RM: -inf is not a finite number"),
        ([{"CRIM": 1, "ZN": 2, "RM": 1e300}], "$[0]: RM: 1e+300 is not a finite float32 number"),
        ([{"CRIM": 1, "ZN": 2, "RM": 10**400}], "$[0]: RM: an integer of 401 digits is too large"),
    ],
)  # fmt: skip
def test_the_first_bad_record_and_field_are_named(records, message):
    found = error(records)
    assert found == message or (message.endswith("(to accept") and found.startswith(message))


def test_of_several_repeated_keys_the_first_is_named():
    twice = json.loads(
        '{"CRIM": 1, "ZN": 2, "RM": 3, "CRIM": 4, "ZN": 5}', object_pairs_hook=object_pairs
    )
    assert error([twice]) == "$[0]: feature CRIM given twice"


def test_strings_are_refused_unless_coerce_is_asked_for():
    with pytest.raises(InputError, match="got the string '1'"):
        records_to_array([{"CRIM": "1", "ZN": 2, "RM": 3}], SCHEMA, locate)


def test_a_repeated_key_is_named_not_the_first_key():
    twice = json.loads('{"CRIM": 1, "ZN": 2, "RM": 3, "ZN": 4}', object_pairs_hook=object_pairs)
    assert error([twice]) == "$[0]: feature ZN given twice"
    unknown = json.loads(
        '{"CRIM": 1, "ZN": 2, "RM": 3, "x": 1, "x": 2}', object_pairs_hook=object_pairs
    )
    assert error([unknown]) == "$[0]: feature 'x' given twice"
    plain = json.loads('{"CRIM": 1, "ZN": 2}', object_pairs_hook=object_pairs)
    assert type(plain) is dict and plain == {"CRIM": 1, "ZN": 2}


def test_strings_are_numbers_only_when_coerced():
    assert "hp-infer --coerce, ?coerce=true over HTTP, coerce=True in Python" in error(
        [{"CRIM": "1", "ZN": 2, "RM": 3}]
    )
    x = records_to_array([{"CRIM": "1.5", "ZN": " 2", "RM": 3}], SCHEMA, locate, coerce=True)
    np.testing.assert_array_equal(x, [[1.5, 2, 3]])
    assert (
        error([{"CRIM": "one", "ZN": 2, "RM": 3}], coerce=True)
        == "$[0]: CRIM: 'one' is not a number"
    )
    assert (
        error([{"CRIM": "1e999", "ZN": 2, "RM": 3}], coerce=True)
        == "$[0]: CRIM: 1e999 is not a finite number"
    )


def test_echoes_stop_at_the_limit():
    long = "x" * 45
    assert SHOW_CHARS == 40
    assert show("x" * 40) == repr("x" * 40) and show("x" * 41) == repr("x" * 40 + "...")
    assert show(long) == repr("x" * 40 + "...")
    assert error([{"CRIM": long, "ZN": 1, "RM": 1}]).startswith(
        f"$[0]: CRIM: expected a number, got the string {show(long)} "
    )


def test_integers_beyond_float64_are_described_not_echoed():
    assert (
        error([{"CRIM": 1, "ZN": 1, "RM": 10**308}])
        == "$[0]: RM: 1e+308 is not a finite float32 number"
    )
    assert (
        error([{"CRIM": 1, "ZN": 1, "RM": -(10**309)}])
        == "$[0]: RM: an integer of 310 digits is too large"
    )


def test_finite_float32_names_the_first_bad_cell_in_row_order():
    x = np.array([[1, 2, 3], [4, np.inf, np.nan], [np.nan, 1, 1]])
    with pytest.raises(InputError, match=r"^\$\[1\]: ZN: inf is not a finite float32 number$"):
        finite_float32(x, SCHEMA, locate)
    assert finite_float32(np.array([[3.4e38, -3.4e38, 0]]), SCHEMA, locate).dtype == np.float32


def test_one_feature_models_validate():
    one = Schema(["RM"])
    np.testing.assert_array_equal(
        records_to_array([{"rm": 2}, {"RM": 3.5}], one, locate), [[2], [3.5]]
    )
    np.testing.assert_array_equal(records_to_array([{"RM": 2}], one, locate), [[2]])
    assert error([{"RM": "x"}], one).startswith("$[0]: RM: expected a number")


def check(margin: float = 0.25) -> RangeCheck:
    # spans of 8: margin 0.25 puts the bounds 2 beyond each end, exactly representable
    return RangeCheck(SCHEMA, [0, 10, -8], [8, 18, 0], margin)


def test_the_range_check_warns_below_and_above_but_not_at_the_bounds():
    ranges = check()
    x = np.array(
        [[-2, 8, -10], [10, 20, 2], [-2.001, 7.999, -10.001], [10.001, 20.001, 2.001]], np.float32
    )
    ranges.update(x, lambda i: f"row {i + 1}")
    assert ranges.counts.tolist() == [2, 2, 2]
    assert ranges.first == ["row 3", "row 3", "row 3"]
    (crim, zn, rm) = ranges.reports()
    assert (crim.feature, crim.count, crim.first, crim.low, crim.high) == (
        "CRIM",
        2,
        "row 3",
        0.0,
        8.0,
    )
    assert crim.message() == (
        "2 house(s) have CRIM outside the training range [0, 8] by more than "
        "the margin (first: row 3); their predictions are extrapolations"
    )
    assert (zn.count, rm.low, rm.high) == (2, -8.0, 0.0)


@pytest.mark.parametrize(("margin", "outside"), [(0.0, 2), (0.25, 0), (0.125, 2), (1.0, 0)])
def test_the_margin_is_a_fraction_of_the_span(margin, outside):
    ranges = check(margin)
    ranges.update(np.array([[-1.5, 10, -8], [9.5, 18, 0]], np.float32), locate)
    assert int(ranges.counts.sum()) == outside
    assert RangeCheck(SCHEMA, [1, 1, 1], [1, 1, 1], 0.5).lower.tolist() == [1, 1, 1]  # min == max


def test_fresh_and_merge_count_a_whole_job():
    first, second = check(), check()
    first.update(np.array([[0, 10, -8], [20, 10, -8]], np.float32), lambda i: f"a{i}")
    second.update(np.array([[20, 10, -8], [20, 30, -8]], np.float32), lambda i: f"b{i}")
    total = first.fresh()
    assert total.counts.tolist() == [0, 0, 0] and total.first == [None, None, None]
    assert first.counts.tolist() == [1, 0, 0]  # fresh copies, never shares, the counts
    total.merge(first)
    total.merge(second)
    assert total.counts.tolist() == [3, 1, 0] and total.first == ["a1", "b1", None]
    assert [r.feature for r in total.reports()] == ["CRIM", "ZN"]


def test_a_feature_half_a_span_out_is_blamed():
    model = info(3)  # ranges [0, 1]
    err = nonfinite_price_error(np.array([[1.5, 0.5, 0.5]]), np.array([np.inf]), model, locate)
    assert str(err).endswith("far outside the training range: CRIM=1.5 (trained on 0 to 1)")


def test_columns_match_features_in_any_case_once_each():
    assert SCHEMA.match_columns(["id", "rm", "Crim", "ZN"]) == ("Crim", "ZN", "rm")
    with pytest.raises(InputError, match=r"^no column RM$"):
        SCHEMA.match_columns(["CRIM", "ZN"])
    with pytest.raises(InputError, match=r"^columns 'rm' and 'RM' both match feature RM$"):
        SCHEMA.match_columns(["CRIM", "ZN", "rm", "RM"])
    assert Schema(["A"]).match_columns(["a"]) == ("a",)


def test_the_blame_is_measured_in_spans_and_names_three_at_most():
    from houseprice.runtime.contract import ModelInfo

    names = ("A", "B", "C", "D", "E")
    model = ModelInfo(names, (2, 10, -4, 0, 5), (4, 20, -2, 1, 5), "Y", "", "", "")
    # beyond the range by: A 1.5 spans (3 / 2), B 0.5 (5 / 10), C 2 (4 / 2), D 0 (at its max),
    # E 1e12 spans (0.01 over a range of zero width)
    x = np.array([[7, 25, -8, 1, 5.01]], np.float64)
    err = nonfinite_price_error(x, np.array([np.inf]), model, locate)
    assert str(err).endswith(
        "far outside the training range: E=5.01 (trained on 5 to 5), "
        "C=-8 (trained on -4 to -2), A=7 (trained on 2 to 4)"
    )
    inside = nonfinite_price_error(np.array([[3, 15, -3, 1, 5]]), np.array([np.nan]), model, locate)
    assert str(inside).endswith("every feature is in range")


def test_a_nonfinite_price_blames_the_features_furthest_out_first():
    model = info(3)  # ranges [0, 1]
    x = np.array([[0.5, 0.5, 0.5], [5, -30, 0.5]], np.float32)
    err = nonfinite_price_error(x, np.array([1.0, math.inf], np.float32), model, locate)
    assert str(err) == (
        "$[1]: the model gives no finite price (inf) for this house; far outside the "
        "training range: ZN=-30 (trained on 0 to 1), CRIM=5 (trained on 0 to 1)"
    )
    err = nonfinite_price_error(x[:1], np.array([np.nan], np.float32), model, locate)
    assert (
        str(err)
        == "$[0]: the model gives no finite price (nan) for this house; every feature is in range"
    )
