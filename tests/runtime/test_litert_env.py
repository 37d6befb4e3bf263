"""The torch-free side of LiteRT: a fresh environment with the project and its litert-runtime
extra alone (ai-edge-litert, numpy, onnxruntime where it has wheels, typer) prices model.tflite
in hp-infer and Predictor as onnxruntime does here; torch cannot be imported there."""

from __future__ import annotations

import pytest

from tests.conftest import make_venv, priced_there_as_here, run_quietly

pytestmark = pytest.mark.slow


def test_litert_runtime_alone_prices_a_tflite(project_wheel, edge_exports, tmp_path):
    bin_ = make_venv(tmp_path / "venv", f"{project_wheel}[litert-runtime]")
    assert run_quietly(bin_ / "python", "-c", "import torch").returncode != 0
    assert run_quietly(bin_ / "python", "-c", "import ai_edge_litert").returncode == 0
    model, reference = edge_exports / "model.tflite", edge_exports / "model.onnx"
    assert priced_there_as_here(bin_, model, reference, rtol=2e-5).stderr == ""
    loaded = run_quietly(
        bin_ / "python",
        "-c",
        "import sys; from houseprice.runtime import Predictor; "
        f"Predictor.load({str(edge_exports / 'model.tflite')!r}); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'onnx')))",
    )
    assert loaded.returncode == 0 and loaded.stdout.strip() == "[]", loaded.stderr
