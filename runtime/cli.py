"""`hp-infer`: predict prices from a file or stdin with an exported model. Torch-free and light.

Built on argparse, not typer like the other commands: hp-infer's start-up is part of every
prediction, and importing typer alone costs ~80 ms next to ~220 ms for onnxruntime and numpy
(measured with hyperfine; README, Performance). numpy and onnxruntime load inside the command.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import BinaryIO, NoReturn

from houseprice.runtime._version import __version__
from houseprice.runtime.cli_support import (
    EXIT_INPUT,
    EXIT_MODEL,
    EXIT_OK,
    EXIT_OUTPUT,
    EXIT_USAGE,
    fail,
    warn,
)

PROG = "hp-infer"
# Output is held here (memory first, then disk) until every house has passed validation, so an
# invalid house late in a large file leaves stdout empty rather than half-written.
SPOOL_BYTES = 8 * 1024 * 1024

DESCRIPTION = """\
Predict house prices. INPUT is a JSON object (one house), a JSON array of objects, JSON Lines
(one object per line) or a CSV file with a header row, or - for stdin. Each house maps every
feature name (case-insensitive) to a number. Prices come out in the model's target unit:
$1000s (MEDV) for the bundled model. Output mirrors the input: {"price": ...}, an array of
those, JSON Lines, or the CSV with a price column appended."""

EPILOG = """\
exit codes: 0 ok (warnings may be printed), 1 invalid input, 2 bad usage,
            3 model missing or not a houseprice export, 5 output not writable"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, like every other houseprice error, instead of usage text plus the message.
        fail(PROG, f"{message} (see {PROG} --help)", EXIT_USAGE)


def _number(kind: type, low: float, what: str):  # type: ignore[no-untyped-def]
    def parse(text: str):  # type: ignore[no-untyped-def]
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{text} is below {low}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG, description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument(
        "input", nargs="?", metavar="INPUT", help="houses to price: a file path, or - for stdin"
    )
    parser.add_argument(
        "-m",
        "--model",
        type=Path,
        default=Path("artifacts/model.onnx"),
        help="exported .onnx model [%(default)s]",
    )
    parser.add_argument(
        "--format",
        dest="fmt",
        choices=("json", "jsonl", "csv"),
        help="input format; default: detected from the name and content",
    )
    parser.add_argument(
        "-o", "--output", type=Path, help="write prices here (atomically) instead of stdout"
    )
    parser.add_argument(
        "--coerce", action="store_true", help='accept numbers written as JSON strings, like "0.5"'
    )
    parser.add_argument(
        "--margin",
        type=_number(float, 0.0, "a number"),
        default=0.1,
        help="warn when a value lies beyond the training range by more than this share of it [%(default)s]",
    )
    parser.add_argument(
        "--threads",
        type=_number(int, 1, "a whole number"),
        default=1,
        help="onnxruntime intra-op threads [%(default)s]",
    )
    parser.add_argument(
        "-j",
        "--jobs",
        type=_number(int, 0, "a whole number"),
        default=0,
        help="processes for JSON Lines inputs longer than one chunk (16,384 lines); 0: one per CPU [%(default)s]",
    )
    parser.add_argument(
        "--describe",
        action="store_true",
        help="print the model's metadata (features, ranges, metrics) and exit",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} (houseprice) {__version__}")
    return parser


def run(args: argparse.Namespace) -> None:
    from houseprice.runtime.errors import InputError, ModelError
    from houseprice.runtime.predictor import Predictor
    from houseprice.runtime.readers import Format

    if args.input is None and not args.describe:
        fail(
            PROG,
            "missing INPUT: a JSON, JSON Lines or CSV file of houses, or - for stdin",
            EXIT_USAGE,
        )
    try:
        predictor = Predictor.load(args.model, threads=args.threads)
    except ModelError as exc:
        fail(PROG, str(exc), EXIT_MODEL)
    if args.describe:
        from houseprice.runtime.describe import describe_model

        print(describe_model(predictor.info, args.model))
        return
    from houseprice.runtime.infer import infer_stream

    fmt = Format(args.fmt) if args.fmt else None
    jobs = args.jobs or os.cpu_count() or 1
    try:
        with _open_input(args.input) as (source, name), _open_output(args.output) as sink:
            summary = infer_stream(predictor, source, name, sink, fmt=fmt, coerce=args.coerce,
                                   margin=args.margin, jobs=jobs)  # fmt: skip
    except InputError as exc:
        fail(PROG, str(exc), EXIT_INPUT)
    for report in summary.out_of_range:
        warn(PROG, report.message())


@contextmanager
def _open_input(input: str) -> Iterator[tuple[BinaryIO, str]]:
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
def _open_output(output: Path | None) -> Iterator[BinaryIO]:
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
    from houseprice.runtime.files import Spool

    with Spool(SPOOL_BYTES) as spool:
        yield spool  # type: ignore[misc]
        try:
            _copy_to_stdout(spool.rewind())
        except BrokenPipeError:
            # The reader left early (`hp-infer big.jsonl | head`): stop quietly, as cat does.
            # Later writes to stdout (Python's own flush at exit) must not fail again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise SystemExit(EXIT_OUTPUT) from None


def _copy_to_stdout(spool: BinaryIO) -> None:
    out = sys.stdout.buffer
    while block := spool.read(1024 * 1024):
        view = memoryview(block)
        while view:  # a write may be short (a pipe closing under it): the next one raises
            view = view[out.write(view) :]
    out.flush()


def main(argv: Sequence[str] | None = None) -> None:
    run(build_parser().parse_args(argv))


def console_main() -> NoReturn:
    """The ``hp-infer`` command: `main`, then an immediate exit. Tearing down onnxruntime and
    numpy at interpreter exit takes ~50 ms, a fifth of a one-house run, to free memory the OS
    frees anyway. By then every file is closed; stdout and stderr are flushed here."""
    try:
        main()
        code = EXIT_OK
    except SystemExit as exc:
        code = _exit_code(exc)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # e.g. the reader of a pipe went away
        code = code or EXIT_OUTPUT
    os._exit(code)


def _exit_code(exc: SystemExit) -> int:
    """The status Python itself would exit with for this SystemExit."""
    if exc.code is None or isinstance(exc.code, int):
        return exc.code or EXIT_OK
    sys.stderr.write(f"{exc.code}\n")
    return 1
