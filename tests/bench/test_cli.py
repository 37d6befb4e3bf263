from __future__ import annotations

import json
import re
import shutil

import onnx
import pytest

from houseprice.bench import records
from houseprice.bench.measure import TARGETS
from houseprice.runtime.contract import ModelInfo
from tests.conftest import run_cli
from tests.runtime.model_files import sum_model

COLUMNS = {
    "name",
    "status",
    "file_bytes",
    "test_rmse",
    "p50_us",
    "p99_us",
    "houses_per_s",
    "p50_x_floor",
    "batch_x_floor",
}
FORMATS = [
    records.EAGER,
    records.TORCHSCRIPT,
    records.RUNTIME_DICT,
    records.RUNTIME_ARRAY,
    records.NUMPY_DICT,
    records.NUMPY_ARRAY,
    records.LITERT_DICT,
    records.LITERT_ARRAY,
    records.PTE_RUN,
]
FLOORS = list(records.FLOORS)
ROWS = FORMATS + FLOORS + [records.UNFUSED_RUN]


def model_args(exported) -> list[str]:
    return ["--model", str(exported.onnx), "--checkpoint", str(exported.checkpoint)]


def quick_bench(exported, *args: str):
    return run_cli("hp-bench", "--quick", *args, *model_args(exported), timeout=300)


@pytest.fixture
def every_format(exported, edge_exports, tmp_path):
    """A folder with the shared model in every format hp-bench times."""
    for path in (exported.onnx, exported.npz, exported.torchscript, exported.checkpoint):
        shutil.copy(path, tmp_path / path.name)
    for name in ("model.pte", "model.tflite"):
        shutil.copy(edge_exports / name, tmp_path / name)
    return tmp_path


