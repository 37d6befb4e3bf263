from __future__ import annotations

import pickle
import re
from pathlib import Path

import numpy as np
import pytest

from houseprice.data import load_dataset
from houseprice.runtime import InputError, ModelError
from houseprice.runtime.predictor import Predictor
from tests.runtime.model_files import info, sum_model


@pytest.fixture(scope="module")
def boston():
    return load_dataset()


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
    np.testing.assert_array_equal(many, array)
    assert one[0] == many[0]


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
    with pytest.raises(ModelError, match="not a loadable ONNX model"):
        Predictor.load(tmp_path / "text.onnx")
    with pytest.raises(ModelError, match="without houseprice metadata"):
        Predictor.load(sum_model(tmp_path / "plain.onnx", 13, None))
    with pytest.raises(ModelError, match="lists 13 features"):
        Predictor.load(sum_model(tmp_path / "narrow.onnx", 12, info().to_metadata()))
    future = {**info().to_metadata(), "houseprice.contract_version": "99"}
    with pytest.raises(ModelError, match="contract version 99"):
        Predictor.load(sum_model(tmp_path / "future.onnx", 13, future))
