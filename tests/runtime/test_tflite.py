"""model.tflite in the torch-free runtime (LiteRT through ai-edge-litert): the same prices as
onnxruntime within float32 rounding for any number of houses, the same validation and errors,
through Predictor, hp-infer and hp-serve; a damaged or foreign .tflite is exit 3 in one line."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from houseprice.core.errors import InputError, ModelError
from houseprice.runtime.predictor import Predictor
from houseprice.runtime.tflite_engine import metadata_of
from tests.conftest import BOUND, EXAMPLES, printed_prices, relative_diff, run_cli
from tests.runtime.conftest import infer_fails
from tests.serve.test_server import serving

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pair(edge_exports):
    return Predictor.load(edge_exports / "model.onnx"), Predictor.load(
        edge_exports / "model.tflite"
    )


@pytest.mark.parametrize("rows", [1, 2, 7, 513, 5000])
def test_prices_agree_with_onnxruntime_for_any_batch(pair, boston, rows):
    onnx, tflite = pair
    rng = np.random.default_rng(rows)
    x = boston.features[rng.integers(0, len(boston.features), rows)].astype(np.float32)
    got = tflite.predict_array(x)
    assert got.shape == (rows,) and relative_diff(got, onnx.predict_array(x)) < BOUND
    assert np.array_equal(tflite.predict_array(x), got)  # same input, same engine


def test_validation_and_refusals_are_the_runtimes(pair):
    onnx, tflite = pair
    house = json.loads((EXAMPLES / "house.json").read_text())
    assert tflite.predict(house)[0] == pytest.approx(onnx.predict(house)[0], rel=BOUND)
    for model in pair:
        with pytest.raises(InputError, match="unknown feature"):
            model.predict({**house, "BEDROOMS": 3})
        with pytest.raises(InputError, match="row 0: CRIM: nan is not a finite"):
            model.predict_array(np.array([[np.nan] + [1.0] * 12], np.float32))
        with pytest.raises(InputError, match="the model gives no finite price"):
            model.predict_array(np.full((1, 13), 3e38, np.float32))


def test_hp_infer_and_hp_serve_price_a_tflite(edge_exports, tmp_path):
    houses = EXAMPLES / "houses.jsonl"
    results = [
        run_cli("hp-infer", str(houses), "--model", str(edge_exports / name))
        for name in ("model.onnx", "model.tflite")
    ]
    assert [r.returncode for r in results] == [0, 0] and results[1].stderr == b""
    prices = [printed_prices(r) for r in results]
    np.testing.assert_allclose(prices[1], prices[0], rtol=2e-5)
    model = tmp_path / "model.tflite"
    shutil.copy(edge_exports / "model.tflite", model)
    house = (EXAMPLES / "house.json").read_bytes()
    with serving(model, "--workers", "1") as server:
        price = server.price(house)
    wanted = Predictor.load(edge_exports / "model.onnx").predict(json.loads(house))[0]
    assert price == pytest.approx(float(wanted), rel=2e-5)


def test_a_damaged_or_foreign_tflite_is_one_line_exit_3(edge_exports, tmp_path):
    data = (edge_exports / "model.tflite").read_bytes()
    truncated = tmp_path / "cut.tflite"
    truncated.write_bytes(data[:4000])
    infer_fails(
        run_cli("hp-infer", str(EXAMPLES / "house.json"), "--model", str(truncated)),
        3,
        "cut.tflite",
    )
    foreign = data.replace(b"houseprice\x00", b"other_meta\x00")  # its metadata under another name
    with pytest.raises(ModelError, match="a TFLite file without houseprice metadata"):
        Predictor(foreign, source="m.tflite")
    assert metadata_of(data, "m")["houseprice.target_name"] == "MEDV"
