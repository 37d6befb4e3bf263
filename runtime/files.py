"""Atomic file writes (a temp file in the target's folder, renamed over it only when complete), and
a spool that holds output back until a run has succeeded.

tempfile is imported only where a temp file is made: a one-house `hp-infer` never pays for it.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def atomic_open(path: str | Path) -> Iterator[BinaryIO]:
    """Open a temp file beside ``path`` for binary writing; it replaces ``path`` only on success."""
    import tempfile

    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        # mkstemp makes 0600 files; give the result the mode a plain open() would have.
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_open(path) as handle:
        handle.write(data)


def atomic_write_with(path: str | Path, write: Callable[[BinaryIO], object]) -> None:
    """Let ``write`` fill a file object that becomes ``path`` only if it returns without error."""
    with atomic_open(path) as handle:
        write(handle)


class Spool:
    """A write-then-read buffer: memory up to ``limit`` bytes, then an anonymous temp file.
    (tempfile.SpooledTemporaryFile does the same, but importing tempfile costs ~5 ms, a tenth of
    what hp-infer adds to a one-house run.)"""

    def __init__(self, limit: int):
        self.limit = limit
        self._file: BinaryIO = io.BytesIO()
        self.on_disk = False

    def write(self, data: bytes) -> int:
        if not self.on_disk and self._file.tell() + len(data) > self.limit:
            import tempfile

            disk = tempfile.TemporaryFile()  # noqa: SIM115  (closed by close())
            disk.write(self._file.getvalue())
            self._file, self.on_disk = disk, True
        return self._file.write(data)

    def rewind(self) -> BinaryIO:
        """The file holding everything written, positioned at its start."""
        self._file.seek(0)
        return self._file

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
