"""`houseprice_model.mjs`: an ES module with no dependencies, gated by running it in node."""

from __future__ import annotations

from contextlib import ExitStack

from houseprice.export.formats.base import Built, ExportFormat, Job


def _build(job: Job, stack: ExitStack) -> Built:
    from houseprice.export.js_source import export_js
    from houseprice.export.npz_export import fused_arrays
    from houseprice.export.source_gate import js_forward

    data = export_js(fused_arrays(job.fused, job.info), job.info)
    return Built(data, js_forward(stack, data))


def _check_node(config: object) -> None:
    from houseprice.export.source_gate import node

    node()


JS = ExportFormat(
    "js",
    "houseprice_model.mjs",
    "an ES module for browsers and node",
    _build,
    check_tools=_check_node,
)
