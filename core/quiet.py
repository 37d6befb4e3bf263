"""Native libraries that write to the process's stderr from C or C++ (ExecuTorch's runtime
probing the CPU, LiteRT announcing its XNNPACK delegate): a command's stderr carries its own
lines only, one line for an error. Their file descriptor 2 goes to /dev/null meanwhile."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def quiet_native_logs() -> Iterator[None]:
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
