from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import numpy as np
import pytest

from houseprice.data import load_dataset
from houseprice.runtime import InputError, ModelError
from houseprice.runtime.predictor import Predictor
from tests.runtime.model_files import NAMES, info, sum_model


@pytest.fixture
def predictor(exported) -> Predictor:
    return Predictor.load(exported.onnx)


def _house(boston, i: int = 0) -> dict[str, float]:
    return dict(zip(boston.feature_names, boston.features[i].tolist(), strict=True))


def test_metadata_is_read_from_the_file_alone(predictor, boston):
    assert predictor.feature_names == boston.feature_names
    assert predictor.info.target_unit == "$1000s"
    assert predictor.info.metrics["test"]["rmse"] > 0


def test_predict_one_many_and_array_agree(predictor, boston):
    houses = [_house(boston, i) for i in range(5)]
    one = predictor.predict(houses[0])
    many = predictor.predict(houses)
    array = predictor.predict_array(boston.features[:5])
    assert one.shape == (1,) and many.shape == (5,) and many.dtype == np.float32
    np.testing.assert_array_equal(many, array)  # the same 5 rows: the same batch, the same bits
    # one row against five: onnxruntime may round a row differently by batch size
    assert one[0] == pytest.approx(many[0], rel=1e-6)


def test_names_match_case_insensitively_in_any_order(predictor, boston):
    house = _house(boston, 3)
    shuffled = {k.lower(): house[k] for k in reversed(list(house))}
    assert predictor.predict(shuffled)[0] == predictor.predict(house)[0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda h: h.pop("RM"), "house: missing feature RM"),
        (lambda h: h.update(GARDEN=1.0), "house: unknown feature 'GARDEN'"),
        (lambda h: h.update(RM="6.5"), "house: RM: expected a number, got the string '6.5'"),
        (lambda h: h.update(RM=True), "house: RM: expected a number, got a boolean"),
        (lambda h: h.update(RM=None), "house: RM: expected a number, got null"),
        (lambda h: h.update(RM=[6]), "house: RM: expected a number, got an array"),
        (lambda h: h.update(RM=float("nan")), "house: RM: nan is not a finite"),
        (lambda h: h.update(RM=1e39), "RM: 1e+39 is not a finite float32 number"),
        (lambda h: h.update(rm=6.0), "feature RM given twice"),
    ],
)
def test_invalid_houses_raise_input_error(predictor, boston, change, message):
    house = _house(boston)
    change(house)
    with pytest.raises(InputError, match=re.escape(message)):
        predictor.predict(house)


def test_coerce_accepts_numbers_in_strings(predictor, boston):
    house = _house(boston)
    as_text = {k: str(v) for k, v in house.items()}
    assert predictor.predict(as_text, coerce=True)[0] == pytest.approx(predictor.predict(house)[0])
    with pytest.raises(InputError, match="'abc' is not a number"):
        predictor.predict({**as_text, "RM": "abc"}, coerce=True)


def test_predict_array_checks_shape_and_values(predictor):
    with pytest.raises(InputError, match=r"shape \(n, 13\)"):
        predictor.predict_array(np.zeros((2, 12)))
    with pytest.raises(InputError, match=r"shape \(n, 13\)"):
        predictor.predict_array(np.zeros(13))
    bad = np.zeros((3, 13))
    bad[2, 5] = np.inf
    with pytest.raises(InputError, match="row 2: RM: inf"):
        predictor.predict_array(bad)
    with pytest.raises(InputError, match="no houses"):
        predictor.predict([])


def test_pickle_rebuilds_the_session(predictor, boston):
    clone = pickle.loads(pickle.dumps(predictor))
    np.testing.assert_array_equal(
        clone.predict_array(boston.features), predictor.predict_array(boston.features)
    )


def test_threads_setting(exported, boston):
    four = Predictor.load(exported.onnx, threads=4)
    np.testing.assert_allclose(
        four.predict_array(boston.features),
        Predictor.load(exported.onnx).predict_array(boston.features),
        rtol=1e-6,
    )
    with pytest.raises(ValueError, match="threads"):
        Predictor.load(exported.onnx, threads=0)


