"""`model.npz`: the fused weights and the metadata for the numpy backend (numpy alone)."""

from __future__ import annotations

from contextlib import ExitStack

from houseprice.export.formats.base import Built, ExportFormat, Job


def _build(job: Job, stack: ExitStack) -> Built:
    from houseprice.export.formats.onnx import _runtime_built
    from houseprice.export.npz_export import export_npz

    built = _runtime_built(export_npz(job.fused, job.info), "NPZ", {}, job)
    return Built(built.data, built.forward)  # no opset: an npz is no ONNX graph


NPZ = ExportFormat(
    "npz", "model.npz", "numpy alone, where onnxruntime has no wheel (32-bit ARM, musl)", _build
)
