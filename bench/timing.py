"""Format timing: one house and a batch through each format, side by side (round-robin)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from houseprice.bench.records import (
    EAGER,
    NUMPY_ARRAY,
    NUMPY_DICT,
    RUNTIME_ARRAY,
    RUNTIME_DICT,
    TORCHSCRIPT,
    BenchSettings,
    Row,
)
from houseprice.data import Dataset
from houseprice.runtime.predictor import Predictor


@dataclass(frozen=True)
class Candidate:
    """A row to measure: one house through ``single()``, a batch through ``batch(x)``."""

    row: Row
    single: Callable[[], object]
    batch: Callable[[np.ndarray], object]


def measure_side_by_side(
    candidates: list[Candidate], x: np.ndarray, settings: BenchSettings
) -> None:
    """Fill each row's latency and throughput, round-robin: call i of every candidate runs before
    call i+1 of any, so a burst of noise on this shared machine hits every row alike. The order
    rotates every round: a fixed order made the row after torch's calls pay for the caches torch
    had just filled (predict(dict) measured ~1.5x slower there than alone)."""
    for c in candidates:  # warm-up
        for _ in range(max(10, settings.single_calls // 10)):
            c.single()
        c.batch(x)
    clock = time.perf_counter_ns
    times = np.empty((len(candidates), settings.single_calls))
    n = len(candidates)
    for i in range(settings.single_calls):
        for k in [(i + j) % n for j in range(n)]:
            single = candidates[k].single
            start = clock()
            single()
            times[k, i] = clock() - start
    durations: list[list[float]] = [[] for _ in candidates]
    for _ in range(settings.batch_repeats):
        for k, c in enumerate(candidates):
            start = time.perf_counter()
            c.batch(x)
            durations[k].append(time.perf_counter() - start)
    for k, c in enumerate(candidates):
        c.row.p50_us = float(np.percentile(times[k], 50)) / 1000
        c.row.p99_us = float(np.percentile(times[k], 99)) / 1000
        c.row.houses_per_s = len(x) / statistics.median(durations[k])


def _rmse(pred: np.ndarray, truth: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(pred, np.float64) - truth) ** 2)))


def holdout_rows(
    predictor: Predictor, data: Dataset, houses: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """The bundled data's hold-out rows the model was tested on, if it was trained on that data.
    ``houses``: the data's features in the model's column order."""
    from houseprice.train.split import holdout_split  # numpy only, no torch

    config = predictor.info.config
    if predictor.info.data_sha256 != data.sha256 or "split" not in config:
        return None
    _, test = holdout_split(data.n_rows, config["split"], config["test_fraction"], config["seed"])
    return houses[test].astype(np.float32), data.target[test]


def runtime_candidates(
    model: Path,
    x_batch: np.ndarray,
    test: tuple[np.ndarray, np.ndarray] | None,
    names: tuple[str, str] = (RUNTIME_DICT, RUNTIME_ARRAY),
) -> list[Candidate]:
    predictor = Predictor.load(model)
    house = dict(zip(predictor.feature_names, x_batch[0].tolist(), strict=True))
    row_array = x_batch[:1].copy()
    rows = [Row(name) for name in names]
    singles = [lambda: predictor.predict(house), lambda: predictor.predict_array(row_array)]
    for row in rows:
        row.file_bytes = model.stat().st_size
        row.test_rmse = _rmse(predictor.predict_array(test[0]), test[1]) if test else None
    return [Candidate(r, f, predictor.predict_array) for r, f in zip(rows, singles, strict=True)]


def numpy_candidates(
    model: Path, x_batch: np.ndarray, test: tuple[np.ndarray, np.ndarray] | None
) -> list[Candidate | Row]:
    """The numpy backend's rows, from the model.npz beside MODEL (hp-export --format npz)."""
    npz = model.with_suffix(".npz")
    if not npz.is_file():
        reason = f"skipped: no {npz.name} beside the model (hp-export --format npz)"
        return [Row(NUMPY_DICT, reason), Row(NUMPY_ARRAY, reason)]
    return list(runtime_candidates(npz, x_batch, test, (NUMPY_DICT, NUMPY_ARRAY)))


def torch_candidates(
    checkpoint: Path,
    torchscript: Path,
    x_batch: np.ndarray,
    test: tuple[np.ndarray, np.ndarray] | None,
) -> list[Candidate | Row]:
    """Candidates for PyTorch eager and TorchScript; a bare Row (skipped, failed) where not."""
    try:
        import torch
    except ImportError:
        reason = "skipped: torch not installed"
        return [Row(EAGER, reason), Row(TORCHSCRIPT, reason)]
    results: list[Candidate | Row] = []
    torch.set_num_threads(1)
    modules: list[tuple[Row, Callable[[], Any], Path]] = [
        (Row(EAGER), lambda: _load_eager(checkpoint), checkpoint),
        (Row(TORCHSCRIPT), lambda: _load_torchscript(torchscript), torchscript),
    ]
    for row, load, path in modules:
        try:
            module = load()
        except Exception as exc:  # a missing or broken file only fails its own row
            row.status = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:80]}"
            results.append(row)
            continue

        def forward(x: np.ndarray, module: Any = module) -> np.ndarray:
            with torch.inference_mode():
                return module(torch.from_numpy(x)).numpy()

        def single(module: Any = module, x1: Any = torch.from_numpy(x_batch[:1].copy())) -> object:
            with torch.inference_mode():
                return module(x1)

        row.file_bytes = path.stat().st_size
        row.test_rmse = _rmse(forward(test[0]), test[1]) if test else None
        results.append(Candidate(row, single, forward))
    return results


def _load_eager(checkpoint: Path) -> Any:
    from houseprice.train.checkpoint import load_checkpoint

    return load_checkpoint(checkpoint).model.eval()


def _load_torchscript(path: Path) -> Any:
    from houseprice.export.torchscript_export import load_torchscript

    return load_torchscript(path.read_bytes())[0].eval()


def batch_inputs(houses: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """n rows resampled from ``houses`` (features in the model's column order), float32."""
    rows = np.random.default_rng(seed).integers(0, len(houses), size=n)
    return np.ascontiguousarray(houses[rows], dtype=np.float32)