def test_model_errors(tmp_path: Path):
    with pytest.raises(ModelError, match="no model there"):
        Predictor.load(tmp_path / "missing.onnx")
    with pytest.raises(ModelError, match="is a directory"):
        Predictor.load(tmp_path)
    (tmp_path / "text.onnx").write_text("this is not protobuf")
    with pytest.raises(ModelError, match=r"not an ONNX model \(starts with byte 0x74\)"):
        Predictor.load(tmp_path / "text.onnx")
    with pytest.raises(ModelError, match="without houseprice metadata"):
        Predictor.load(sum_model(tmp_path / "plain.onnx", 13, None))
    with pytest.raises(ModelError, match="lists 13 features"):
        Predictor.load(sum_model(tmp_path / "narrow.onnx", 12, info().to_metadata()))
    future = {**info().to_metadata(), "houseprice.contract_version": "99"}
    with pytest.raises(ModelError, match="contract version 99"):
        Predictor.load(sum_model(tmp_path / "future.onnx", 13, future))


def test_numpy_scalars_are_numbers_and_every_bad_value_is_an_input_error(exported):
    predictor = Predictor.load(exported.onnx)
    house = dict(zip(NAMES, load_dataset().features[0].tolist(), strict=True))
    expected = predictor.predict(house)
    as_numpy = {
        k: (np.float64(v) if i % 2 else np.float32(v)) for i, (k, v) in enumerate(house.items())
    }
    as_numpy["CHAS"] = np.int64(house["CHAS"])
    np.testing.assert_allclose(predictor.predict(as_numpy), expected, rtol=1e-6)
    for bad, message in [
        (10**400, "an integer of 401 digits is too large"),
        (np.bool_(True), "expected a number, got bool"),
        (np.float64("nan"), "nan is not a finite number"),
        ("1" * 500, "expected a number, got the string '1111"),
    ]:
        with pytest.raises(InputError, match=message) as caught:
            predictor.predict({**house, "TAX": bad})
        assert len(str(caught.value)) < 200  # what was given is not echoed whole
    with pytest.raises(InputError, match="house 1: TAX: an integer of 401 digits is too large"):
        predictor.predict([house, {**house, "TAX": 10**400}])  # the batch fast path too


@pytest.mark.parametrize(
    ("output", "problem"),
    [
        ("column", r"output 'price' is tensor\(float\) of shape \['batch', 1\]"),
        ("int64", r"output 'price' is tensor\(int64\)"),
    ],
)
def test_the_output_contract_is_checked_at_load(tmp_path, output, problem):
    path = sum_model(tmp_path / "m.onnx", 13, info().to_metadata(), output=output)
    with pytest.raises(ModelError, match=problem):
        Predictor.load(path)


def test_a_model_giving_two_prices_per_house_is_refused_at_load(tmp_path):
    path = sum_model(tmp_path / "m.onnx", 13, info().to_metadata(), output="twice")
    # it declares [batch]: only running it (the smoke prediction) shows otherwise
    with pytest.raises(ModelError, match=r"has shape \(2,\) for 1 houses"):
        Predictor.load(path)


@pytest.mark.parametrize("output", ["nan", "inf"])
def test_a_model_that_cannot_price_the_middle_of_its_ranges_is_refused_at_load(tmp_path, output):
    path = sum_model(tmp_path / "m.onnx", 13, info().to_metadata(), output=output)
    predictor = Predictor.load(path)  # the middle house prices finite: the file loads
    with pytest.raises(InputError, match="the model gives no finite price"):
        predictor.predict_array(np.ones((1, 13), np.float32))
    metadata = info().to_metadata()
    metadata["houseprice.feature_min"] = json.dumps([1.0] * 13)
    metadata["houseprice.feature_max"] = json.dumps([2.0] * 13)
    far = sum_model(tmp_path / "far.onnx", 13, metadata, output=output)
    with pytest.raises(ModelError, match="no finite price for the house in the middle"):
        Predictor.load(far)


