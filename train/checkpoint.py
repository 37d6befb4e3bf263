"""Checkpoints: a plain dict of tensors and strings, loadable with weights_only=True.

Everything needed to rebuild and describe the model travels inside (nanoGPT's checkpoint-dict
habit): the weights, and the model's facts as the contract's own record (`ModelInfo`, encoded as
the metadata an exported file carries), so training and export share one list of facts.
"""

from __future__ import annotations

import io
import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from houseprice.core.errors import ModelError
from houseprice.core.files import atomic_write_bytes
from houseprice.runtime.contract import CONTRACT_VERSION, PREFIX, ModelInfo
from houseprice.train.checkpoint_file import CheckpointError, require_checkpoint_file
from houseprice.train.config import ConfigError, TrainConfig
from houseprice.train.model import PriceMLP

# 2: the facts as ModelInfo metadata; 1 (still read): the same facts as separate keys.
CHECKPOINT_FORMAT = 2
_FORMAT_1_FACTS = (
    "feature_names",
    "feature_min",
    "feature_max",
    "target_name",
    "target_unit",
    "data_sha256",
    "package_version",
    "config",
)
# No weight of a model trained on standardized data comes near this; a checkpoint holding one is
# damaged (its prices would overflow float32 long before the parity gate could say why).
ABSURD_WEIGHT = 1e10


@dataclass(frozen=True)
class TrainedModel:
    """A model with everything known about its training: the facts an export will carry (its
    ``config`` is ``info.config`` as a TrainConfig) and the data file it was trained on."""

    model: PriceMLP
    info: ModelInfo
    data_source: str

    @property
    def config(self) -> TrainConfig:
        return TrainConfig.from_dict(self.info.config)


def save_checkpoint(trained: TrainedModel, path: str | Path) -> None:
    problem = nonfinite_problem(trained.model, trained.info.metrics)
    if problem:
        raise CheckpointError(f"refusing to save a checkpoint with {problem}")
    payload = {
        "format": CHECKPOINT_FORMAT,
        "state_dict": trained.model.state_dict(),
        "info": trained.info.to_metadata(),  # strings only: what weights_only loading accepts
        "data_source": trained.data_source,
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


def weight_problem(model: torch.nn.Module) -> str | None:
    """What no trained model holds: a NaN or infinite weight, or one beyond ABSURD_WEIGHT."""
    problem = nonfinite_problem(model, {})
    if problem is not None:
        return problem
    for name, tensor in model.named_parameters():
        if tensor.is_floating_point() and bool((tensor.abs() > ABSURD_WEIGHT).any()):
            return f"absurd values in {name} (beyond {ABSURD_WEIGHT:g})"
    return None


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
    file = require_checkpoint_file(path)
    try:
        with warnings.catch_warnings():  # torch warns before refusing a plain pickle: one line only
            warnings.simplefilter("ignore")
            payload = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged file
        raise CheckpointError(f"{file}: not a readable checkpoint ({type(exc).__name__})") from None
    if not isinstance(payload, dict) or "format" not in payload:
        raise CheckpointError(f"{file}: not a houseprice checkpoint")
    if payload["format"] not in (1, CHECKPOINT_FORMAT):
        raise CheckpointError(
            f"{file}: checkpoint format {payload['format']} (houseprice "
            f"{_version_of(payload)}); this version reads formats 1-{CHECKPOINT_FORMAT}: "
            "retrain with `hp-train`"
        )
    try:
        return _rebuild(payload, str(file))
    except (KeyError, TypeError, ValueError, RuntimeError, ConfigError, ModelError) as exc:
        raise CheckpointError(f"{file}: damaged checkpoint ({exc})") from None


def _version_of(payload: dict[str, Any]) -> str:
    info = payload.get("info")
    found = info.get(PREFIX + "package_version") if isinstance(info, dict) else None
    return str(found or payload.get("package_version", "?"))


def _rebuild(payload: dict[str, Any], source: str) -> TrainedModel:
    metadata = payload["info"] if payload["format"] == CHECKPOINT_FORMAT else _format_1(payload)
    info = ModelInfo.from_metadata(metadata, source)
    config = TrainConfig.from_dict(info.config)  # a config this version cannot run is damage
    model = PriceMLP(info.n_features, config.hidden, config.members, config.log_target)
    model.load_state_dict(payload["state_dict"])
    problem = weight_problem(model)
    if problem is not None:
        raise ValueError(problem)
    model.eval()
    return TrainedModel(model, info, payload["data_source"])


def _format_1(payload: dict[str, Any]) -> dict[str, str]:
    """A format-1 checkpoint's separate keys as the metadata record that replaced them."""
    values = {key: payload[key] for key in _FORMAT_1_FACTS}
    metadata = {PREFIX + k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
    metadata[PREFIX + "metrics"] = payload["metrics_json"]
    metadata[PREFIX + "contract_version"] = str(CONTRACT_VERSION)
    return metadata
