"""Reading a file a user names (a model, a token, a certificate) without trusting what it is:
only a regular file is read, never a FIFO (which blocks with no writer, and streams forever
with one), a device (``/dev/zero`` never ends) or a directory, and never more than a stated
number of bytes."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO


class NotRegularFileError(OSError):
    """The path names a FIFO, a device or a socket: nothing a file's contents can come from."""


class FileTooLargeError(OSError):
    """The file holds more bytes than the caller reads."""


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """``path`` opened for binary reading if it is a regular file (a symlink to one is fine);
    IsADirectoryError for a directory, NotRegularFileError for anything else. Opened
    non-blocking, so a FIFO with no writer is refused at once instead of hanging the open."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory", os.fspath(path))
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(errno.EINVAL, _kind(mode), os.fspath(path))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | os.PathLike[str], limit: int) -> bytes:
    """The whole of a regular file of at most ``limit`` bytes; FileTooLargeError beyond it (found
    by reading one byte more, not from the size the file system reports)."""
    with open_regular(path) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise FileTooLargeError(errno.EFBIG, f"larger than {limit:,} bytes", os.fspath(Path(path)))
    return data


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a file"
