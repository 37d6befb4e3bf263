"""`hp-infer`: predict prices from a file or stdin with an exported model. Torch-free and light.

Built on argparse, not typer like the other commands: hp-infer's start-up is part of every
prediction, and importing typer alone costs ~80 ms next to ~220 ms for onnxruntime and numpy
(measured with hyperfine; README, Performance). numpy and onnxruntime load inside the command.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from houseprice.core import defaults
from houseprice.core.cli import (
    EXIT_OK,
    EXIT_OUTPUT,
    EXIT_USAGE,
    OneLineParser,
    cpu_count,
    fail,
    fail_with,
    warn,
)
from houseprice.core.version import __version__
from houseprice.runtime.cli_io import (
    copy_to_stdout,
    open_input,
    open_output,
    output_path,
    refuse_overwriting_input,
)

PROG = "hp-infer"

DESCRIPTION = """\
Predict house prices. INPUT is a JSON object (one house), a JSON array of objects, JSON Lines
(one object per line) or a CSV file with a header row, or - for stdin. Each house maps every
feature name (case-insensitive) to a number. Prices come out in the model's target unit:
$1000s (MEDV) for the bundled model. Output mirrors the input: {"price": ...}, an array of
those, JSON Lines, or the CSV with a price column appended."""

EPILOG = """\
exit codes: 0 ok (warnings may be printed), 1 invalid input, 2 bad usage,
            3 model missing or not a houseprice export, 5 output not writable,
            6 a runtime the model file needs is not installed (onnxruntime for .onnx/.ort,
              ai-edge-litert for .tflite), 130 interrupted (SIGINT),
            143 terminated (SIGTERM): nothing written"""


class _Version(argparse.Action):
    """argparse's own version action drops write errors (`--version > /dev/full` would exit 0)."""

    def __call__(self, parser, namespace, values, option_string=None):  # type: ignore[no-untyped-def]
        copy_to_stdout(io.BytesIO(f"{PROG} (houseprice) {__version__}\n".encode()))
        raise SystemExit(EXIT_OK)


def _number(kind: type, low: float, what: str):  # type: ignore[no-untyped-def]
    def parse(text: str):  # type: ignore[no-untyped-def]
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text} is not a finite number")
        if value < low:
            raise argparse.ArgumentTypeError(f"{text} is below {low}")
        return value

    return parse


def _flags() -> tuple[tuple[tuple[str, ...], dict[str, Any]], ...]:
    """Every flag but --version, with its argparse options."""
    return (
        (("input",), {"nargs": "?", "metavar": "INPUT", "help": "houses to price: a file path, or - for stdin"}),
        (("-m", "--model"), {"type": Path, "default": defaults.MODEL, "help": "exported model: .onnx, .ort or .npz [%(default)s]"}),
        (("--format",), {"dest": "fmt", "choices": ("json", "jsonl", "csv"), "help": "input format; default: detected from the name and content"}),
        (("-o", "--output"), {"help": "write prices to this file (atomically) instead of stdout; - for stdout"}),
        (("--coerce",), {"action": "store_true", "help": 'accept numbers written as JSON strings, like "0.5"'}),
        (("--margin",), {"type": _number(float, 0.0, "a number"), "default": defaults.MARGIN, "help": "warn when a value lies beyond the training range by more than this share of it [%(default)s]"}),
        (("--threads",), {"type": _number(int, 1, "a whole number"), "default": 1, "help": "onnxruntime intra-op threads, at most one per CPU [%(default)s]"}),
        (("-j", "--jobs"), {"type": _number(int, 0, "a whole number"), "default": 0, "help": "processes for JSON Lines inputs longer than one chunk (16,384 lines), at most one per CPU and per chunk; 0: one per CPU [%(default)s]"}),
        (("--describe",), {"action": "store_true", "help": "print the model's metadata (features, ranges, metrics) and exit"}),
    )  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog=PROG,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for names, options in _flags():
        parser.add_argument(*names, **options)
    parser.add_argument("--version", action=_Version, nargs=0, help="show the version and exit")
    return parser


def run(args: argparse.Namespace) -> None:
    from houseprice.core.errors import (
        InputError,
        ModelError,
        OutputError,
        WorkerError,
    )
    from houseprice.runtime.predictor import Predictor
    from houseprice.runtime.readers import Format

    if args.input is None and not args.describe:
        fail(
            PROG,
            "missing INPUT: a JSON, JSON Lines or CSV file of houses, or - for stdin",
            EXIT_USAGE,
        )
    output = output_path(args.output)
    if output is not None and args.input not in (None, "-"):
        refuse_overwriting_input(args.input, output)
    cpus = cpu_count()
    try:
        predictor = Predictor.load(args.model, threads=min(args.threads, cpus))
    except ModelError as exc:
        fail_with(PROG, exc)
    try:
        if args.describe:
            _describe(predictor, args.model, output)
            return
        from houseprice.runtime.infer import infer_stream

        fmt = Format(args.fmt) if args.fmt else None
        jobs = min(args.jobs or cpus, cpus)
        with open_input(args.input) as (source, name), open_output(output) as sink:
            summary = infer_stream(
                predictor,
                source,
                name,
                sink,
                fmt=fmt,
                coerce=args.coerce,
                margin=args.margin,
                jobs=jobs,
            )
    except (InputError, WorkerError, ModelError, OutputError) as exc:
        fail_with(PROG, exc)
    for report in summary.out_of_range:
        warn(PROG, report.message())


def _describe(predictor, model: Path, output: Path | None) -> None:  # type: ignore[no-untyped-def]
    from houseprice.runtime.describe import describe_model

    text = (
        describe_model(predictor.info, model, predictor.signature(), predictor.runs_on()) + "\n"
    ).encode()
    if output is None:
        copy_to_stdout(io.BytesIO(text))
    else:
        from houseprice.core.files import atomic_write_bytes

        atomic_write_bytes(output, text)


def main(argv: Sequence[str] | None = None) -> None:
    run(build_parser().parse_args(argv))


def console_main() -> NoReturn:
    """The ``hp-infer`` command: `main`, then an immediate exit. Tearing down onnxruntime and
    numpy at interpreter exit takes ~50 ms, a fifth of a one-house run, to free memory the OS
    frees anyway. By then every file is closed; stdout and stderr are flushed here.

    SIGINT and SIGTERM unwind like an error (temp files removed, workers stopped, nothing
    written), then exit with 128 + the signal's number and one line on stderr."""
    from houseprice.core.errors import Interrupted
    from houseprice.core.signals import raise_on_signals

    raise_on_signals()
    try:
        main()
        code = EXIT_OK
    except SystemExit as exc:
        code = _exit_code(exc)
    except (Interrupted, KeyboardInterrupt) as exc:
        code = exc.exit_code if isinstance(exc, Interrupted) else 130
        _stderr(f"{PROG}: interrupted; nothing written\n")
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except OSError as exc:  # e.g. --version > /dev/full, or the reader of a pipe went away
        if not isinstance(exc, BrokenPipeError):
            _stderr(f"{PROG}: error: cannot write to stdout: {exc.strerror or exc}\n")
        code = code or EXIT_OUTPUT
    _stderr("")
    os._exit(code)


def _stderr(text: str) -> None:
    try:
        if sys.stderr is not None:
            sys.stderr.write(text)
            sys.stderr.flush()
    except OSError:  # nowhere left to report anything
        pass


def _exit_code(exc: SystemExit) -> int:
    """The status Python itself would exit with for this SystemExit."""
    if exc.code is None or isinstance(exc.code, int):
        return exc.code or EXIT_OK
    sys.stderr.write(f"{exc.code}\n")
    return 1
