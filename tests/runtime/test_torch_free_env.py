"""A real torch-free environment: the base install, then hp-infer on an exported model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from houseprice.core.cli import install_command
from houseprice.runtime.predictor import Predictor
from tests.conftest import EXAMPLES, copy_source


def _run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=600, **kwargs)


@pytest.mark.slow
def test_base_install_has_no_torch_and_predicts(exported, tmp_path: Path):
    venv = tmp_path / "venv"
    assert _run(sys.executable, "-m", "venv", str(venv)).returncode == 0
    python, pip = venv / "bin" / "python", venv / "bin" / "pip"
    # Build from a copy of the working tree, so the build never writes into it.
    src = copy_source(tmp_path / "src")
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    # --no-compile: the same files, without byte-compiling numpy and onnxruntime (~6 s)
    install = _run(str(pip), "install", "--quiet", "--no-compile", str(src), env=env)
    assert install.returncode == 0, install.stderr[-2000:]
    listed = _run(str(pip), "list", "--format=json").stdout
    names = {p["name"].lower() for p in json.loads(listed)}
    assert "torch" not in names and "onnx" not in names and "houseprice" in names
    assert not names & {"dask", "distributed", "pyarrow", "pandas", "uvicorn", "starlette"}
    assert _run(str(python), "-c", "import torch").returncode != 0
    assert _run(str(python), "-c", "import houseprice.runtime").returncode == 0
    result = _run(
        str(venv / "bin" / "hp-infer"), str(EXAMPLES / "house.json"), "--model", str(exported.onnx)
    )
    assert result.returncode == 0, result.stderr
    batch = _run(str(venv / "bin" / "hp-batch"), str(tmp_path), str(tmp_path / "out"))
    assert batch.returncode == 6 and "pip install '.[dask]'" in batch.stderr, batch.stderr
    for command, extra in (("hp-train", "train"), ("hp-export", "export")):
        missing = _run(str(venv / "bin" / command), "--out", str(tmp_path / "none"))
        assert missing.returncode == 6, missing.stderr
        assert install_command(extra) in missing.stderr, missing.stderr
        assert len(missing.stderr.splitlines()) == 1 and not (tmp_path / "none").exists()
    bench = _run(
        str(venv / "bin" / "hp-bench"),
        "--quick",
        "--json",
        "--scale-rows",
        "300",
        "--model",
        str(exported.onnx),
    )
    assert bench.returncode == 0, bench.stderr
    statuses = {r["name"]: r["status"] for r in json.loads(bench.stdout)["rows"]}
    assert statuses["pytorch eager"] == statuses["torchscript"] == "skipped: torch not installed"
    assert statuses["onnx runtime, predict_array"] == statuses["floor: bare session.run"] == "ok"
    assert statuses["floor: fused arithmetic, numpy"] == "skipped: torch not installed"
    expected = _pytorch_price(exported.checkpoint)
    assert json.loads(result.stdout)["price"] == pytest.approx(expected, abs=1e-4)
    assert float(
        Predictor.load(exported.onnx).predict(json.loads((EXAMPLES / "house.json").read_text()))[0]
    ) == pytest.approx(expected, abs=1e-4)


def _pytorch_price(checkpoint: Path) -> float:
    import torch

    from houseprice.train.checkpoint import load_checkpoint

    trained = load_checkpoint(checkpoint)
    house = json.loads((EXAMPLES / "house.json").read_text())
    x = torch.tensor([[float(house[n]) for n in trained.info.feature_names]])
    with torch.no_grad():
        return float(trained.model(x)[0])
