"""`hp-export`: parse flags, call export_model, print the parity table. Nothing more."""

from __future__ import annotations

import math
from enum import Enum
from pathlib import Path

import typer

from houseprice.core import cli as common
from houseprice.core import defaults
from houseprice.export.config import ARITHMETIC
from houseprice.export.formats import FORMATS

PROG = "hp-export"
EXTRA = ("onnx", "onnxscript", "torch")  # what the `export` extra brings
app = common.typer_app()


# The choices come from the one table of formats (cheap to import: no torch until a build).
Format = Enum("Format", {name: name for name in [*FORMATS, "all"]}, type=str)  # type: ignore[misc]
Arith = Enum("Arith", {name: name for name in ARITHMETIC}, type=str)  # type: ignore[misc]
FORMAT_HELP = "; ".join(f"{f.name}: {f.help}" for f in FORMATS.values()) + "; or all."


@app.command(
    help="Export a checkpoint to model files and source, each gated on parity with PyTorch."
)
def export(
    format: Format = typer.Option("onnx", "--format", "-f", help=FORMAT_HELP),
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
    arith: Arith = typer.Option(
        "float32",
        "--arith",
        help="The c format's arithmetic: float32, or integers only (int16 or int8 weights, "
        "Q16.16 features and price) for microcontrollers without an FPU.",
    ),
) -> None:
    # Flags first: a usage error needs no torch (seconds of import).
    if not math.isfinite(atol):
        common.usage_fail(PROG, f"--atol must be a finite number, got {atol}")
    if arith.value != "float32" and format.value not in ("c", "all"):
        common.usage_fail(
            PROG, f"--arith {arith.value} applies to the c format, not {format.value}"
        )
    common.require_installed(PROG, "export", *EXTRA)  # named first, found without importing
    from houseprice.train.checkpoint_file import CheckpointError, require_checkpoint_file

    try:  # no checkpoint (hp-export before hp-train) needs no torch either
        require_checkpoint_file(checkpoint)
    except CheckpointError as exc:
        common.fail(PROG, str(exc), common.EXIT_MODEL)
    common.require_extra(PROG, "export", *EXTRA)
    from houseprice.export import errors
    from houseprice.export.api import export_model, installed_formats
    from houseprice.export.config import ExportConfig
    from houseprice.export.report import format_parity

    formats = [format.value]
    if format.value == "all":
        formats, skipped = installed_formats()
        for fmt in skipped:
            common.note(
                PROG,
                f"skipped {fmt.name}: {fmt.missing_package()} is not installed "
                f"({fmt.install_hint()})",
            )
    codes = {  # by type, most specific first
        errors.MissingToolError: common.EXIT_MISSING_EXTRA,
        errors.ParityError: common.EXIT_PARITY,
        errors.ExportOutputError: common.EXIT_OUTPUT,
        errors.ExportUsageError: common.EXIT_USAGE,
        errors.ConversionError: common.EXIT_MODEL,
        CheckpointError: common.EXIT_MODEL,
    }
    config = ExportConfig(opset=opset, atol=atol, arith=arith.value)
    try:
        artifacts = export_model(checkpoint, out, formats, config)
    except tuple(codes) as exc:
        if isinstance(exc, errors.ParityError) and exc.results:
            common.echo(PROG, format_parity(exc.results))  # the table, the failing row last
        common.fail(PROG, str(exc), next(c for kind, c in codes.items() if isinstance(exc, kind)))
    common.echo(PROG, format_parity([a.parity for a in artifacts]))
    for artifact in artifacts:
        for path, data in artifact.files.items():
            common.echo(PROG, f"wrote {path} ({len(data):,} bytes)")
    common.echo(PROG, f"wrote {out / 'manifest.json'}")


def main() -> None:
    common.run_app(app, PROG)
