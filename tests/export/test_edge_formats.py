"""PyTorch's edge formats: model.pte (ExecuTorch) and model.tflite (LiteRT) through the parity
gate, each carrying the model contract, and the one-line refusals when their package is missing."""

from __future__ import annotations

import importlib.util
import json
from contextlib import ExitStack

import numpy as np
import pytest
from typer.testing import CliRunner

from houseprice.export.api import export_model
from houseprice.export.cli import app
from houseprice.export.errors import MissingToolError, ParityError
from houseprice.export.pte_export import pte_forward, pte_metadata
from houseprice.runtime.predictor import Predictor
from tests.conftest import BOUND, assert_one_line_error, relative_diff, run_cli

pytestmark = pytest.mark.slow


def test_both_pass_the_gate_and_are_in_the_manifest(edge_exports):
    manifest = json.loads((edge_exports / "manifest.json").read_text())
    entries = {e["format"]: e for e in manifest["artifacts"]}
    assert entries["pte"]["file"] == "model.pte" and entries["pte"]["parity"]["passed"]
    assert entries["tflite"]["file"] == "model.tflite" and entries["tflite"]["parity"]["passed"]
    assert entries["pte"]["contract"] == "constant method houseprice_metadata"
    assert entries["tflite"]["contract"] == "metadata entry houseprice"


def test_the_contract_travels_in_each_file(edge_exports, onnx_prices):
    onnx = Predictor.load(edge_exports / "model.onnx")
    record = onnx.info.to_metadata()
    assert pte_metadata((edge_exports / "model.pte").read_bytes()) == record
    tflite = Predictor.load(edge_exports / "model.tflite")
    assert tflite.info == onnx.info and tflite.engine == "litert"
    described = run_cli("hp-infer", "--describe", "--model", str(edge_exports / "model.tflite"))
    assert described.returncode == 0 and b"CRIM" in described.stdout
    assert b"LiteRT" in described.stdout and described.stderr == b""


@pytest.mark.parametrize("rows", [1, 2, 7, 1000, 70_000])
def test_the_pte_prices_any_batch_within_the_bound(edge_exports, rows):
    rng = np.random.default_rng(rows)
    onnx = Predictor.load(edge_exports / "model.onnx")
    low, high = np.array(onnx.info.feature_min), np.array(onnx.info.feature_max)
    x = rng.uniform(low, high, (rows, len(low))).astype(np.float32)
    with ExitStack() as stack:
        got = pte_forward((edge_exports / "model.pte").read_bytes(), stack, 13)(x)
    assert got.shape == (rows,) and relative_diff(got, onnx.predict_array(x)) < BOUND


def test_all_skips_a_format_whose_package_is_missing(exported, tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "executorch" else real(name, *a),
    )
    result = CliRunner().invoke(
        app, ["-f", "all", "--checkpoint", str(exported.checkpoint), "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "hp-export: note: skipped pte: executorch is not installed (pip install torch==2.13.0 "
        "&& pip install '.[export,executorch]' in the houseprice checkout)\n"
    )
    assert (tmp_path / "model.tflite").is_file() and not (tmp_path / "model.pte").exists()
    with pytest.raises(MissingToolError, match=r"the pte format needs executorch, which is not"):
        export_model(exported.checkpoint, tmp_path / "pte", ["pte"])
    explicit = CliRunner().invoke(
        app, ["-f", "pte", "--checkpoint", str(exported.checkpoint), "--out", str(tmp_path)]
    )
    assert_one_line_error(explicit, 6, "'.[export,executorch]'", "hp-export")


def test_a_tflite_that_disagrees_writes_nothing(exported, tmp_path, monkeypatch):
    from houseprice.export import tflite_export
    from houseprice.export.edge_modules import ResizablePriceMLP

    class OffByOne(ResizablePriceMLP):
        def forward(self, features):
            return super().forward(features) + 1.0

    monkeypatch.setattr(tflite_export, "ResizablePriceMLP", OffByOne)
    with pytest.raises(ParityError, match="tflite disagrees with PyTorch"):
        export_model(exported.checkpoint, tmp_path, ["npz", "tflite"])
    assert not (tmp_path / "model.npz").exists() and not (tmp_path / "model.tflite").exists()
