"""Facts about the exported graph itself: its node count, and how much of it the mobile execution
providers take, as onnxruntime's own checker reports with the batch fixed to one house.

Needs onnx (the `export` extra) for the count; onnxruntime's tools do the rest. Every fact is None
where it could not be found, so its target reads "not measured".
"""

from __future__ import annotations

import io
import logging
import re
import tempfile
from pathlib import Path

# (report key, the checker's section): NNAPI is Android's, CoreML MLProgram Apple's current one.
PROVIDERS = (("nnapi", "NNAPI"), ("coreml_mlprogram", "CoreML MLProgram"))
_TAKEN = re.compile(r"(\d+) partitions with a total of (\d+)/(\d+) nodes can be handled")


def graph_facts(model: Path, n_features: int) -> dict[str, int | None]:
    facts: dict[str, int | None] = {"nodes": _node_count(model)}
    report = _checker_report(model, n_features) if facts["nodes"] else ""
    for key, section in PROVIDERS:
        taken = _section_counts(report, section)
        facts[f"{key}_partitions"], facts[f"{key}_nodes_left"] = taken
    return facts


def _node_count(model: Path) -> int | None:
    try:
        import onnx

        return len(onnx.load(model).graph.node)
    except Exception:  # no onnx (a runtime-only install), or an ORT-format file: no count
        return None


def _checker_report(model: Path, n_features: int) -> str:
    """The checker's text on the model with a batch of one (mobile EPs need fixed shapes); empty
    if it cannot run (an ORT-format file, a model with other I/O names). In this process, as
    onnxruntime's `make_dynamic_shape_fixed` and `check_onnx_model_mobile_usability` scripts
    do it: two more Python processes cost seconds of imports for a second of work."""
    try:
        import onnx
        from onnxruntime.tools.mobile_helpers import usability_checker
        from onnxruntime.tools.onnx_model_utils import fix_output_shapes, make_input_shape_fixed
    except ImportError:
        return ""
    text = io.StringIO()
    logger = logging.getLogger("houseprice.bench.graph")
    handler = logging.StreamHandler(text)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # the report is read, not shown
    try:
        with tempfile.TemporaryDirectory(prefix="hp-bench-graph-") as folder:
            fixed = onnx.load(model)
            make_input_shape_fixed(fixed.graph, "features", [1, n_features])
            fix_output_shapes(fixed)
            onnx.save(fixed, Path(folder) / "fixed.onnx")
            usability_checker.analyze_model(Path(folder) / "fixed.onnx", False, logger)
    except Exception:  # any file the checker cannot take: the facts read "not measured"
        return ""
    finally:
        logger.removeHandler(handler)
    return text.getvalue()


def _section_counts(report: str, section: str) -> tuple[int | None, int | None]:
    """(partitions, nodes the provider leaves to the CPU) from the checker's section."""
    parts = report.split(f"Checking {section}\n")
    if len(parts) < 2:
        return None, None
    found = _TAKEN.search(parts[1].split("Checking ")[0])
    if found is None:
        return None, None
    partitions, taken, total = (int(g) for g in found.groups())
    return partitions, total - taken