def test_a_non_finite_price_is_never_returned(tmp_path):
    predictor = Predictor.load(sum_model(tmp_path / "m.onnx", 13, info().to_metadata()))
    x = np.full((3, 13), 0.5, dtype=np.float32)
    x[1, [2, 5]] = 3e38  # in float32's range, but their sum is not
    with pytest.raises(InputError) as caught:
        predictor.predict_array(x)
    message = str(caught.value)
    assert message.startswith("row 1: the model gives no finite price (inf)")
    assert "INDUS=3e+38 (trained on 0 to 1)" in message and "RM=3e+38" in message
    house = dict(zip(NAMES, x[1].tolist(), strict=True))
    with pytest.raises(InputError, match=r"^house: the model gives no finite price"):
        predictor.predict(house)
    with pytest.raises(InputError, match=r"^house 1: the model gives no finite price"):
        predictor.predict([dict(zip(NAMES, x[0].tolist(), strict=True)), house])
    np.testing.assert_array_equal(predictor.predict_unchecked(x)[1], np.float32("inf"))


def test_files_that_cannot_be_models_fail_before_being_read(tmp_path):
    huge = tmp_path / "huge.onnx"
    with open(huge, "wb") as handle:  # sparse: no disk used, and never read whole
        handle.truncate(2**31 + 10)
    with pytest.raises(ModelError, match=r"2,147,483,658 bytes, more than an ONNX file can hold"):
        Predictor.load(huge)
    zeros = tmp_path / "zeros.onnx"
    zeros.write_bytes(bytes(1 << 20))
    with pytest.raises(ModelError, match=r"not an ONNX model \(starts with byte 0x00\)"):
        Predictor.load(zeros)
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(ModelError, match=r"not an ONNX model \(empty\)"):
        Predictor.load(tmp_path / "empty.onnx")


def test_the_declared_signature_is_what_the_file_says(exported):
    signature = Predictor.load(exported.onnx).signature()
    (inp,), outputs = signature["inputs"], signature["outputs"]
    assert inp["name"] == "features" and inp["type"] == "tensor(float)" and inp["shape"][1] == 13
    assert [(o["name"], o["type"], len(o["shape"])) for o in outputs] == [
        ("price", "tensor(float)", 1)
    ]


def test_large_inputs_run_in_blocks_equal_to_one_run(exported):
    from houseprice.runtime.engines import ONNX_BLOCK_ROWS as BLOCK_ROWS

    predictor = Predictor.load(exported.onnx)
    rng = np.random.default_rng(1)
    base = load_dataset().features
    x = base[rng.integers(0, len(base), 3 * BLOCK_ROWS + 17)] * rng.uniform(0.9, 1.1, (1, 13))
    x = x.astype(np.float32)
    blocked = predictor.predict_array(x)
    assert blocked.dtype == np.float32 and blocked.shape == (len(x),)
    # onnxruntime rounds a few rows differently by the batch's row count: float32 rounding only
    np.testing.assert_allclose(blocked, predictor.predict_unchecked(x), rtol=1e-6)
    assert np.array_equal(blocked, predictor.predict_array(x))  # the same input, the same output
    x[2 * BLOCK_ROWS + 5, :] = 3e38  # a house the model gives no finite price, in the 3rd block
    with pytest.raises(InputError, match=f"row {2 * BLOCK_ROWS + 5}: the model gives no finite"):
        predictor.predict_array(x)


def test_the_lean_run_gives_session_runs_output_and_falls_back_to_it(exported, boston):
    """Predictor calls the compiled session directly (session.run's Python checks skipped); the
    prices are session.run's, bit for bit, and without that private attribute the public method
    serves."""
    import onnxruntime as ort

    from houseprice.runtime.onnx_session import new_session, session_runner

    x = np.ascontiguousarray(boston.features, dtype=np.float32)
    lean = Predictor.load(exported.onnx)
    session = new_session(exported.onnx.read_bytes(), 1, "test")
    public = session.run(["price"], {"features": x})[0]
    assert np.array_equal(lean.predict_array(x), public)

    calls = []

    class PublicOnly:  # an onnxruntime without `_sess`: only the public API
        def run(self, outputs, feed, options):
            calls.append(options)
            return session.run(outputs, feed, options)

    assert np.array_equal(session_runner(PublicOnly())(x), public)
    assert len(calls) == 1 and isinstance(calls[0], ort.RunOptions)
