"""What every houseprice CLI shares: exit codes and the one-line error.

Standard library only at import time: hp-infer uses this without typer (see runtime/cli.py).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

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
EXIT_SERVER = 7  # hp-serve: its worker processes kept dying right after starting
# 128 + signal number when interrupted: 130 for SIGINT (Ctrl-C), 143 for SIGTERM.

# The torch build every install path here takes first (requirements/torch.txt): any other torch
# requirement makes pip download a multi-GB CUDA build. A test checks the two agree.
PINNED_TORCH = "torch==2.13.0"
# Extras that pull torch, and so need the pinned build installed before them.
_TORCH_EXTRAS = frozenset({"train", "export", "executorch", "litert"})


def fail(prog: str, message: str, code: int) -> NoReturn:
    """Print ``prog: error: message`` on one line of stderr and exit with ``code``."""
    one_line = " ".join(str(message).split())
    sys.stderr.write(f"{prog}: error: {one_line}\n")
    sys.stderr.flush()
    raise SystemExit(code)


def usage_fail(prog: str, message: str) -> NoReturn:
    """A usage error found after parsing (a value that parsed but makes no sense): one line
    ending as every usage error does, and exit 2."""
    fail(prog, f"{message} (see {prog} --help)", EXIT_USAGE)


def fail_with(prog: str, exc: Exception) -> NoReturn:
    """One line and the documented exit code for a typed runtime error (InputError and
    WorkerError 1, ModelError 3, OutputError 5, MissingDependencyError 6)."""
    from houseprice.core.errors import (
        InputError,
        MissingDependencyError,
        ModelError,
        OutputError,
        WorkerError,
    )

    codes = {  # most specific first: a MissingDependencyError is a ModelError
        MissingDependencyError: EXIT_MISSING_EXTRA,
        InputError: EXIT_INPUT,
        WorkerError: EXIT_INPUT,
        ModelError: EXIT_MODEL,
        OutputError: EXIT_OUTPUT,
    }
    code = next(code for kind, code in codes.items() if isinstance(exc, kind))
    fail(prog, str(exc), code)


def cpu_count() -> int:
    """CPUs this process may run on (its affinity mask, which containers and taskset narrow)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def worker_count(text: str) -> int:
    """argparse type: a process count from 1 to 4 per CPU (beyond that, processes only take
    turns on the same cores)."""
    limit = 4 * cpu_count()
    if not text.isdigit() or not 1 <= int(text) <= limit:
        raise argparse.ArgumentTypeError(f"{text!r} is not a worker count (1-{limit})")
    return int(text)


def warn(prog: str, message: str) -> None:
    sys.stderr.write(f"{prog}: warning: {message}\n")


def note(prog: str, message: str) -> None:
    """A line on stderr that changes nothing, e.g. that an old spelling has a new name."""
    sys.stderr.write(f"{prog}: note: {message}\n")


def install_command(*extras: str) -> str:
    """The pip command that adds ``extras``, as the README installs: from the project's own
    folder (houseprice is installed from its checkout, not from a package index), the pinned
    torch first where an extra pulls torch."""
    install = f"pip install '.[{','.join(extras)}]'"
    if _TORCH_EXTRAS.intersection(extras):
        install = f"pip install {PINNED_TORCH} && {install}"
    return install


def missing_extra(prog: str, module: str, extra: str) -> NoReturn:
    fail(
        prog,
        f"{module} is not installed; install it with `{install_command(extra)}` in the "
        "houseprice checkout",
        EXIT_MISSING_EXTRA,
    )


def require_installed(prog: str, extra: str, *modules: str) -> None:
    """Exit 6 as `require_extra` does if a module's package is not installed, without importing
    it: for a command that checks its input before paying the extra's seconds of import."""
    import importlib.util

    for module in modules:
        package = module.partition(".")[0]  # a submodule's spec would import its package
        if importlib.util.find_spec(package) is None:
            missing_extra(prog, package, extra)


