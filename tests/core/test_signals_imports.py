"""A signal during the import of a native package (torch, onnx, executorch, ...) is held until
the import is done, then raised as `Interrupted`: never lost, never an abort from C++."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

# A command's start, as `run_app` does it: the handlers in place, then a lazy import. It says
# where the signal's exception came out, and exits as the CLI layer does.
DRIVER = """
import sys, time
from houseprice.core import signals
from houseprice.core.errors import Interrupted
signals.NATIVE_PACKAGES = signals.NATIVE_PACKAGES | {{"swallower"}}
signals.raise_on_signals()
print("ready", flush=True)
try:
    import {module}
except Interrupted as exc:
    print("during import", flush=True)
    sys.exit(exc.exit_code)
try:
    print("imported", type(sys.modules["{module}"].__loader__).__name__, flush=True)
    time.sleep(20)  # a lost signal: exit 0 after this
except Interrupted as exc:
    print("after import", flush=True)
    sys.exit(exc.exit_code)
"""

# What torch.ops.load_library and torchao do between them: the signal's exception comes out of
# C++ as the library's own error, and a caller's `except` swallows it.
SWALLOWER = """
import os, signal, time
try:
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(0.5)
except BaseException:
    pass
"""


def _driver(tmp_path: Path, module: str, swallower: str = SWALLOWER) -> subprocess.Popen:
    (tmp_path / "swallower").mkdir(exist_ok=True)
    (tmp_path / "swallower" / "__init__.py").write_text(textwrap.dedent(swallower))
    return subprocess.Popen(
        [sys.executable, "-c", DRIVER.format(module=module)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_signal_a_native_import_would_swallow_is_raised_after_it(tmp_path):
    process = _driver(tmp_path, "swallower")
    out, err = process.communicate(timeout=60)
    assert (process.returncode, out) == (143, "ready\nduring import\n"), err


def test_a_held_import_keeps_its_own_loader(tmp_path):
    process = _driver(tmp_path, "swallower", swallower="")
    assert process.stdout.readline() == "ready\n"
    assert process.stdout.readline() == "imported SourceFileLoader\n"
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert (process.returncode, out) == (130, "after import\n"), err


@pytest.mark.slow
def test_sigterm_while_torch_imports_is_exit_143(tmp_path):
    """The real thing: `import torch` takes seconds of C++ and pybind11 start-up."""
    process = _driver(tmp_path, "torch")
    assert process.stdout.readline() == "ready\n"
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert (process.returncode, out) == (143, "during import\n"), err
