"""What every houseprice CLI shares: exit codes and the one-line error.

Standard library only at import time: hp-infer uses this without typer (see runtime/cli.py).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    import typer

# Exit codes, the same across hp-train, hp-export, hp-infer and hp-bench (documented in README).
EXIT_OK = 0
EXIT_INPUT = 1  # the data or houses given are invalid
EXIT_USAGE = 2  # a bad flag or argument (typer/click's own code)
EXIT_MODEL = 3  # model or checkpoint missing, unreadable or incompatible
EXIT_PARITY = 4  # hp-export: an exported graph disagrees with PyTorch; nothing written
EXIT_OUTPUT = 5  # the output location cannot be written
EXIT_MISSING_EXTRA = 6  # an optional dependency is not installed


def fail(prog: str, message: str, code: int) -> NoReturn:
    """Print ``prog: error: message`` on one line of stderr and exit with ``code``."""
    one_line = " ".join(str(message).split())
    sys.stderr.write(f"{prog}: error: {one_line}\n")
    sys.stderr.flush()
    raise SystemExit(code)


def warn(prog: str, message: str) -> None:
    sys.stderr.write(f"{prog}: warning: {message}\n")


def missing_extra(prog: str, module: str, extra: str) -> NoReturn:
    fail(
        prog,
        f"{module} is not installed; install it with `pip install 'houseprice[{extra}]'`",
        EXIT_MISSING_EXTRA,
    )


def run_app(app: typer.Typer, prog: str) -> None:
    """Run a typer app, printing usage errors as one line instead of click's framed box."""
    import typer

    # typer vendors click; its UsageError (bad flag, bad value, missing argument) is the base of
    # the public typer.BadParameter, which keeps this independent of typer's private layout.
    _UsageError = typer.BadParameter.__bases__[0]
    try:
        code = app(prog_name=prog, standalone_mode=False)
    except _UsageError as exc:
        message = exc.format_message()  # type: ignore[attr-defined]
        sys.stderr.write(f"{prog}: error: {' '.join(message.split())} (see {prog} --help)\n")
        raise SystemExit(EXIT_USAGE) from None
    except typer.Abort:
        sys.stderr.write(f"{prog}: interrupted\n")
        raise SystemExit(130) from None
    raise SystemExit(code if isinstance(code, int) else EXIT_OK)