def test_quick_json_report_has_every_row_and_column(every_format):
    args = ["--model", str(every_format / "model.onnx")]
    args += ["--checkpoint", str(every_format / "checkpoint.pt")]
    result = run_cli("hp-bench", "--quick", "--json", "--scale-rows", "600", *args, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [r["name"] for r in report["rows"]] == ROWS
    for row in report["rows"]:
        assert set(row) == COLUMNS and row["status"] == "ok", row
        assert row["houses_per_s"] > 0
        if row["name"] != records.PTE_RUN:  # whole processes: no one-house latency
            assert row["p50_us"] > 0 and row["p99_us"] >= row["p50_us"]
    formats = [r for r in report["rows"] if r["name"] in FORMATS and r["name"] != records.PTE_RUN]
    rmse = {round(r["test_rmse"], 3) for r in formats}
    assert len(rmse) == 1  # every format scores the same hold-out split alike
    assert all(r["p50_x_floor"] > 0 and r["batch_x_floor"] > 0 for r in formats)
    pte = next(r for r in report["rows"] if r["name"] == records.PTE_RUN)
    assert pte["houses_per_s"] > 0 and pte["file_bytes"] > 0 and pte["p50_us"] is None
    assert all(r["p50_x_floor"] is None for r in report["rows"] if r["name"] in FLOORS)
    assert set(report["cold_start_ms"]) == {
        "hp-infer",
        "python -c 'import onnxruntime, numpy'",
        "torch (TorchScript) script",
        "hp-infer, model.tflite",
        "executorch C++ runner, model.pte",
    }
    assert report["scale"]["houses"] == 600 and report["scale"]["peak_rss_mb"] > 0
    assert report["scale"]["mixed_shapes_houses_per_s"] > 0
    # The graph's facts, from the file and onnxruntime's mobile checker (tests/export holds the
    # checker's full account): the fused graph, whole on NNAPI, all but Log on CoreML MLProgram.
    assert report["graph"] == {
        "nodes": len(onnx.load(every_format / "model.onnx").graph.node),
        "nnapi_partitions": 1,
        "nnapi_nodes_left": 0,
        "coreml_mlprogram_partitions": 2,
        "coreml_mlprogram_nodes_left": 1,
    }
    # Every target is reported, measured (torch and every row are there), and judged right.
    assert [t["id"] for t in report["targets"]] == [key for key, *_ in TARGETS]
    for t in report["targets"]:
        op, bound = t["bound"].split()
        assert t["measured"] is not None, t
        within = t["measured"] <= float(bound) if op == "<=" else t["measured"] >= float(bound)
        assert t["met"] is within, t


def test_table_output_a_missing_checkpoint_and_a_missing_model(exported, tmp_path):
    """One table run: a missing checkpoint fails only the rows that need torch's module."""
    args = ["--model", str(exported.onnx), "--checkpoint", str(tmp_path / "none.pt")]
    table = run_cli("hp-bench", "--quick", "--scale-rows", "0", *args, timeout=300)
    assert table.returncode == 0, table.stderr
    assert b"onnx runtime, predict_array" in table.stdout and b"targets:" in table.stdout
    lines = table.stdout.decode().splitlines()
    eager = lines.index(next(line for line in lines if line.startswith("pytorch eager")))
    assert "failed: CheckpointError" in lines[eager + 1], lines[eager + 1]  # its status line
    onnx_row = next(line for line in lines if line.startswith("onnx runtime, predict_array"))
    assert re.search(r"predict_array\s+ok\s", onnx_row), onnx_row
    missing = run_cli("hp-bench", "--quick", "--model", str(tmp_path / "none.onnx"))
    assert missing.returncode == 3 and missing.stdout == b""
    assert (
        missing.stderr.decode().startswith("hp-bench: error: ") and missing.stderr.count(b"\n") == 1
    )


def test_a_model_of_other_data_needs_that_data(tmp_path):
    names = ("ROOMS", "AREA")
    own = ModelInfo(names, (1.0, 20.0), (9.0, 400.0), "PRICE", "$", "0" * 64, "test")
    model = sum_model(tmp_path / "own.onnx", 2, own.to_metadata())
    common = (
        "--quick",
        "--json",
        "--scale-rows",
        "50",
        "--model",
        str(model),
        "--checkpoint",
        str(tmp_path / "none.pt"),
    )
    boston = run_cli("hp-bench", *common, timeout=300)
    assert boston.returncode == 1 and boston.stdout == b"", boston.stderr
    err = boston.stderr.decode()
    assert err.count("\n") == 1 and err.startswith("hp-bench: error: ") and "ROOMS, AREA" in err
    data = tmp_path / "own.csv"
    data.write_text("ROOMS,AREA,PRICE\n" + "".join(f"{r},{30 * r},{r * 50}\n" for r in range(1, 9)))
    result = run_cli("hp-bench", *common, "--data", str(data), timeout=300)
    assert result.returncode == 0, result.stderr
    rows = {r["name"]: r for r in json.loads(result.stdout)["rows"]}
    assert rows["onnx runtime, predict_array"]["status"] == "ok"
    assert rows["onnx runtime, predict_array"]["test_rmse"] is None  # not its training data
    assert json.loads(result.stdout)["scale"]["houses"] == 50


def test_the_mixed_shape_scale_file_holds_the_same_houses_in_three_shapes(tmp_path):
    import numpy as np

    from houseprice.bench.scale import write_jsonl

    houses = np.arange(12, dtype=np.float64).reshape(4, 3)
    write_jsonl(tmp_path / "u.jsonl", ("A", "B", "C"), houses, 6)
    write_jsonl(tmp_path / "m.jsonl", ("A", "B", "C"), houses, 6, shapes=3)
    uniform, mixed = ((tmp_path / n).read_text().splitlines() for n in ("u.jsonl", "m.jsonl"))
    assert [json.loads(line) for line in uniform] == [json.loads(line) for line in mixed]
    skeleton = lambda line: re.sub(r"[0-9.]+", "#", line)  # noqa: E731
    assert len({skeleton(line) for line in uniform}) == 1
    assert len({skeleton(line) for line in mixed}) == 3
