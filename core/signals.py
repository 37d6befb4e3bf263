"""SIGINT and SIGTERM as an exception, so long-running commands unwind through their cleanup.

By default SIGTERM ends a Python process on the spot (temp files stay, worker processes are
re-parented to init) and SIGINT raises KeyboardInterrupt with a traceback. Every houseprice command
installs `raise_on_signals` first: the signal becomes `Interrupted` in the main thread, every
``finally`` and context manager on the way out runs (temp files removed, workers stopped), and the
CLI layer turns it into one line and exit status 128 + signal number.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType, ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec

from houseprice.core.errors import Interrupted

HANDLED = (signal.SIGINT, signal.SIGTERM)
_PR_SET_PDEATHSIG = 1  # linux/prctl.h

# Packages whose import runs C++ that calls back into Python (pybind11 modules, torch's operator
# libraries). `Interrupted` raised in such a callback either aborts the process (std::terminate
# on pybind11::error_already_set, exit -6) or comes out as the library's own error, which a
# caller such as torchao swallows (the signal is lost, exit 0). Their imports run with the
# signals held: one that arrives meanwhile is raised when the import is done.
NATIVE_PACKAGES = frozenset(
    {
        "ai_edge_litert",
        "executorch",
        "jax",
        "jaxlib",
        "litert_torch",
        "onnx",
        "onnx_ir",
        "onnxruntime",
        "onnxscript",
        "tensorflow",
        "torch",
        "torchao",
    }
)


_received: list[int] = []  # signals `_raise` has turned into Interrupted, in order


def raise_on_signals() -> None:
    """Make SIGINT and SIGTERM raise `Interrupted` in the main thread (and forget signals
    received before: a command starts here)."""
    _received.clear()
    for signum in HANDLED:
        signal.signal(signum, _raise)
    if not any(isinstance(finder, _HoldNativeImports) for finder in sys.meta_path):
        sys.meta_path.insert(0, _HoldNativeImports())


def raise_if_signalled() -> None:
    """Raise `Interrupted` again if a signal has arrived. For code that calls a library which
    may catch the exception and raise its own error instead, or run a finalizer where Python
    only prints it: what came out of the library is then the signal's doing."""
    if _received:
        raise Interrupted(_received[0]) from None


def _raise(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)
    # A second signal while cleaning up gets the default action: a user pressing Ctrl-C twice
    # means "now", and cleanup must never be what keeps a process alive.
    for handled in HANDLED:
        signal.signal(handled, signal.SIG_DFL)
    raise Interrupted(signum)


@contextmanager
def signals_held(signals: tuple[signal.Signals, ...] = HANDLED) -> Iterator[None]:
    """Hold ``signals`` for the block: one that arrives meanwhile waits and is delivered (as
    `Interrupted`) when the block ends. For steps that must not be cut in two, such as putting a
    finished output in place and recording that it was."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def held_while_forking() -> contextlib.AbstractContextManager[None]:
    """Hold SIGINT and SIGTERM while worker processes are forked. A child starts with the
    parent's handlers, which would raise `Interrupted` inside multiprocessing's start-up code;
    held, a signal waits until `detach_worker` has put the child's own handlers in place (and
    in the parent, until the fork is done)."""
    return signals_held()


def detach_worker(parent: int | None = None) -> None:
    """In a worker process: leave signals to the parent, and die with it.

    The terminal sends Ctrl-C to the whole process group; the parent decides, and stops its
    workers itself. If the parent is killed outright (SIGKILL, no cleanup possible), Linux's
    parent-death signal still ends the worker instead of leaving it running under init.
    ``parent``: the pid that forked this worker, when it did so directly (fork, not forkserver).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDLED)  # held by `held_while_forking`
    if sys.platform.startswith("linux"):
        import ctypes
        import os

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: the parent's own cleanup still stops us
            pass
        # The parent may have died before prctl ran (then no signal ever comes): we are orphaned.
        if parent is not None and os.getppid() != parent:
            os._exit(1)


# importlib's protocols by duck type: importlib.abc costs hp-infer's start 30 ms.
class _HoldNativeImports:
    """A meta path finder that finds nothing itself: it gives the spec that the other finders
    find for a module of `NATIVE_PACKAGES` a loader that holds the signals while the module is
    created and run."""

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name.partition(".")[0] not in NATIVE_PACKAGES:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _HeldLoader(spec.loader)
                return spec
        return None


class _HeldLoader:
    def __init__(self, loader: Any):
        self._loader = loader

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        with signals_held():  # an extension module's C++ initialisation runs here
            return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        # The module keeps its own loader (inspect, importlib.resources and pickle ask it).
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        with signals_held():
            self._loader.exec_module(module)

    def __getattr__(self, name: str) -> object:
        return getattr(self._loader, name)
