"""`hp-infer --describe`: the model's metadata as a readable page."""

from __future__ import annotations

import json
from pathlib import Path

from houseprice.runtime.contract import INPUT_NAME, OUTPUT_NAME, ModelInfo


def describe_model(info: ModelInfo, path: Path) -> str:
    unit = f" ({info.target_unit})" if info.target_unit else ""
    lines = [
        f"model        {path}",
        f"predicts     {info.target_name}{unit}",
        f"input        {INPUT_NAME!r}: float32 (batch, {info.n_features}), columns in the order below",
        f"output       {OUTPUT_NAME!r}: float32 (batch,)",
        f"trained on   data sha256 {info.data_sha256}",
        f"houseprice   {info.package_version}, exported {info.exported_at}",
        "",
        f"{'feature':<12}{'training min':>14}{'training max':>14}",
    ]
    for name, low, high in zip(info.feature_names, info.feature_min, info.feature_max, strict=True):
        lines.append(f"{name:<12}{low:>14.6g}{high:>14.6g}")
    test = info.metrics.get("test")
    if isinstance(test, dict):
        figures = ", ".join(f"{k.upper()} {v:.3f}" for k, v in test.items() if isinstance(v, float))
        lines += ["", f"test metrics {figures} ({info.metrics.get('n_test', '?')} held-out rows)"]
    lines += ["", "config       " + json.dumps(info.config, sort_keys=True)]
    return "\n".join(lines)
