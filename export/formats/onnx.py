"""`model.onnx` (the edge format) and `model.ort` (onnxruntime's mobile format, converted from
the same graph), both gated through the runtime's own Predictor."""

from __future__ import annotations

from contextlib import ExitStack

from houseprice.export.formats.base import Built, ExportFormat, Job, companion_fact


def _onnx_bytes(job: Job) -> bytes:
    """The ONNX graph, exported once per run (the ORT conversion starts from it too)."""
    if "onnx" not in job.shared:
        from houseprice.export.onnx_export import export_onnx

        job.shared["onnx"] = export_onnx(job.fused, job.info, job.config)
    return job.shared["onnx"]


def _runtime_built(data: bytes, kind: str, companions: dict[str, bytes], job: Job) -> Built:
    from houseprice.core.errors import ModelError
    from houseprice.export.errors import ConversionError
    from houseprice.runtime.file_versions import oldest_onnxruntime
    from houseprice.runtime.predictor import Predictor

    try:
        runtime = Predictor(data, source=f"the exported {kind} graph")  # the real runtime
    except ModelError as exc:
        raise ConversionError(f"the runtime cannot load the exported graph: {exc}") from None
    facts = {"opset": job.config.opset, "oldest_onnxruntime": oldest_onnxruntime(data)}
    if kind in ("NPZ", "TFLite"):  # no ONNX graph: no opset, no onnxruntime
        facts = {}
    # Raw outputs: the gate compares infinities and NaN as they are; the Predictor's pricing
    # methods would refuse them.
    return Built(data, runtime.predict_unchecked, companions, facts)


def _build_onnx(job: Job, stack: ExitStack) -> Built:
    return _runtime_built(_onnx_bytes(job), "ONNX", {}, job)


def _build_ort(job: Job, stack: ExitStack) -> Built:
    from houseprice.export.ort_export import CONFIG_NAME, export_ort

    data, config = export_ort(_onnx_bytes(job))
    built = _runtime_built(data, "ORT", {CONFIG_NAME: config}, job)
    facts = {**built.facts, "operators_config": companion_fact(CONFIG_NAME, config)}
    return Built(built.data, built.forward, built.companions, facts)


ONNX = ExportFormat(
    "onnx", "model.onnx", "the edge format (onnxruntime; opset by --opset)", _build_onnx
)
ORT = ExportFormat(
    "ort",
    "model.ort",
    "ORT format for onnxruntime-mobile and reduced builds, with required_operators.config",
    _build_ort,
    companions=("required_operators.config",),
)
