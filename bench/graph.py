"""Facts about the exported graph itself: its node count, and how much of it the mobile execution
providers take, as onnxruntime's own checker reports with the batch fixed to one house.

Needs onnx (the `export` extra) for the count; onnxruntime's tools do the rest. Every fact is None
where it could not be found, so its target reads "not measured".
"""

from __future__ import annotations

import re
import subprocess
import sys
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
    if it cannot run (an ORT-format file, a model with other I/O names)."""
    tools = "onnxruntime.tools."
    with tempfile.TemporaryDirectory(prefix="hp-bench-graph-") as folder:
        fixed = Path(folder) / "fixed.onnx"
        steps = [
            [
                sys.executable,
                "-m",
                tools + "make_dynamic_shape_fixed",
                "--input_name",
                "features",
                "--input_shape",
                f"1,{n_features}",
                str(model),
                str(fixed),
            ],
            [sys.executable, "-m", tools + "check_onnx_model_mobile_usability", str(fixed)],
        ]
        output = ""
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, timeout=120)
            if done.returncode != 0:
                return ""
            output = done.stdout + done.stderr
    return output


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
