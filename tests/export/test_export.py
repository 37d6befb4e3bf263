from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from houseprice.data import load_dataset
from houseprice.export import api
from houseprice.export.api import export_model
from houseprice.export.config import ExportConfig
from houseprice.export.errors import ExportError, ParityError
from houseprice.export.fused import FusedPriceMLP
from houseprice.export.torchscript_export import load_torchscript
from houseprice.runtime.contract import ModelInfo
from houseprice.runtime.predictor import Predictor
from houseprice.train.checkpoint import load_checkpoint
from houseprice.train.model import PriceMLP
from tests.conftest import REPO

TOL = ExportConfig()


def _eager(checkpoint: Path, x: np.ndarray) -> np.ndarray:
    model = load_checkpoint(checkpoint).model
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


def test_onnx_is_one_file_with_symbolic_batch(exported):
    assert not list(exported.folder.glob("*.data"))
    proto = onnx.load(exported.onnx)
    assert [i.name for i in proto.graph.input] == ["features"]
    assert [o.name for o in proto.graph.output] == ["price"]
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and not dims[0].dim_value
    assert dims[1].dim_value == 13
    assert proto.opset_import[0].version == TOL.opset
    assert all(i.data_location != onnx.TensorProto.EXTERNAL for i in proto.graph.initializer)
    # A plain onnxruntime session (numpy only) runs any batch size.
    session = ort.InferenceSession(str(exported.onnx), providers=["CPUExecutionProvider"])
    for n in (1, 3, 500):
        (out,) = session.run(None, {"features": np.zeros((n, 13), np.float32)})
        assert out.shape == (n,) and out.dtype == np.float32


def test_onnx_carries_no_exporter_debug_records(exported):
    data = exported.onnx.read_bytes()
    assert b"stack_trace" not in data and str(REPO).encode() not in data
    assert all(not node.metadata_props for node in onnx.load(exported.onnx).graph.node)


def test_metadata_round_trip(exported):
    trained = load_checkpoint(exported.checkpoint)
    props = {p.key: p.value for p in onnx.load(exported.onnx).metadata_props}
    info = ModelInfo.from_metadata(props)
    # Exactly the checkpoint's facts (one record), stamped by the exporter.
    assert (
        info.package_version and info.exported_at and info.exported_at != trained.info.exported_at
    )
    assert (
        replace(info, exported_at="", package_version=trained.info.package_version) == trained.info
    )
    assert (info.target_name, info.target_unit) == ("MEDV", "$1000s")
    assert info.config == trained.config.to_dict()
    _, ts_props = load_torchscript(exported.torchscript.read_bytes())
    assert ModelInfo.from_metadata(ts_props).feature_names == trained.info.feature_names


