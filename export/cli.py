"""`hp-export`: parse flags, call export_model, print the parity table. Nothing more."""

from __future__ import annotations

import math
from enum import Enum
from pathlib import Path

import typer

from houseprice.core import cli as common
from houseprice.core import defaults

PROG = "hp-export"
app = common.typer_app()


class Format(str, Enum):
    onnx = "onnx"
    torchscript = "torchscript"
    ort = "ort"
    npz = "npz"
    c = "c"
    js = "js"
    all = "all"


@app.command(
    help="Export a checkpoint to ONNX, TorchScript, ORT, npz, C or JavaScript, gated on parity "
    "with PyTorch."
)
def export(
    format: Format = typer.Option(
        Format.onnx,
        "--format",
        "-f",
        help="onnx (the edge format), torchscript, ort (ORT format for mobile and reduced builds), npz (numpy alone, where onnxruntime has no wheel), c (C99 source for microcontrollers), js (an ES module for browsers and node), or all.",
    ),
    checkpoint: Path = typer.Option(
        defaults.CHECKPOINT, "--checkpoint", help="Checkpoint written by hp-train."
    ),
    out: Path = typer.Option(defaults.ARTIFACTS, "--out", help="Output folder."),
    opset: int = typer.Option(
        18,
        "--opset",
        min=13,
        max=18,
        help="ONNX opset of the onnx and ort files, 13-18: lower loads in older onnxruntime.",
    ),
    atol: float = typer.Option(
        1e-4, "--atol", min=0.0, help="Parity gate: absolute tolerance, in the target's unit."
    ),
) -> None:
    common.require_extra(PROG, "export", "onnx", "onnxscript", "torch")
    from houseprice.export import errors
    from houseprice.export.api import FORMATS, export_model
    from houseprice.export.config import ExportConfig
    from houseprice.export.report import format_parity
    from houseprice.train.checkpoint import CheckpointError

    if not math.isfinite(atol):
        common.fail(PROG, f"--atol must be a finite number, got {atol}", common.EXIT_USAGE)
    formats = FORMATS if format is Format.all else (format.value,)
    codes = {  # by type, most specific first
        errors.MissingToolError: common.EXIT_MISSING_EXTRA,
        errors.ParityError: common.EXIT_PARITY,
        errors.ExportOutputError: common.EXIT_OUTPUT,
        errors.ExportUsageError: common.EXIT_USAGE,
        errors.ConversionError: common.EXIT_MODEL,
        CheckpointError: common.EXIT_MODEL,
    }
    try:
        artifacts = export_model(checkpoint, out, formats, ExportConfig(opset=opset, atol=atol))
    except tuple(codes) as exc:
        common.fail(PROG, str(exc), next(c for kind, c in codes.items() if isinstance(exc, kind)))
    common.echo(PROG, format_parity([a.parity for a in artifacts]))
    for artifact in artifacts:
        for path, data in artifact.files.items():
            common.echo(PROG, f"wrote {path} ({len(data):,} bytes)")
    common.echo(PROG, f"wrote {out / 'manifest.json'}")


def main() -> None:
    common.run_app(app, PROG)
