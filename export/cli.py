"""`hp-export`: parse flags, call export_model, print the parity table. Nothing more."""

from __future__ import annotations

import math
from enum import Enum
from pathlib import Path

import typer

from houseprice.core.cli import (
    EXIT_MODEL,
    EXIT_OUTPUT,
    EXIT_PARITY,
    EXIT_USAGE,
    echo,
    fail,
    missing_extra,
    run_app,
)

PROG = "hp-export"
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


class Format(str, Enum):
    onnx = "onnx"
    torchscript = "torchscript"
    ort = "ort"
    all = "all"


@app.command(help="Export a checkpoint to ONNX and/or TorchScript, gated on parity with PyTorch.")
def export(
    format: Format = typer.Option(
        Format.onnx,
        "--format",
        "-f",
        help="onnx (the edge format), torchscript, ort (ORT format for mobile and reduced builds), or all.",
    ),
    checkpoint: Path = typer.Option(
        Path("artifacts/checkpoint.pt"), "--checkpoint", help="Checkpoint written by hp-train."
    ),
    out: Path = typer.Option(Path("artifacts"), "--out", help="Output folder."),
    atol: float = typer.Option(
        1e-4, "--atol", min=0.0, help="Parity gate: absolute tolerance, in the target's unit."
    ),
) -> None:
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        missing_extra(PROG, exc.name or "torch", "export")
    from houseprice.export import errors
    from houseprice.export.api import FORMATS, export_model
    from houseprice.export.config import ExportConfig
    from houseprice.export.report import format_parity
    from houseprice.train.checkpoint import CheckpointError

    if not math.isfinite(atol):
        fail(PROG, f"--atol must be a finite number, got {atol}", EXIT_USAGE)
    formats = FORMATS if format is Format.all else (format.value,)
    codes = {  # by type, most specific first
        errors.ParityError: EXIT_PARITY,
        errors.ExportOutputError: EXIT_OUTPUT,
        errors.ExportUsageError: EXIT_USAGE,
        errors.ConversionError: EXIT_MODEL,
        CheckpointError: EXIT_MODEL,
    }
    try:
        artifacts = export_model(checkpoint, out, formats, ExportConfig(atol=atol))
    except tuple(codes) as exc:
        fail(PROG, str(exc), next(c for kind, c in codes.items() if isinstance(exc, kind)))
    echo(PROG, format_parity([a.parity for a in artifacts]))
    for artifact in artifacts:
        for path, data in artifact.files.items():
            echo(PROG, f"wrote {path} ({len(data):,} bytes)")
    echo(PROG, f"wrote {out / 'manifest.json'}")


def main() -> None:
    run_app(app, PROG)