def test_manifest_lists_every_artifact(exported):
    manifest = json.loads((exported.folder / "manifest.json").read_text())
    entries = {a["format"]: a for a in manifest["artifacts"]}
    assert entries.keys() == {"onnx", "torchscript", "npz"}
    for entry in entries.values():
        data = (exported.folder / entry["file"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["size"] == len(data)
        # Far-out random houses get huge prices from a log-target model: the relative figure counts.
        assert entry["parity"]["passed"] and entry["parity"]["max_rel_diff"] < 1e-4
    assert entries["onnx"]["opset"] == TOL.opset
    assert entries["onnx"]["oldest_onnxruntime"] == "1.14"  # opset 18 at IR 8
    assert "oldest_onnxruntime" not in entries["npz"] and "opset" not in entries["npz"]


def test_torchscript_predicts_like_eager_on_the_data_set(exported):
    x = load_dataset().features.astype(np.float32)
    module, _ = load_torchscript(exported.torchscript.read_bytes())
    with torch.no_grad():
        scripted = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(
        scripted, _eager(exported.checkpoint, x), rtol=TOL.rtol, atol=TOL.atol
    )


def test_runtime_matches_pytorch_on_the_data_set(exported):
    x = load_dataset().features.astype(np.float32)
    got = Predictor.load(exported.onnx).predict_array(x)
    np.testing.assert_allclose(got, _eager(exported.checkpoint, x), rtol=TOL.rtol, atol=TOL.atol)


@settings(max_examples=40, deadline=None)
@given(
    fractions=arrays(
        np.float64, st.tuples(st.integers(1, 64), st.just(13)), elements=st.floats(0, 1)
    )
)
def test_parity_property_random_houses_any_batch(exported, fractions):
    """Any batch size, any house in the domain the export gate guarantees: an interval ten times
    each feature's training range (far beyond it a log-target model's prices pass 1e20, where
    float32 itself cannot hold a relative 1e-5)."""
    predictor = Predictor.load(exported.onnx)
    low, high = np.array(predictor.info.feature_min), np.array(predictor.info.feature_max)
    middle, half = (low + high) / 2, (high - low) * TOL.random_span / 2
    x = (middle - half + fractions * 2 * half).astype(np.float32)
    expected = _eager(exported.checkpoint, x)
    got = predictor.predict_array(x)
    assert got.shape == expected.shape == (len(x),)
    np.testing.assert_allclose(got, expected, rtol=TOL.rtol, atol=TOL.atol)


def _corrupt_first_weight(data: bytes) -> bytes:
    proto = onnx.ModelProto.FromString(data)
    weights = max(proto.graph.initializer, key=lambda t: len(t.raw_data) or len(t.float_data))
    array = onnx.numpy_helper.to_array(weights).copy()
    array.flat[0] += 0.5
    weights.CopyFrom(onnx.numpy_helper.from_array(array, weights.name))
    return proto.SerializeToString()


def test_gate_refuses_a_corrupted_graph_and_writes_nothing(exported, tmp_path, monkeypatch):
    from houseprice.export import onnx_export

    real = onnx_export.export_onnx
    monkeypatch.setattr(onnx_export, "export_onnx", lambda *a: _corrupt_first_weight(real(*a)))
    with pytest.raises(
        ParityError, match=r"onnx disagrees with PyTorch: max abs diff .* worst input \{CRIM="
    ):
        export_model(exported.checkpoint, tmp_path, ["torchscript", "onnx"])
    assert not (tmp_path / "model.onnx").exists()
    assert not (tmp_path / "model.torchscript.pt").exists()  # all or nothing
    assert not (tmp_path / "manifest.json").exists()
    dump = tmp_path / "parity-failure" / "onnx"
    inputs, expected = np.load(dump / "inputs.npy"), np.load(dump / "expected.npy")
    rejected = Predictor.load(dump / "rejected.onnx").predict_array(inputs)
    assert np.abs(rejected - expected).max() > TOL.atol  # the dump reproduces the failure


def test_errors(exported, tmp_path):
    with pytest.raises(ExportError, match="unknown format 'coreml'"):
        export_model(exported.checkpoint, tmp_path, ["coreml"])
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ExportError, match="cannot write"):
        export_model(exported.checkpoint, blocker / "out", ["onnx"])


def test_onnx_ensemble_output_is_the_mean_of_its_members_in_pytorch(exported):
    model = load_checkpoint(exported.checkpoint).model
    assert len(model.members) > 1
    x = load_dataset().features.astype(np.float32)
    with torch.no_grad():
        z = model.transform(torch.from_numpy(x))
        each = [m(z).squeeze(1) * model.y_scale + model.y_mean for m in model.members]
        mean = torch.stack(each).mean(dim=0)
        expected = (torch.exp(mean) if model.log_target else mean).numpy()
    got = Predictor.load(exported.onnx).predict_array(x)
    np.testing.assert_allclose(got, expected, rtol=TOL.rtol, atol=TOL.atol)
    # Fused: one wide MLP whatever the member count, no Where (NNAPI cannot run it), no Gather
    # (CoreML cannot), at most 10 nodes.
    ops = [n.op_type for n in onnx.load(exported.onnx).graph.node]
    assert ops.count("Gemm") == 2 and not {"Where", "Gather"} & set(ops) and len(ops) <= 10, ops


@pytest.mark.parametrize("logged", ["none", "some", "all"])
def test_the_fused_module_is_the_unfused_model_whichever_columns_are_logged(logged):
    """The first Gemm's reordering is exact: [x_logged + 1, x_raw, 1] bit for bit, whose log of
    the first part is log(max(x, 0) + 1) exactly; and the weights follow the new order."""
    torch.manual_seed(0)
    model = PriceMLP(4, 8, 3, log_target=True)
    x = torch.rand(64, 4) * torch.tensor([1.0, 50.0, 3.0, 200.0]) - 0.5  # negatives clamp to 0
    model.set_scaling(x, torch.rand(64) + 2, standardize=True)
    mask = {"none": [0.0] * 4, "some": [0.0, 1, 0, 1], "all": [1.0] * 4}[logged]
    model.log_mask[:] = torch.tensor(mask)
    fused = FusedPriceMLP(model).eval()
    is_logged = model.log_mask > 0
    with torch.no_grad():
        np.testing.assert_allclose(fused(x).numpy(), model(x).numpy(), rtol=2e-6)
        z = torch.nn.functional.linear(x, fused.select, fused.offset)
        expected = torch.cat([x[:, is_logged] + 1, x[:, ~is_logged], torch.ones(64, 1)], dim=1)
        assert torch.equal(z, expected)
        k = fused.n_logged
        logs = torch.log(torch.clamp(x[:, is_logged], min=0) + 1)
        assert torch.equal(torch.log(torch.clamp(z[:, :k], min=1.0)), logs)
    assert k == sum(mask)


def test_the_fused_graph_is_one_nnapi_partition_with_fixed_shapes(exported, tmp_path):
    """onnxruntime's own mobile checker, on the model with its batch fixed to 1."""
    fixed = tmp_path / "fixed.onnx"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "onnxruntime.tools.make_dynamic_shape_fixed",
            "--input_name",
            "features",
            "--input_shape",
            "1,13",
            str(exported.onnx),
            str(fixed),
        ],
        check=True,
    )
    report = subprocess.run(
        [sys.executable, "-m", "onnxruntime.tools.check_onnx_model_mobile_usability", str(fixed)],
        capture_output=True,
        text=True,
        check=True,
    )
    text = report.stdout + report.stderr
    nodes = len(onnx.load(fixed).graph.node)
    nnapi = text.split("Checking NNAPI")[1].split("Checking CoreML")[0]
    assert (
        f"1 partitions with a total of {nodes}/{nodes} nodes can be handled by the NNAPI EP"
        in nnapi
    )
    # CoreML MLProgram (onnxruntime 1.32) takes every op but Log, which no graph of log1p avoids:
    # the README's account of it, checked.
    mlprogram = text.split("Checking CoreML MLProgram")[1]
    assert "Unsupported ops: ai.onnx:Log\n" in mlprogram
    assert f"{nodes - 1}/{nodes} nodes can be handled by the CoreML MLProgram EP" in mlprogram


