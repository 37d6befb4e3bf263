"""`hp-infer --describe`: the model's metadata and declared signature as a readable page."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from houseprice.runtime.contract import ModelInfo

# Metadata is text from a file: control characters (an ANSI escape sequence that would recolour
# or clear the terminal) are shown escaped, never sent to the terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def describe_model(
    info: ModelInfo, path: Path, signature: dict[str, list[dict[str, Any]]], runs_on: str
) -> str:
    unit = f" ({info.target_unit})" if info.target_unit else ""
    lines = [
        f"model        {path}",
        f"runs on      {runs_on}",
        f"predicts     {info.target_name}{unit}",
        *[f"input        {_arg(a)}" for a in signature["inputs"]],
        *[f"output       {_arg(a)}" for a in signature["outputs"]],
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
    elif isinstance(info.metrics.get("note"), str):
        lines += ["", f"test metrics none: {info.metrics['note']}"]
    lines += ["", "config       " + json.dumps(info.config, sort_keys=True)]
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], "\n".join(lines))


def _arg(arg: dict[str, Any]) -> str:
    """One declared input or output as the file states it: 'features': float32 (batch, 13)."""
    kind = str(arg["type"]).removeprefix("tensor(").removesuffix(")")
    kind = {"float": "float32", "double": "float64"}.get(kind, kind)
    dims = ", ".join(str(d) for d in arg["shape"])
    return f"{arg['name']!r}: {kind} ({dims}{',' if len(arg['shape']) == 1 else ''})"
