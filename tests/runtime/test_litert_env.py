"""The torch-free side of LiteRT: a fresh environment with the project and its litert-runtime
extra alone (ai-edge-litert, numpy, onnxruntime where it has wheels, typer) prices model.tflite
in hp-infer and Predictor as onnxruntime does here; torch cannot be imported there."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import EXAMPLES, make_venv, run_quietly, script

pytestmark = pytest.mark.slow


def test_litert_runtime_alone_prices_a_tflite(project_wheel, edge_exports, tmp_path):
    bin_ = make_venv(tmp_path / "venv", f"{project_wheel}[litert-runtime]")
    assert run_quietly(bin_ / "python", "-c", "import torch").returncode != 0
    assert run_quietly(bin_ / "python", "-c", "import ai_edge_litert").returncode == 0
    houses = EXAMPLES / "houses.jsonl"
    there = run_quietly(bin_ / "hp-infer", houses, "--model", edge_exports / "model.tflite")
    here = run_quietly(script("hp-infer"), houses, "--model", edge_exports / "model.onnx")
    assert there.returncode == 0 and there.stderr == "", there.stderr
    prices = [[json.loads(line)["price"] for line in r.stdout.splitlines()] for r in (there, here)]
    np.testing.assert_allclose(prices[0], prices[1], rtol=2e-5)
    loaded = run_quietly(
        bin_ / "python",
        "-c",
        "import sys; from houseprice.runtime import Predictor; "
        f"Predictor.load({str(edge_exports / 'model.tflite')!r}); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'onnx')))",
    )
    assert loaded.returncode == 0 and loaded.stdout.strip() == "[]", loaded.stderr
