"""`hp-infer`: predict prices from a file or stdin with an exported model. Torch-free and light.

Only the standard library and typer load at start; numpy and onnxruntime load inside the command.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import BinaryIO

import typer

from houseprice.runtime.cli_support import (
    EXIT_INPUT,
    EXIT_MODEL,
    EXIT_OUTPUT,
    EXIT_USAGE,
    fail,
    run_app,
    warn,
)

PROG = "hp-infer"
# Output is held here (memory first, then disk) until every house has passed validation, so an
# invalid house late in a large file leaves stdout empty rather than half-written.
SPOOL_BYTES = 16 * 1024 * 1024

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)


def _version(value: bool) -> None:
    if value:
        from houseprice.runtime._version import __version__

        typer.echo(f"{PROG} (houseprice) {__version__}")
        raise typer.Exit()


@app.command(
    help="Predict house prices. INPUT is a JSON object, a JSON array of objects, JSON Lines or a "
    "CSV file with a header row (or - for stdin), each house mapping feature name to number. "
    "Prices come out in the model's target unit: $1000s (MEDV) for the bundled model. "
    "Exit codes: 0 ok, 1 invalid input, 2 bad usage, 3 model problem, 5 output not writable."
)
def infer(
    input: str | None = typer.Argument(
        None, help="Houses to price: a file path, or - for stdin.", show_default=False
    ),
    model: Path = typer.Option(
        Path("artifacts/model.onnx"), "--model", "-m", help="Exported .onnx model."
    ),
    fmt: str | None = typer.Option(
        None, "--format", help="json, jsonl or csv; default: detected from the name and content."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write prices here (atomically) instead of stdout."
    ),
    coerce: bool = typer.Option(
        False, "--coerce", help='Accept numbers written as JSON strings, like "0.5".'
    ),
    margin: float = typer.Option(
        0.1,
        "--margin",
        min=0.0,
        help="Warn when a value lies beyond the training range by more than this share of it.",
    ),
    threads: int = typer.Option(1, "--threads", min=1, help="onnxruntime intra-op threads."),
    jobs: int = typer.Option(
        0,
        "--jobs",
        "-j",
        min=0,
        help="Processes for JSON Lines inputs larger than one chunk (16,384 lines); 0: one per CPU.",
    ),
    describe: bool = typer.Option(
        False, "--describe", help="Print the model's metadata (features, ranges, metrics) and exit."
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    from houseprice.runtime.errors import InputError, ModelError
    from houseprice.runtime.predictor import Predictor
    from houseprice.runtime.readers import Format

    if fmt is not None and fmt not in {f.value for f in Format}:
        fail(PROG, f"--format must be json, jsonl or csv, got {fmt!r}", EXIT_USAGE)
    if input is None and not describe:
        fail(
            PROG,
            "missing INPUT: a JSON, JSON Lines or CSV file of houses, or - for stdin",
            EXIT_USAGE,
        )
    try:
        predictor = Predictor.load(model, threads=threads)
    except ModelError as exc:
        fail(PROG, str(exc), EXIT_MODEL)
    if describe:
        from houseprice.runtime.describe import describe_model

        typer.echo(describe_model(predictor.info, model))
        return
    try:
        summary = _run(
            predictor,
            input,
            output,
            Format(fmt) if fmt else None,
            coerce,
            margin,
            jobs or os.cpu_count() or 1,
        )
    except InputError as exc:
        fail(PROG, str(exc), EXIT_INPUT)
    for report in summary.out_of_range:
        warn(PROG, report.message())


def _run(predictor, input: str, output: Path | None, fmt, coerce: bool, margin: float, jobs: int):  # type: ignore[no-untyped-def]
    from houseprice.runtime.infer import infer_stream

    with _open_input(input) as (source, name), _open_output(output) as sink:
        return infer_stream(
            predictor, source, name, sink, fmt=fmt, coerce=coerce, margin=margin, jobs=jobs
        )


@contextmanager
def _open_input(input: str):  # type: ignore[no-untyped-def]
    if input == "-":
        yield sys.stdin.buffer, "<stdin>"
        return
    try:
        handle = open(input, "rb")  # noqa: SIM115  (closed below)
    except FileNotFoundError:
        fail(PROG, f"{input}: no such file", EXIT_INPUT)
    except IsADirectoryError:
        fail(PROG, f"{input}: is a directory", EXIT_INPUT)
    except OSError as exc:
        fail(PROG, f"{input}: cannot read ({exc.strerror})", EXIT_INPUT)
    with handle:
        yield handle, input


@contextmanager
def _open_output(output: Path | None):  # type: ignore[no-untyped-def]
    """A sink that reaches stdout (or ``output``) only if the whole run succeeds."""
    if output is not None:
        from houseprice.runtime.files import atomic_open

        with ExitStack() as stack:
            try:
                sink: BinaryIO = stack.enter_context(atomic_open(output))
            except OSError as exc:
                fail(PROG, f"cannot write {output}: {exc.strerror or exc}", EXIT_OUTPUT)
            yield sink
        return
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        yield spool
        spool.seek(0)
        shutil.copyfileobj(spool, sys.stdout.buffer, 1024 * 1024)
        sys.stdout.buffer.flush()


def main() -> None:
    run_app(app, PROG)
