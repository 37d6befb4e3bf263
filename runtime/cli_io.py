"""hp-infer's input and output: the file or stdin read, and prices held back until the whole run
has succeeded (a spool for stdout, an atomic temp file for -o), then copied out."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from houseprice.core.cli import (
    EXIT_INPUT,
    EXIT_OUTPUT,
    EXIT_USAGE,
    fail,
    require_stdout,
    silence_stdout,
    stdout_failed,
)

_PROG = "hp-infer"  # the only command that uses these
# Output is held here (memory first, then disk) until every house has passed validation, so an
# invalid house late in a large file leaves stdout empty rather than half-written.
SPOOL_BYTES = 8 * 1024 * 1024


def output_path(output: str | None) -> Path | None:
    """-o's file, or None for stdout (no -o, or -o -)."""
    if output is None or output == "-":
        return None
    if not output:
        fail(_PROG, "-o needs a file name (or - for stdout)", EXIT_USAGE)
    if output.endswith(("/", os.sep)):
        fail(_PROG, f"-o {output}: a file name is needed, not a folder", EXIT_USAGE)
    return Path(output)


def refuse_overwriting_input(input: str, output: Path) -> None:
    """Writing prices over the houses they came from would lose the houses: refuse, whatever
    spelling or link leads to the same file."""
    try:
        same = os.path.samefile(input, output)
    except OSError:  # one of them does not exist (yet): they cannot be the same file
        return
    if same:
        fail(_PROG, f"-o {output} is the input file itself; write the prices elsewhere", EXIT_USAGE)


@contextmanager
def open_input(input: str) -> Iterator[tuple[BinaryIO, str]]:
    if input == "-":
        if sys.stdin is None:
            fail(_PROG, "stdin is closed; name an INPUT file", EXIT_INPUT)
        yield sys.stdin.buffer, "<stdin>"
        return
    try:
        handle = open(input, "rb")  # noqa: SIM115  (closed below)
    except FileNotFoundError:
        fail(_PROG, f"{input}: no such file", EXIT_INPUT)
    except IsADirectoryError:
        fail(_PROG, f"{input}: is a directory", EXIT_INPUT)
    except OSError as exc:
        fail(_PROG, f"{input}: cannot read ({exc.strerror})", EXIT_INPUT)
    with handle:
        yield handle, input


@contextmanager
def open_output(output: Path | None) -> Iterator[BinaryIO]:
    """A sink that reaches stdout (or ``output``) only if the whole run succeeds."""
    if output is not None:
        from houseprice.core.files import atomic_open

        with atomic_open(output) as sink:
            yield sink
        return
    from houseprice.core.files import Spool

    with Spool(SPOOL_BYTES) as spool:
        yield spool  # type: ignore[misc]
        copy_to_stdout(spool.rewind())


def copy_to_stdout(spool: BinaryIO) -> None:
    """Everything in ``spool`` to stdout. A reader that left early (`hp-infer big.jsonl | head`)
    ends the run quietly with exit 5, as cat does; any other failure (a full disk, a closed
    stdout) is one line and exit 5."""
    out = require_stdout(_PROG).buffer  # `hp-infer x.json >&-` starts with stdout closed
    try:
        while block := spool.read(1024 * 1024):
            view = memoryview(block)
            while view:  # a write may be short (a pipe closing under it): the next one raises
                view = view[out.write(view) :]
        out.flush()
    except BrokenPipeError:
        silence_stdout()
        raise SystemExit(EXIT_OUTPUT) from None
    except OSError as exc:
        stdout_failed(_PROG, exc)
