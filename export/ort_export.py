"""ONNX bytes -> an ORT-format model and its required-operators config, for onnxruntime's mobile
packages and reduced-size builds (`--include_ops_by_config`). Uses onnxruntime's own converter."""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path

from houseprice.export.errors import ConversionError

CONFIG_NAME = "required_operators.config"


def export_ort(onnx_bytes: bytes) -> tuple[bytes, bytes]:
    """(ORT-format model, required_operators.config text), converted with the 'Runtime' style:
    the graph keeps plain ONNX operators, so NNAPI or CoreML can still take its nodes, and the
    CPU provider's fusions, if any, are saved to be replayed at load. (The 'Fixed' style would
    bake in contrib operators such as com.microsoft FusedGemm, which no mobile provider runs.)"""
    from onnxruntime.tools.convert_onnx_models_to_ort import (
        OptimizationStyle,
        convert_onnx_models_to_ort,
    )

    with tempfile.TemporaryDirectory(prefix="hp-export-ort-") as folder:
        source = Path(folder) / "model.onnx"
        source.write_bytes(onnx_bytes)
        said = io.StringIO()  # the converter prints its progress; keep hp-export's output ours
        try:
            with contextlib.redirect_stdout(said), _quiet():
                convert_onnx_models_to_ort(source, optimization_styles=[OptimizationStyle.Runtime])
        except Exception as exc:  # the converter raises many types
            raise ConversionError(
                f"ORT-format conversion failed: {type(exc).__name__}: {exc}"
            ) from exc
        model = Path(folder) / "model.with_runtime_opt.ort"
        config = Path(folder) / "model.required_operators.with_runtime_opt.config"
        if not model.is_file() or not config.is_file():
            last = (said.getvalue().strip().splitlines() or ["no output"])[-1]
            raise ConversionError(f"ORT-format conversion failed: {last}")
        return model.read_bytes(), _without_paths(config.read_text()).encode()


def _without_paths(config: str) -> str:
    """The config names the converted files by their temporary path in comments: name the
    model by its published name instead, so the same model gives the same config."""
    lines = [line for line in config.splitlines() if line.strip() and not line.startswith("#")]
    return "\n".join(["# Generated from model/s:", "# - model.ort", *lines]) + "\n"


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The converter's INFO log lines (temporary paths) off for the conversion."""
    logging.disable(logging.INFO)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)
