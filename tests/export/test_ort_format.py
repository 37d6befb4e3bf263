"""The ORT-format export (export/ort_export.py): gated, recorded with its operators config, and
run by the runtime and hp-infer like the ONNX file."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from houseprice.data import load_dataset
from houseprice.export.api import export_model
from houseprice.runtime.predictor import Predictor
from tests.conftest import EXAMPLES, run_cli


def test_ort_format_export_is_gated_recorded_and_runs_in_hp_infer(exported, tmp_path):
    (artifact,) = export_model(exported.checkpoint, tmp_path, ["ort"])
    assert artifact.parity.passed and sorted(p.name for p in tmp_path.iterdir()) == [
        "manifest.json",
        "model.ort",
        "required_operators.config",
    ]
    entry = json.loads((tmp_path / "manifest.json").read_text())["artifacts"][0]
    config = (tmp_path / "required_operators.config").read_bytes()
    assert entry["operators_config"]["sha256"] == hashlib.sha256(config).hexdigest()
    assert b"ai.onnx;" in config and str(tmp_path).encode() not in config  # no temp paths
    x = load_dataset().features.astype(np.float32)
    from_ort = Predictor.load(tmp_path / "model.ort").predict_array(x)
    np.testing.assert_allclose(from_ort, Predictor.load(exported.onnx).predict_array(x), rtol=1e-6)
    prices = [
        run_cli("hp-infer", str(EXAMPLES / "house.json"), "--model", str(model))
        for model in (tmp_path / "model.ort", exported.onnx)
    ]
    assert all(p.returncode == 0 for p in prices), prices
    ort_price, onnx_price = (json.loads(p.stdout)["price"] for p in prices)
    assert ort_price == pytest.approx(onnx_price, rel=1e-6)
