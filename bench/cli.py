"""`hp-bench`: one table across formats, the cold-start and scale figures, and the speed targets."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from houseprice.core import cli as common
from houseprice.core import defaults

PROG = "hp-bench"
app = common.typer_app()


@app.command(
    help="Benchmark PyTorch eager, TorchScript and the ONNX runtime side by side, one thread each."
)
def bench(
    model: Path = typer.Option(defaults.MODEL, "--model", help="Exported ONNX model."),
    checkpoint: Path = typer.Option(
        defaults.CHECKPOINT, "--checkpoint", help="Checkpoint (PyTorch eager row)."
    ),
    torchscript: Path = typer.Option(
        None, "--torchscript", help="TorchScript file [MODEL's folder/model.torchscript.pt]."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the report as JSON instead of tables."
    ),
    quick: bool = typer.Option(
        False, "--quick", help="Tiny sizes: checks that everything runs, not how fast."
    ),
    data: Path = typer.Option(
        None,
        "--data",
        help="Houses to time (UCI layout or CSV with header) [the bundled Boston data].",
    ),
    target: str = typer.Option(
        None, "--target", help="DATA's target column [the model's; MEDV in the bundled data]."
    ),
    serve: bool = typer.Option(
        False, "--serve", help="Benchmark hp-serve against a bare reference app with wrk instead."
    ),
    seconds: int = typer.Option(5, "--seconds", min=1, help="--serve: seconds per wrk run."),
    workers: int = typer.Option(
        None, "--workers", min=1, help="--serve: processes per server [one per CPU]."
    ),
    batch: bool = typer.Option(
        False, "--batch", help="Benchmark hp-batch against hp-infer --jobs 2 instead (dask extra)."
    ),
    batch_rows: int = typer.Option(
        10_000_000, "--batch-rows", min=1000, help="--batch: houses generated [10,000,000]."
    ),
    mcu: bool = typer.Option(
        False,
        "--mcu",
        help="Run the C export on emulated Cortex-M4F, M3 and M0 boards (qemu-system-arm) instead.",
    ),
    scale_rows: int = typer.Option(
        None,
        "--scale-rows",
        min=0,
        help="Houses in the JSON Lines scale test (0 skips) [1,000,000].",
    ),
) -> None:
    from dataclasses import replace

    from houseprice.bench.measure import QUICK, BenchSettings, run
    from houseprice.bench.report import format_report
    from houseprice.core.errors import ModelError
    from houseprice.data import DataError

    if batch:
        _bench_batch(model, batch_rows, as_json)
        return
    if mcu:
        _bench_mcu(model, checkpoint, quick, as_json)
        return
    if serve:
        _bench_serve(model, seconds, workers or len(os.sched_getaffinity(0)), as_json)
        return
    settings = QUICK if quick else BenchSettings()
    if scale_rows is not None:
        settings = replace(settings, scale_rows=scale_rows)
    torchscript = torchscript or model.parent / "model.torchscript.pt"
    try:
        report = run(model, checkpoint, torchscript, settings, data, target)
    except ModelError as exc:
        common.fail(PROG, str(exc), common.EXIT_MODEL)
    except DataError as exc:
        common.fail(PROG, str(exc), common.EXIT_INPUT)
    common.echo(PROG, json.dumps(report.to_dict(), indent=2) if as_json else format_report(report))


def _bench_serve(model: Path, seconds: int, workers: int, as_json: bool) -> None:
    common.require_extra(PROG, "serve", "starlette", "uvicorn")
    from houseprice.bench.serve import format_serve, run_serve_bench
    from houseprice.core.errors import ModelError
    from houseprice.runtime.predictor import Predictor

    try:
        predictor = Predictor.load(model)
    except ModelError as exc:
        common.fail(PROG, str(exc), common.EXIT_MODEL)
    info = predictor.info
    house = {
        n: (lo + hi) / 2
        for n, lo, hi in zip(info.feature_names, info.feature_min, info.feature_max, strict=True)
    }
    try:
        report = run_serve_bench(model, house, seconds=seconds, workers=workers)
    except RuntimeError as exc:
        common.fail(PROG, str(exc), common.EXIT_MISSING_EXTRA)
    common.echo(PROG, json.dumps(report, indent=2) if as_json else format_serve(report))


def _bench_batch(model: Path, rows: int, as_json: bool) -> None:
    common.require_extra(PROG, "dask", "distributed", "pyarrow")
    from houseprice.bench.batch import format_batch, run_batch_bench
    from houseprice.core.errors import ModelError
    from houseprice.runtime.predictor import Predictor

    try:
        Predictor.load(model)
    except ModelError as exc:
        common.fail(PROG, str(exc), common.EXIT_MODEL)
    report = run_batch_bench(model, rows)
    common.echo(PROG, json.dumps(report, indent=2) if as_json else format_batch(report))


def _bench_mcu(model: Path, checkpoint: Path, quick: bool, as_json: bool) -> None:
    common.require_extra(PROG, "export", "torch", "onnx")
    from houseprice.bench.mcu import format_mcu, run_mcu_bench
    from houseprice.core.errors import ModelError
    from houseprice.data import load_dataset
    from houseprice.export.errors import ExportError, MissingToolError, ParityError
    from houseprice.mcu import McuToolError
    from houseprice.mcu.build import tool
    from houseprice.mcu.run import QEMU_PACKAGES
    from houseprice.train.checkpoint import CheckpointError

    try:  # the tools first: no export is worth making without them
        tool("arm-none-eabi-gcc")
        tool("qemu-system-arm", QEMU_PACKAGES)
    except McuToolError as exc:
        common.fail(PROG, str(exc), common.EXIT_MISSING_EXTRA)
    houses = load_dataset().features.astype("float32")
    codes = {  # by type, most specific first
        ParityError: common.EXIT_PARITY,
        MissingToolError: common.EXIT_MISSING_EXTRA,
        McuToolError: common.EXIT_MISSING_EXTRA,
        ExportError: common.EXIT_MODEL,
        ModelError: common.EXIT_MODEL,
        CheckpointError: common.EXIT_MODEL,
    }
    try:
        rows = run_mcu_bench(model, checkpoint, houses[:16] if quick else houses)
    except tuple(codes) as exc:
        common.fail(PROG, str(exc), next(c for kind, c in codes.items() if isinstance(exc, kind)))
    common.echo(PROG, json.dumps(rows, indent=2) if as_json else format_mcu(rows))


def main() -> None:
    common.run_app(app, PROG)