def require_extra(prog: str, extra: str, *modules: str) -> None:
    """Import each module (so a command fails before any work), or exit 6 naming the one that is
    missing and the `pip install` of the extra that brings it."""
    import importlib

    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            missing_extra(prog, exc.name or module, extra)


class OneLineParser(argparse.ArgumentParser):
    """argparse, with usage errors as one line like every other houseprice error, and an unknown
    option named first (argparse would complain of missing arguments before it)."""

    def error(self, message: str) -> NoReturn:
        fail(self.prog, f"{message} (see {self.prog} --help)", EXIT_USAGE)

    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:  # type: ignore[override]
        given = sys.argv[1:] if args is None else list(args)
        for arg in given:
            if arg == "--":
                break
            name = arg.split("=", 1)[0]
            known = self._option_string_actions
            # argparse also takes an unambiguous prefix of a long option
            if arg.startswith("--") and not any(option.startswith(name) for option in known):
                self.error(f"unrecognized arguments: {arg}")
        return super().parse_args(given, namespace)


def echo(prog: str, text: str) -> None:
    """Print a line on stdout; a stdout that cannot take it (a full disk, closed) is one line
    on stderr and exit 5, not a traceback."""
    out = require_stdout(prog)
    try:
        out.write(text + "\n")
        out.flush()
    except OSError as exc:
        stdout_failed(prog, exc)


def require_stdout(prog: str) -> TextIO:
    """sys.stdout, or exit 5 with one line if the process was started with it closed."""
    if sys.stdout is None:
        fail(prog, "cannot write to stdout: it is closed", EXIT_OUTPUT)
    return sys.stdout


def stdout_failed(prog: str, exc: OSError) -> NoReturn:
    silence_stdout()
    fail(prog, f"cannot write to stdout: {exc.strerror or exc}", EXIT_OUTPUT)


def silence_stdout() -> None:
    """Point stdout at /dev/null: Python flushes it again at exit, which must not fail too."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def usage_error_type(typer: Any) -> type[Exception]:
    """click's UsageError (a bad flag, a bad value, a missing argument), which typer 0.26-0.28
    vendors without exporting it. It is the base of the public ``typer.BadParameter``; should a
    typer release change that, ``BadParameter`` itself still catches the bad values."""
    base = typer.BadParameter.__mro__[1]
    return base if base.__name__ == "UsageError" else typer.BadParameter


def typer_app() -> typer.Typer:
    """The app every typer command starts from: no shell-completion flags, and no rich
    tracebacks (errors are one line, printed by `run_app`)."""
    import typer

    return typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)


def run_app(app: typer.Typer, prog: str) -> None:
    """Run a typer app, printing usage errors as one line instead of click's framed box.

    SIGINT and SIGTERM unwind through the command's cleanup (temp files removed, nothing
    half-written), then exit with 128 + the signal's number and one line on stderr."""
    import typer

    from houseprice.core.errors import Interrupted
    from houseprice.core.signals import raise_on_signals

    raise_on_signals()
    _UsageError = usage_error_type(typer)
    try:
        code = app(prog_name=prog, standalone_mode=False)
    except _UsageError as exc:
        message = exc.format_message()  # type: ignore[attr-defined]
        sys.stderr.write(f"{prog}: error: {' '.join(message.split())} (see {prog} --help)\n")
        raise SystemExit(EXIT_USAGE) from None
    except Interrupted as exc:
        sys.stderr.write(f"{prog}: interrupted; nothing written\n")
        raise SystemExit(exc.exit_code) from None
    except (typer.Abort, KeyboardInterrupt):
        sys.stderr.write(f"{prog}: interrupted; nothing written\n")
        raise SystemExit(130) from None
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except OSError as exc:
        stdout_failed(prog, exc)
    raise SystemExit(code if isinstance(code, int) else EXIT_OK)
