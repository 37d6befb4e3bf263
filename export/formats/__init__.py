"""The export formats, one table: hp-export's `--format` choices and `all` come from it, and
`export_model` names no format. Order: the order `all` builds and the manifest lists them."""

from __future__ import annotations

from houseprice.export.formats.base import Built, ExportFormat, Forward, Gate, Job
from houseprice.export.formats.c import C
from houseprice.export.formats.js import JS
from houseprice.export.formats.npz import NPZ
from houseprice.export.formats.onnx import ONNX, ORT
from houseprice.export.formats.pte import PTE
from houseprice.export.formats.tflite import TFLITE
from houseprice.export.formats.torchscript import TORCHSCRIPT

FORMATS: dict[str, ExportFormat] = {
    f.name: f for f in (ONNX, TORCHSCRIPT, ORT, NPZ, C, JS, PTE, TFLITE)
}

__all__ = ["FORMATS", "Built", "ExportFormat", "Forward", "Gate", "Job"]
