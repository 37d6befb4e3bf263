"""The files hp-export writes load in the onnxruntime releases devices pin, as runtime/compat.py
claims, and the runtime works with exactly its declared floor: throwaway environments with
onnxruntime 1.15.0, 1.16.3 and 1.17.3 (the oldest wheels for Python 3.11) and numpy<2."""

from __future__ import annotations

import json
import re

import numpy as np
import onnx
import pytest
import tomllib

from houseprice.export.api import export_model
from houseprice.runtime.compat import loads_in
from houseprice.runtime.file_versions import oldest_onnxruntime
from houseprice.runtime.predictor import Predictor
from tests.conftest import (
    EXAMPLES,
    REPO,
    assert_one_line_error,
    make_venv,
    priced_there_as_here,
    run_quietly,
)

VERSIONS = ("1.15.0", "1.16.3", "1.17.3")

# Prices of every file, or the error that refused it, from inside the other environment.
PROBE = """
import json, sys
import numpy as np
from houseprice.core.errors import ModelError
from houseprice.runtime import Predictor
x = np.load(sys.argv[1])
out = {}
for path in sys.argv[2:]:
    try:
        out[path] = Predictor.load(path).predict_array(x).tolist()
    except ModelError as exc:
        out[path] = str(exc)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def files(exported, opset_exports, tmp_path_factory):
    folder = tmp_path_factory.mktemp("old-ort")
    export_model(exported.checkpoint, folder, ["ort"])
    torch_stamp = onnx.load(exported.onnx)
    torch_stamp.ir_version = 10  # what torch's exporter stamps: needs onnxruntime 1.18
    onnx.save(torch_stamp, folder / "ir10.onnx")
    return [*opset_exports.values(), folder / "model.ort", folder / "ir10.onnx"]


@pytest.mark.slow
@pytest.mark.parametrize("version", VERSIONS)
def test_each_file_loads_where_the_table_says_with_the_same_prices(
    version, files, boston, project_wheel, tmp_path
):
    bin_ = make_venv(
        tmp_path / "venv", f"onnxruntime=={version}", "numpy<2", f"--no-deps {project_wheel}"
    )
    x = boston.features.astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    probe = run_quietly(bin_ / "python", "-c", PROBE, tmp_path / "x.npy", *files)
    assert probe.returncode == 0, probe.stderr[-2000:]
    found = json.loads(probe.stdout)
    for path in files:
        expected = loads_in(oldest_onnxruntime(path.read_bytes()), version)
        got = found[str(path)]
        assert isinstance(got, list) == expected, (path.name, version, got)
        if expected:
            want = Predictor.load(path).predict_array(x)
            np.testing.assert_allclose(np.array(got, np.float32), want, rtol=1e-6, atol=0)
        else:
            assert "not a loadable ONNX model" in got
    if version == declared_floor():
        _hp_infer_works(bin_, files, tmp_path)


def _hp_infer_works(bin_, files, tmp_path):
    """hp-infer with exactly the declared floor installed: the same prices as here, and a file
    it cannot load refused in one line, exit 3."""
    default = next(p for p in files if p.parent.name.startswith("opset18"))
    priced_there_as_here(bin_, default, default, rtol=2e-6)
    refused = run_quietly(bin_ / "hp-infer", EXAMPLES / "houses.jsonl", "--model", files[-1])
    assert_one_line_error(refused, 3, "not a loadable ONNX model", "hp-infer")


def declared_floor() -> str:
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    spec = next(d for d in dependencies if d.startswith("onnxruntime"))
    return re.match(r"onnxruntime>=([\d.]+)", spec)[1]


def test_the_declared_floor_is_a_release_the_tests_run():
    assert declared_floor() == VERSIONS[0]
