"""hp-bench's rows for PyTorch's edge formats beside onnxruntime: model.tflite through the
runtime's LiteRT engine (Predictor, as hp-infer runs it) and model.pte through ExecuTorch's
C++ runtime (whole processes), from the files beside MODEL; and the tflite's cold start."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from houseprice.bench.records import LITERT_ARRAY, LITERT_DICT, PTE_RUN, Row
from houseprice.bench.timing import Candidate, runtime_candidates


def litert_candidates(
    model: Path, x_batch: np.ndarray, test: tuple[np.ndarray, np.ndarray] | None
) -> list[Candidate | Row]:
    tflite = model.with_suffix(".tflite")
    reason = _missing(tflite, "ai_edge_litert", "litert-runtime", "tflite")
    if reason:
        return [Row(LITERT_DICT, reason), Row(LITERT_ARRAY, reason)]
    return list(runtime_candidates(tflite, x_batch, test, (LITERT_DICT, LITERT_ARRAY)))


PTE_COLD = "executorch C++ runner, model.pte"


def pte_row(model: Path, x_batch: np.ndarray, runs: int, folder: Path) -> tuple[Row, float | None]:
    """The .pte row, through ExecuTorch's C++ runtime (export/pte_runner.cpp, as hp-export's
    gate runs it; its Python runtime crashes intermittently here): whole processes, median of
    ``runs``, pricing one house and the batch; houses/s from their difference (the load cost
    taken out), and the one-house process's median ms (the cold start). No one-house latency in
    a warm process: that needs the runner to loop."""
    pte = model.with_suffix(".pte")
    reason = _missing(pte, "executorch", "executorch", "pte")
    if reason:
        return Row(PTE_RUN, reason), None
    from houseprice.export.pte_export import build_runner

    runner = build_runner(folder)
    batch = np.ascontiguousarray(x_batch, dtype="<f4").tobytes()
    one, many = [], []
    for _ in range(max(1, runs)):
        one.append(_wall_s([str(runner), str(pte), "1"], batch[: 4 * x_batch.shape[1]]))
        many.append(_wall_s([str(runner), str(pte), str(len(x_batch))], batch))
    load = float(np.median(one))
    row = Row(
        PTE_RUN,
        file_bytes=pte.stat().st_size,
        houses_per_s=len(x_batch) / max(float(np.median(many)) - load, 1e-9),
    )
    return row, load * 1000


def _wall_s(command: list[str], data: bytes) -> float:
    start = time.perf_counter()
    subprocess.run(command, input=data, check=True, capture_output=True, timeout=600)
    return time.perf_counter() - start


def cold_commands(model: Path, house_array: Path) -> dict[str, list[str]]:
    """The edge formats' one-house processes, for the cold-start table, where their files are."""
    commands = {}
    tflite = model.with_suffix(".tflite")
    if not _missing(tflite, "ai_edge_litert", "litert-runtime", "tflite"):
        hp_infer = str(Path(sys.executable).parent / "hp-infer")
        commands["hp-infer, model.tflite"] = [hp_infer, str(house_array), "--model", str(tflite)]
    return commands


def _missing(path: Path, module: str, extra: str, fmt: str) -> str | None:
    if importlib.util.find_spec(module) is None:
        return f"skipped: {module} not installed (the {extra} extra)"
    if not path.is_file():
        return f"skipped: no {path.name} beside the model (hp-export --format {fmt})"
    return None
