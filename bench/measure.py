"""`hp-bench`'s run: every measurement, in order. Every figure is a median over repeats after
warm-up, one thread. The jobs live beside it: format timing (timing.py), cold start (cold.py),
the scale run (scale.py), the targets (targets.py).

Torch rows import torch lazily, so on a torch-free install only the runtime rows are measured.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from houseprice.bench.c_floor import c_candidate
from houseprice.bench.cold import cold_start
from houseprice.bench.edge import PTE_COLD, litert_candidates, pte_row
from houseprice.bench.floor import compare_to_floor, floor_candidates, unfused_candidate
from houseprice.bench.graph import graph_facts
from houseprice.bench.records import QUICK, BenchSettings, Report
from houseprice.bench.scale import scale
from houseprice.bench.targets import TARGETS, evaluate_targets
from houseprice.bench.timing import (
    Candidate,
    batch_inputs,
    holdout_rows,
    measure_side_by_side,
    numpy_candidates,
    runtime_candidates,
    torch_candidates,
)
from houseprice.data import DEFAULT_TARGET, DataError, load_dataset
from houseprice.runtime.predictor import Predictor

__all__ = ["QUICK", "TARGETS", "BenchSettings", "Report", "run"]


def machine() -> dict[str, Any]:
    import platform

    import onnxruntime

    info = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "onnxruntime": onnxruntime.__version__,
        "numpy": np.__version__,
    }
    try:
        import torch

        info["torch"] = torch.__version__
    except ImportError:
        info["torch"] = None
    return info


def run(
    model: Path,
    checkpoint: Path,
    torchscript: Path,
    settings: BenchSettings,
    data_path: Path | None = None,
    target: str | None = None,
) -> Report:
    """Every measurement, on houses from ``data_path`` (the bundled data when None), whose
    ``target`` column is split off (when None: the model's target in a user's file, MEDV in the
    bundled data). DataError if the data lacks a feature the model takes."""
    report = Report(settings, machine=machine())
    predictor = Predictor.load(model)
    if target is None:
        target = predictor.info.target_name if data_path else DEFAULT_TARGET
    data = load_dataset(data_path, target=target)
    try:
        houses = data.feature_matrix(predictor.feature_names)  # loaded once, in the model's order
    except DataError as exc:
        message = f"{exc}, which the model takes; pass the data it was trained on (--data)"
        raise DataError(message) from None
    x_batch = batch_inputs(houses, settings.batch)
    test = holdout_rows(predictor, data, houses)
    with tempfile.TemporaryDirectory(prefix="hp-bench-") as folder:
        entries = torch_candidates(checkpoint, torchscript, x_batch, test)
        entries += runtime_candidates(model, x_batch, test)
        entries += numpy_candidates(model, x_batch, test)
        entries += litert_candidates(model, x_batch, test)
        pte, pte_cold_ms = pte_row(model, x_batch, settings.cold_runs, Path(folder))
        entries.append(pte)
        entries += floor_candidates(model, checkpoint, x_batch)
        entries.append(c_candidate(checkpoint, x_batch, Path(folder)))
        entries.append(unfused_candidate(x_batch))
        measure_side_by_side([e for e in entries if isinstance(e, Candidate)], x_batch, settings)
        report.rows = [e.row if isinstance(e, Candidate) else e for e in entries]
        compare_to_floor(report.rows)
        report.graph = graph_facts(model, len(predictor.feature_names))
        if settings.cold_runs:
            report.cold_start_ms = cold_start(
                model,
                torchscript,
                predictor.feature_names,
                x_batch,
                settings.cold_runs,
                Path(folder),
            )
        if settings.scale_rows:
            report.scale = scale(
                model,
                predictor.feature_names,
                houses,
                settings.scale_rows,
                Path(folder),
                settings.scale_runs,
            )
        if pte_cold_ms is not None:
            report.cold_start_ms[PTE_COLD] = pte_cold_ms
    report.targets = evaluate_targets(report)
    return report
