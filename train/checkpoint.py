"""Checkpoints: a plain dict of tensors, strings and numbers, loadable with weights_only=True.

Everything needed to rebuild and describe the model travels inside: the config, feature names,
training ranges, data hash, metrics and package version (nanoGPT's checkpoint-dict habit).
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from houseprice.runtime._version import __version__
from houseprice.runtime.files import atomic_write_bytes
from houseprice.train.config import ConfigError, TrainConfig
from houseprice.train.model import PriceMLP

CHECKPOINT_FORMAT = 1


class CheckpointError(ValueError):
    """A checkpoint is missing, damaged, or from an incompatible version."""


@dataclass(frozen=True)
class TrainedModel:
    """A model with everything known about its training."""

    model: PriceMLP
    config: TrainConfig
    feature_names: tuple[str, ...]
    feature_min: tuple[float, ...]
    feature_max: tuple[float, ...]
    target_name: str
    target_unit: str
    data_sha256: str
    data_source: str
    metrics: dict[str, Any]
    package_version: str = __version__


def save_checkpoint(trained: TrainedModel, path: str | Path) -> None:
    problem = nonfinite_problem(trained.model, trained.metrics)
    if problem:
        raise CheckpointError(f"refusing to save a checkpoint with {problem}")
    payload = {
        "format": CHECKPOINT_FORMAT,
        "state_dict": trained.model.state_dict(),
        "config": trained.config.to_dict(),
        "feature_names": list(trained.feature_names),
        "feature_min": list(trained.feature_min),
        "feature_max": list(trained.feature_max),
        "target_name": trained.target_name,
        "target_unit": trained.target_unit,
        "data_sha256": trained.data_sha256,
        "data_source": trained.data_source,
        # JSON text keeps nested metrics to types weights_only loading accepts.
        "metrics_json": json.dumps(trained.metrics),
        "package_version": trained.package_version,
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def nonfinite_problem(model: torch.nn.Module, metrics: dict[str, Any]) -> str | None:
    """What is NaN or infinite in a model's weights and buffers or its metrics, or None."""
    for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            return f"non-finite values in {name}"
    bad = [key for key, value in _numbers(metrics) if not math.isfinite(value)]
    return f"non-finite metrics {', '.join(bad)}" if bad else None


def _numbers(values: Any, prefix: str = "") -> list[tuple[str, float]]:
    """Every number in nested dicts and lists, with a dotted path."""
    if isinstance(values, dict):
        return [p for k, v in values.items() for p in _numbers(v, f"{prefix}{k}.")]
    if isinstance(values, list):
        return [p for i, v in enumerate(values) for p in _numbers(v, f"{prefix}{i}.")]
    if isinstance(values, float):
        return [(prefix.rstrip("."), values)]
    return []


def load_checkpoint(path: str | Path) -> TrainedModel:
    file = Path(path)
    if not file.is_file():
        raise CheckpointError(f"{file}: no checkpoint there; train one with `hp-train`")
    try:
        payload = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged file
        raise CheckpointError(f"{file}: not a readable checkpoint ({type(exc).__name__})") from None
    if not isinstance(payload, dict) or "format" not in payload:
        raise CheckpointError(f"{file}: not a houseprice checkpoint")
    if payload["format"] != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{file}: checkpoint format {payload['format']} (houseprice "
            f"{payload.get('package_version', '?')}); this version reads format {CHECKPOINT_FORMAT}: "
            "retrain with `hp-train`"
        )
    try:
        return _rebuild(payload)
    except (KeyError, TypeError, ValueError, RuntimeError, ConfigError) as exc:
        raise CheckpointError(f"{file}: damaged checkpoint ({exc})") from None


def _rebuild(payload: dict[str, Any]) -> TrainedModel:
    config = TrainConfig.from_dict(payload["config"])
    names = tuple(payload["feature_names"])
    model = PriceMLP(len(names), config.hidden, config.members, config.log_target)
    model.load_state_dict(payload["state_dict"])
    model.eval()
    return TrainedModel(
        model=model,
        config=config,
        feature_names=names,
        feature_min=tuple(payload["feature_min"]),
        feature_max=tuple(payload["feature_max"]),
        target_name=payload["target_name"],
        target_unit=payload["target_unit"],
        data_sha256=payload["data_sha256"],
        data_source=payload["data_source"],
        metrics=json.loads(payload["metrics_json"]),
        package_version=payload["package_version"],
    )
