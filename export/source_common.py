"""What the C and JavaScript source exports share: exact float32 literals and the model's facts
as comment lines."""

from __future__ import annotations

import json

import numpy as np

from houseprice.runtime.contract import ModelInfo


def float32_literal(value: float) -> str:
    """The shortest decimal that reads back as exactly this float32 (C and JS alike)."""
    return np.format_float_scientific(np.float32(value), unique=True, trim="0", exp_digits=1)


def float32_list(values: np.ndarray, per_line: int, indent: str, suffix: str = "") -> str:
    """``values`` as comma-separated literals, ``per_line`` to a line."""
    literals = [float32_literal(v) + suffix for v in np.asarray(values).reshape(-1)]
    lines = [
        indent + ", ".join(literals[i : i + per_line]) for i in range(0, len(literals), per_line)
    ]
    return ",\n".join(lines)


def facts(info: ModelInfo) -> list[str]:
    """The model's facts, one per line, for a comment block at the top of a source file."""
    split = "test" if "test" in info.metrics else "train"
    scores = info.metrics.get(split) or {}
    rmse = f", {split} RMSE {scores['rmse']:.3f}" if "rmse" in scores else ""
    lines = [
        f"Target: {json.dumps(info.target_name)}, in {json.dumps(info.target_unit)}{rmse}.",
        f"Features, in this order ({info.n_features}), raw units, with their training ranges:",
    ]
    names = [json.dumps(name) for name in info.feature_names]  # no newline can end a comment
    width = max(len(name) for name in names)
    for name, low, high in zip(names, info.feature_min, info.feature_max, strict=True):
        lines.append(f"  {name:<{width}}  [{low:g}, {high:g}]")
    lines += [
        f"Training data SHA-256: {info.data_sha256}",
        f"houseprice {info.package_version}, exported {info.exported_at or '(unknown)'}.",
    ]
    return lines
