"""The targets hp-bench judges a report by."""

from __future__ import annotations

from typing import Any

from houseprice.bench.records import (
    COLD_BARE,
    COLD_INFER,
    COLD_TORCH,
    EAGER,
    NUMPY_ARRAY,
    RUNTIME_ARRAY,
    RUNTIME_DICT,
    UNFUSED_RUN,
    Report,
    Row,
)

# Every target, always reported (measured None when its rows were not measured, e.g. without
# torch), found by the row constants above, never by retyped labels: a renamed row cannot drop one.
# (id, label, op, bound). Ratios are measured side by side in one run, so load from elsewhere
# hits both sides; ABSOLUTE lists the ones that are not (memory, and the graph's structure).
TARGETS = (
    ("dict_vs_eager", "single house, predict(dict) p50 / eager p50", "<=", 1.0),
    ("array_vs_eager", "single house, predict_array p50 / eager p50", "<=", 0.6),
    ("batch_vs_eager", "batch: runtime / eager houses/s", ">=", 1.2),
    ("infer_vs_torch_process", "hp-infer process / torch process", "<=", 0.15),
    ("infer_vs_bare_import", "hp-infer process / bare onnxruntime+numpy import", "<=", 1.3),
    ("jsonl_vs_json_loads", "JSON Lines: hp-infer houses/s / a bare json.loads loop's", ">=", 1.5),
    ("jsonl_peak_mb", "JSON Lines peak memory (MB)", "<=", 300),
    # The runtime against the fixed unfused yardstick file, the graph, mixed-shape lines.
    ("array_vs_unfused_run", "1 house, predict_array p50 / unfused session.run", "<=", 0.8),
    ("dict_vs_unfused_run", "1 house, predict(dict) p50 / unfused session.run", "<=", 1.3),
    ("batch_vs_unfused_run", "batch: predict_array / unfused session.run houses/s", ">=", 2.2),
    ("onnx_nodes", "ONNX nodes in the model", "<=", 10),
    ("nnapi_nodes_left", "nodes NNAPI leaves to the CPU (batch of 1)", "<=", 0),
    ("nnapi_partitions", "NNAPI partitions (batch of 1)", "<=", 1),
    ("coreml_nodes_left", "nodes CoreML MLProgram leaves to the CPU", "<=", 0),
    ("coreml_partitions", "CoreML MLProgram partitions (batch of 1)", "<=", 1),
    (
        "jsonl_mixed_vs_json_loads",
        "JSON Lines in 3 mixed shapes: hp-infer / json.loads loop",
        ">=",
        1.4,
    ),
    # The numpy backend (model.npz) against onnxruntime, timed round-robin in the same run.
    ("numpy_vs_onnx_one", "1 house, numpy predict_array p50 / onnxruntime's", "<=", 1.0),
    ("numpy_vs_onnx_batch", "batch: numpy predict_array / onnxruntime's houses/s", ">=", 0.65),
)


# Not ratios: bytes of memory, and counts of the graph's nodes and partitions (facts of the file).
ABSOLUTE = frozenset(
    {
        "jsonl_peak_mb",
        "onnx_nodes",
        "nnapi_nodes_left",
        "nnapi_partitions",
        "coreml_nodes_left",
        "coreml_partitions",
    }
)


def evaluate_targets(report: Report) -> list[dict[str, Any]]:
    measured = _target_values(report)
    return [
        {
            **target(key, label, measured.get(key), op, bound),
            "kind": "absolute" if key in ABSOLUTE else "ratio",
        }
        for key, label, op, bound in TARGETS
    ]


def target(key: str, label: str, measured: float | None, op: str, bound: float) -> dict[str, Any]:
    """One target as every hp-bench report gives it: whether it is met follows from the bound."""
    return {
        "id": key,
        "target": label,
        "measured": measured,
        "bound": f"{op} {bound:g}",
        "met": _met(measured, op, bound),
    }


def _met(value: float | None, op: str, bound: float) -> bool | None:
    """None when not measured; else whether the value is within the bound."""
    if value is None:
        return None
    return value <= bound if op == "<=" else value >= bound


def _target_values(report: Report) -> dict[str, float | None]:
    rows = {r.name: r for r in report.rows if r.status == "ok"}
    eager, mapping, array = rows.get(EAGER), rows.get(RUNTIME_DICT), rows.get(RUNTIME_ARRAY)
    unfused, numpy = rows.get(UNFUSED_RUN), rows.get(NUMPY_ARRAY)
    cold, scale, graph = report.cold_start_ms, report.scale or {}, report.graph or {}
    return {
        "dict_vs_eager": _ratio(mapping, eager, "p50_us"),
        "array_vs_eager": _ratio(array, eager, "p50_us"),
        "batch_vs_eager": _ratio(array, eager, "houses_per_s"),
        "infer_vs_torch_process": _share(cold, COLD_INFER, COLD_TORCH),
        "infer_vs_bare_import": _share(cold, COLD_INFER, COLD_BARE),
        "jsonl_vs_json_loads": _divide(
            scale.get("houses_per_s"), scale.get("bare_json_loads_houses_per_s")
        ),
        "jsonl_peak_mb": scale.get("peak_rss_mb"),
        "array_vs_unfused_run": _ratio(array, unfused, "p50_us"),
        "dict_vs_unfused_run": _ratio(mapping, unfused, "p50_us"),
        "batch_vs_unfused_run": _ratio(array, unfused, "houses_per_s"),
        "onnx_nodes": graph.get("nodes"),
        "nnapi_nodes_left": graph.get("nnapi_nodes_left"),
        "nnapi_partitions": graph.get("nnapi_partitions"),
        "coreml_nodes_left": graph.get("coreml_mlprogram_nodes_left"),
        "coreml_partitions": graph.get("coreml_mlprogram_partitions"),
        "jsonl_mixed_vs_json_loads": _divide(
            scale.get("mixed_shapes_houses_per_s"), scale.get("bare_json_loads_mixed_houses_per_s")
        ),
        "numpy_vs_onnx_one": _ratio(numpy, array, "p50_us"),
        "numpy_vs_onnx_batch": _ratio(numpy, array, "houses_per_s"),
    }


def _share(values: dict[str, float], top: str, bottom: str) -> float | None:
    return _divide(values.get(top), values.get(bottom))


def _ratio(a: Row | None, b: Row | None, attr: str) -> float | None:
    return _divide(getattr(a, attr, None), getattr(b, attr, None))


def _divide(top: float | None, bottom: float | None) -> float | None:
    """top / bottom, or None when either was not measured (or the bottom is 0)."""
    if top is None or not bottom:
        return None
    return top / bottom