def test_a_failed_write_leaves_the_previous_set_with_its_manifest(exported, tmp_path, monkeypatch):
    """Models and manifest are committed together: a write failing on the last file (the
    manifest, as a disk filling up between writes would) leaves the previous export as it was."""
    from houseprice.core import files
    from houseprice.core.errors import OutputError
    from houseprice.export.errors import ExportOutputError

    export_model(exported.checkpoint, tmp_path, ["onnx", "torchscript"])
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    real_write = files._GuardedWriter.write

    def full_disk(self, data):
        if self._target.name == "manifest.json":
            raise OutputError(f"cannot write {self._target}: No space left on device")
        return real_write(self, data)

    monkeypatch.setattr(files._GuardedWriter, "write", full_disk)
    monkeypatch.setattr(api, "model_info", _with_new_export_time(api.model_info))
    with pytest.raises(ExportOutputError, match=r"manifest\.json: No space left on device"):
        export_model(exported.checkpoint, tmp_path, ["onnx", "torchscript"])
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no temp files either
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    for entry in manifest["artifacts"]:
        data = (tmp_path / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]


def _with_new_export_time(model_info):
    """A later export writes other bytes (its exported_at differs): make sure they would."""
    return lambda trained: replace(model_info(trained), exported_at="2099-01-01T00:00:00+00:00")


def test_a_graph_the_runtime_cannot_load_is_a_conversion_error(exported, tmp_path, monkeypatch):
    from houseprice.export import onnx_export
    from houseprice.export.errors import ConversionError

    monkeypatch.setattr(onnx_export, "export_onnx", lambda *a: b"\x08\x0anot a graph")
    with pytest.raises(ConversionError, match="the runtime cannot load the exported graph"):
        export_model(exported.checkpoint, tmp_path, ["onnx"])
    assert list(tmp_path.iterdir()) == []
