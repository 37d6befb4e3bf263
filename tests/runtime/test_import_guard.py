"""The runtime path loads no torch and no onnx (Typer's test_rich_import pattern)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import EXAMPLES

PROBE = """
import json, sys
{body}
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {{"torch", "onnx", "onnxscript"}}
               or m.startswith(("houseprice.train", "houseprice.export")))
print(json.dumps(heavy))
"""

RUN_CLI = """
import sys
from houseprice.runtime.cli import main
sys.argv = ["hp-infer", *{args!r}]
try:
    main()
except SystemExit as exc:
    assert exc.code in (0, None), exc.code
"""


def _heavy_modules(body: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(body=body)], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_importing_the_runtime_loads_no_torch_or_onnx():
    assert (
        _heavy_modules(
            "import houseprice.runtime, houseprice.runtime.predictor, houseprice.runtime.infer"
        )
        == []
    )


def test_help_loads_no_torch_or_onnx():
    assert _heavy_modules(RUN_CLI.format(args=["--help"])) == []


def test_a_prediction_loads_no_torch_or_onnx(exported):
    args = [str(EXAMPLES / "house.json"), "--model", str(exported.onnx)]
    assert _heavy_modules(RUN_CLI.format(args=args)) == []


def test_the_probe_can_fail():
    """The same probe does see torch when it is imported, so an empty list above means something."""
    assert "torch" in _heavy_modules("import torch")


def test_the_server_loads_no_torch_or_onnx(exported):
    """hp-serve's app, built around a loaded model, as `hp-serve` builds it."""
    body = f"""
from pathlib import Path
from houseprice.serve.app import create_app
from houseprice.serve.config import ServeConfig
from houseprice.serve.model import ModelHolder, load_model
create_app(
    ModelHolder(load_model(Path({str(exported.onnx)!r}))), ServeConfig(), multiprocess=False
)
import houseprice.serve.cli
"""
    assert _heavy_modules(body) == []


def test_the_batch_job_loads_no_torch_or_onnx():
    body = "import houseprice.batch.cli, houseprice.batch.job, houseprice.batch.score"
    assert _heavy_modules(body) == []


def test_onnxruntime_is_imported_only_by_an_onnx_model(exported):
    probe = f"""
import sys
import houseprice.runtime
before = "onnxruntime" in sys.modules
from houseprice.runtime import Predictor
from houseprice.runtime.predictor import Predictor as Defined
imported = "onnxruntime" in sys.modules
Predictor.load({str(exported.npz)!r})
with_npz = "onnxruntime" in sys.modules
Predictor.load({str(exported.onnx)!r})
print(before, imported, Predictor is Defined, with_npz, "onnxruntime" in sys.modules)
"""
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False", "True", "False", "True"]
