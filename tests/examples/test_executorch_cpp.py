"""examples/executorch/price_houses.cpp, the minimal C++ integration of model.pte: built with g++
against the runtime the executorch wheel ships (torch's headers at build time only), it prices
every house of the data set within 1e-5 of onnxruntime and needs no torch library to run."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from houseprice.export.pte_export import build_runner
from houseprice.runtime.predictor import Predictor
from tests.conftest import BOUND, REPO, relative_diff

pytestmark = pytest.mark.slow
SOURCE = REPO / "examples" / "executorch" / "price_houses.cpp"


def build(folder: Path) -> Path:
    """The example as its header comment builds it (the gate's build_runner, one owner)."""
    if shutil.which("g++") is None:
        pytest.fail("g++ not found: apt-get install g++ (make test installs it)")
    assert SOURCE.resolve() == (REPO / "export" / "pte_runner.cpp").resolve()  # one program
    return build_runner(folder)


def test_pte_priced_by_the_cpp_example_as_onnxruntime_does(edge_exports, onnx_prices, tmp_path):
    program = build(tmp_path)
    linked = subprocess.run(["ldd", str(program)], capture_output=True, text=True).stdout
    assert "libtorch" not in linked and "libc10" not in linked, linked  # no torch at run time
    rows, _ = onnx_prices
    done = subprocess.run(
        [str(program), str(edge_exports / "model.pte"), str(len(rows))],
        input=rows.astype(np.float32).tobytes(),
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    prices = np.array([float(line) for line in done.stdout.split()])
    wanted = Predictor.load(edge_exports / "model.onnx").predict_array(rows)
    assert len(prices) == len(rows) and relative_diff(prices, wanted) < BOUND


def test_pte_cpp_example_refuses_a_file_that_is_not_ours(exported, tmp_path):
    # the session's ONNX file, not the edge exports': this test need not wait while another
    # worker builds them
    program = build(tmp_path)
    done = subprocess.run(
        [str(program), str(exported.onnx), "1"], input=b"\0" * 52, capture_output=True
    )
    assert done.returncode != 0
