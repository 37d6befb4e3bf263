"""The parity gate: exported graphs must predict what the eager module predicts.

Inputs: the training data file's rows, seeded random houses over an interval ten times the training
range, and the random houses again in batches of 1, 2, 7 and 1024. Shapes are checked before values
(Optimum's validate_model_outputs habit); a failure names the worst input and can dump everything
needed to reproduce it (sklearn-onnx's habit).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from houseprice.export.config import ExportConfig
from houseprice.export.errors import ParityError
from houseprice.runtime.contract import ModelInfo

Forward = Callable[[np.ndarray], np.ndarray]  # (batch, n_features) float32 -> (batch,) float32


@dataclass(frozen=True)
class ParityResult:
    format: str
    n_inputs: int
    max_abs: float
    max_rel: float
    worst_input: tuple[float, ...]
    worst_expected: float
    worst_got: float
    passed: bool

    def to_dict(self) -> dict[str, object]:
        return {
            "n_inputs": self.n_inputs,
            "max_abs_diff": self.max_abs,
            "max_rel_diff": self.max_rel,
            "passed": self.passed,
        }


def eager_forward(module: Callable[[Any], Any]) -> Forward:
    """A torch module as a Forward: float32 rows in, its output as numpy, no gradients."""
    import torch

    def forward(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return module(torch.from_numpy(x)).numpy()

    return forward


def parity_inputs(
    info: ModelInfo, config: ExportConfig, data_rows: np.ndarray | None
) -> np.ndarray:
    """(n, n_features) float32: the data rows (when given) then seeded random rows."""
    low, high = np.asarray(info.feature_min), np.asarray(info.feature_max)
    middle, half = (low + high) / 2, np.maximum(high - low, 1e-6) * config.random_span / 2
    rng = np.random.default_rng(config.seed)
    random_rows = rng.uniform(middle - half, middle + half, size=(config.random_rows, len(low)))
    parts = [random_rows] if data_rows is None else [data_rows, random_rows]
    return np.concatenate(parts).astype(np.float32)


def check_parity(
    name: str, reference: Forward, candidate: Forward, inputs: np.ndarray, config: ExportConfig
) -> ParityResult:
    """Compare on all inputs at once and on the configured batch sizes; never raises on values."""
    expected = reference(inputs)
    got = _run_checked(name, candidate, inputs)
    offset = 0
    for size in config.batch_sizes:  # the same rows again, cut into batches of each size
        rows = inputs[offset : offset + size]
        got_batch = _run_checked(name, candidate, rows)
        expected = np.concatenate([expected, reference(rows)])
        got = np.concatenate([got, got_batch])
        offset += size
    all_inputs = np.concatenate([inputs, inputs[:offset]])
    return _compare(name, expected, got, all_inputs, config)


def _run_checked(name: str, forward: Forward, x: np.ndarray) -> np.ndarray:
    out = np.asarray(forward(x))
    if out.shape != (len(x),):
        raise ParityError(
            f"{name}: output shape {out.shape} for a batch of {len(x)}, expected ({len(x)},)"
        )
    return out


def _compare(
    name: str, expected: np.ndarray, got: np.ndarray, inputs: np.ndarray, config: ExportConfig
) -> ParityResult:
    e, g = expected.astype(np.float64), got.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(g - e)
        # Equal infinities (an exp() overflowing in both) agree; NaN never does.
        diff = np.where((e == g) & np.isinf(e), 0.0, diff)
        diff = np.where(np.isnan(diff), np.inf, diff)
        rel = diff / np.maximum(np.abs(e), np.finfo(np.float32).tiny)
        excess = diff - (config.atol + config.rtol * np.abs(e))
    worst = int(np.argmax(excess))
    return ParityResult(
        format=name,
        n_inputs=len(inputs),
        max_abs=float(diff.max()),
        max_rel=float(rel.max()),
        worst_input=tuple(float(v) for v in inputs[worst]),
        worst_expected=float(e[worst]),
        worst_got=float(g[worst]),
        passed=bool(excess[worst] <= 0),
    )


def rmse_problem(
    name: str, reference: Forward, candidate: Forward, job: Any, ratio: float
) -> str | None:
    """None if ``candidate``'s RMSE on the training rows is at most ``ratio`` times PyTorch's;
    else the failure, naming both figures. (No training data beside the checkpoint: no check.)"""
    if job.rows is None:
        return None
    rows = job.rows.astype(np.float32)
    target = np.asarray(job.targets, dtype=np.float64)
    ours = float(np.sqrt(np.mean((candidate(rows).astype(np.float64) - target) ** 2)))
    theirs = float(np.sqrt(np.mean((reference(rows).astype(np.float64) - target) ** 2)))
    if ours <= ratio * theirs:
        return None
    return (
        f"{name}: RMSE {ours:.4g} on the training rows, {ours / theirs:.4f}x PyTorch's "
        f"{theirs:.4g} (at most {ratio:g}x)"
    )


def failure_message(result: ParityResult, info: ModelInfo, config: ExportConfig) -> str:
    house = ", ".join(
        f"{n}={v:g}" for n, v in zip(info.feature_names, result.worst_input, strict=True)
    )
    return (
        f"{result.format} disagrees with PyTorch: max abs diff {result.max_abs:.3g}, max rel diff "
        f"{result.max_rel:.3g} (tolerance {config.atol:g} + {config.rtol:g}*|price|); worst input "
        f"{{{house}}}: PyTorch {result.worst_expected:.6g}, {result.format} {result.worst_got:.6g}"
    )


def dump_failure(
    folder: Path,
    result: ParityResult,
    inputs: np.ndarray,
    expected: np.ndarray,
    model_bytes: bytes,
    suffix: str,
) -> Path:
    """Leave what a person needs to reproduce a failed gate: inputs, PyTorch output, the model."""
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "inputs.npy", inputs)
    np.save(folder / "expected.npy", expected)
    (folder / f"rejected{suffix}").write_bytes(model_bytes)
    (folder / "result.json").write_text(
        json.dumps(
            {
                **result.to_dict(),
                "format": result.format,
                "worst_input": list(result.worst_input),
                "worst_expected": result.worst_expected,
                "worst_got": result.worst_got,
            },
            indent=2,
        )
    )
    return folder
