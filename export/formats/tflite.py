"""`model.tflite`: LiteRT's flatbuffer (litert-torch), gated through the runtime's own LiteRT
engine (ai-edge-litert), the torch-free side. Needs the `litert` extra."""

from __future__ import annotations

from contextlib import ExitStack

from houseprice.export.formats.base import Built, ExportFormat, Job


def _build(job: Job, stack: ExitStack) -> Built:
    from houseprice.export.formats.onnx import _runtime_built
    from houseprice.export.tflite_export import export_tflite

    built = _runtime_built(export_tflite(job.model, job.info), "TFLite", {}, job)
    return Built(built.data, built.forward, facts={"contract": "metadata entry houseprice"})


TFLITE = ExportFormat(
    "tflite",
    "model.tflite",
    "LiteRT (TensorFlow Lite), for Android and the torch-free runtime (needs the litert extra)",
    _build,
    packages=("litert_torch", "ai_edge_litert"),
    extra="litert",
)
