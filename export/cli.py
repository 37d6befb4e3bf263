"""`hp-export`: parse flags, call export_model, print the parity table. Nothing more."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from houseprice.runtime.cli_support import (
    EXIT_INPUT,
    EXIT_MODEL,
    EXIT_OUTPUT,
    EXIT_PARITY,
    fail,
    missing_extra,
    run_app,
)

PROG = "hp-export"
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


class Format(str, Enum):
    onnx = "onnx"
    torchscript = "torchscript"
    all = "all"


@app.command(help="Export a checkpoint to ONNX and/or TorchScript, gated on parity with PyTorch.")
def export(
    format: Format = typer.Option(
        Format.onnx, "--format", "-f", help="onnx (the edge format), torchscript, or all."
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
    from houseprice.export.api import FORMATS, export_model
    from houseprice.export.config import ExportConfig
    from houseprice.export.errors import ExportError, ParityError
    from houseprice.export.report import format_parity
    from houseprice.train.checkpoint import CheckpointError

    formats = FORMATS if format is Format.all else (format.value,)
    try:
        artifacts = export_model(checkpoint, out, formats, ExportConfig(atol=atol))
    except CheckpointError as exc:
        fail(PROG, str(exc), EXIT_MODEL)
    except ParityError as exc:
        fail(PROG, str(exc), EXIT_PARITY)
    except ExportError as exc:
        code = EXIT_OUTPUT if str(exc).startswith("cannot write") else EXIT_INPUT
        fail(PROG, str(exc), code)
    except OSError as exc:
        fail(PROG, f"cannot write to {out}: {exc.strerror or exc}", EXIT_OUTPUT)
    typer.echo(format_parity([a.parity for a in artifacts]))
    for artifact in artifacts:
        typer.echo(f"wrote {artifact.path} ({len(artifact.data):,} bytes)")
    typer.echo(f"wrote {out / 'manifest.json'}")


def main() -> None:
    run_app(app, PROG)
