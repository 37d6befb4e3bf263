"""Atomic file writes (temp files in the target's folder, renamed over the targets only when every
one is complete), and a spool that holds output back until a run has succeeded.

Every failure to write is an `OutputError` naming the destination: a full disk, a read-only
folder, a destination that is a directory or a device. tempfile is imported only where a temp
file is made: a one-house `hp-infer` never pays for it.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import stat
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import BinaryIO

from houseprice.core.errors import OutputError
from houseprice.core.reading import FileTooLargeError, NotRegularFileError


def unreadable(file: Path, exc: OSError, *, missing: str, kind: str) -> str:
    """The one line for a file that cannot be read: ``missing`` says what to do when it is not
    there, ``kind`` what a directory given in its place is not ("a model file")."""
    if isinstance(exc, FileNotFoundError):
        return f"{file}: {missing}"
    if isinstance(exc, IsADirectoryError):
        return f"{file}: is a directory, not {kind}"
    if isinstance(exc, NotRegularFileError):  # strerror says what it is: "a FIFO"
        return f"{file}: is {exc.strerror}, not {kind}"
    if isinstance(exc, FileTooLargeError):
        return f"{file}: {exc.strerror}, too large for {kind}"
    return f"{file}: cannot read ({exc.strerror})"


def check_destination(path: str | os.PathLike[str]) -> Path:
    """The destination as a Path, or OutputError if a file there could never be replaced by ours:
    an empty name, a name ending in a separator, or anything but a regular file (a directory, a
    device such as /dev/full, a FIFO). A symlink to a regular file is fine: rename replaces it."""
    text = os.fspath(path)
    if not text:
        raise OutputError("cannot write to an empty file name")
    if text.endswith(("/", os.sep)):
        raise OutputError(f"cannot write {text}: a file name is needed, not a folder")
    target = Path(text)
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        return target
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
        raise OutputError(f"cannot write {target}: it is {kind}")
    return target


@contextmanager
def atomic_open(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A temp file beside ``path`` for binary writing; it replaces ``path`` only on success."""
    with _staged(check_destination(path)) as (handle, commit):
        yield handle
        commit()


def atomic_write_many(files: Mapping[Path, bytes]) -> None:
    """Write every file or none: all contents go to temp files first (where a full disk shows),
    then they are renamed over their targets one after the other, with SIGINT and SIGTERM held.
    The files they replace are kept aside until the last rename has succeeded: if one fails,
    those already renamed are put back, so a reader finds the whole old set or the whole new one."""
    from houseprice.core.signals import signals_held

    targets = [check_destination(path) for path in files]
    with ExitStack() as stack:
        commits = []
        for target, data in zip(targets, files.values(), strict=True):
            handle, commit = stack.enter_context(_staged(target))
            handle.write(data)
            commits.append(commit)
        if len(commits) == 1:  # one rename is atomic by itself
            commits[0]()
            return
        with signals_held():
            _commit_all(targets, commits)


def _commit_all(targets: list[Path], commits: list[Callable[[], None]]) -> None:
    """Run each commit (a rename over its target) with the file it replaces kept aside (a hard
    link, or a copy where links are not possible); on an error the replaced files go back and
    the targets that had none are removed, then the error goes on. On success the copies go."""
    done: list[tuple[Path, Path | None]] = []
    try:
        for target, commit in zip(targets, commits, strict=True):
            aside = _keep_aside(target)
            try:
                commit()
            except BaseException:
                if aside is not None:
                    aside.unlink(missing_ok=True)
                raise
            done.append((target, aside))
    except BaseException:
        for target, aside in reversed(done):
            with contextlib.suppress(OSError):
                if aside is None:
                    target.unlink(missing_ok=True)
                else:
                    os.replace(aside, target)
        raise
    for _, aside in done:
        if aside is not None:
            with contextlib.suppress(OSError):
                aside.unlink()


def _keep_aside(target: Path) -> Path | None:
    """A second name for the file at ``target`` (None if there is none), unique to this call: two
    writers replacing the same set at once each keep and restore their own."""
    import secrets
    import shutil

    if not target.exists():
        return None
    while True:
        aside = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.previous")
        try:
            os.link(target, aside)
            return aside
        except FileExistsError:
            continue
        except OSError:  # no hard links here, or the file refuses them: a copy does the same
            break
    try:
        copy = open(aside, "xb")  # noqa: SIM115 (closed below; removed if the copy fails)
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from None
    try:
        with copy, open(target, "rb") as original:
            shutil.copyfileobj(original, copy)
        shutil.copystat(target, aside)
    except OSError as exc:
        aside.unlink(missing_ok=True)
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from None
    return aside


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    atomic_write_many({Path(path): data})


def atomic_write_with(path: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> None:
    """Let ``write`` fill a file object that becomes ``path`` only if it returns without error."""
    with atomic_open(path) as handle:
        write(handle)


@contextmanager
def _staged(target: Path) -> Iterator[tuple[BinaryIO, Callable[[], None]]]:
    """A temp file beside ``target`` and a commit() that flushes, syncs and renames it; the temp
    file is removed if the block ends without commit, whatever ends it (an error, a signal)."""
    import tempfile

    try:
        prefix = f".{target.name}.{os.getpid()}."  # the writer's pid: sweep_leftovers reads it
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from None
    committed = False
    try:
        # mkstemp makes 0600 files: give the result the mode the file it replaces had, or else
        # the mode a plain open() would give a new file.
        os.fchmod(fd, _mode_for(target))
        with os.fdopen(fd, "wb") as raw:
            handle = _GuardedWriter(raw, target)

            def commit() -> None:
                nonlocal committed
                handle.finish()
                _replace(tmp, target)
                committed = True

            yield handle, commit  # type: ignore[misc]
    finally:
        if not committed:
            Path(tmp).unlink(missing_ok=True)


def _mode_for(target: Path) -> int:
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:
        return 0o666 & ~_umask()


def _replace(tmp: str, target: Path) -> None:
    check_destination(target)  # it may have become a directory while we worked
    try:
        os.replace(tmp, target)
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from None


class _GuardedWriter(io.RawIOBase):
    """A binary file whose write failures (a full disk, an I/O error) are OutputErrors."""

    def __init__(self, raw: BinaryIO, target: Path):
        super().__init__()
        self._raw, self._target = raw, target

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        try:
            return self._raw.write(data)
        except OSError as exc:
            raise OutputError(f"cannot write {self._target}: {exc.strerror or exc}") from None

    def finish(self) -> None:
        try:
            self._raw.flush()
            os.fsync(self._raw.fileno())
        except OSError as exc:
            raise OutputError(f"cannot write {self._target}: {exc.strerror or exc}") from None


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


class Spool:
    """A write-then-read buffer: memory up to ``limit`` bytes, then an anonymous temp file.
    (tempfile.SpooledTemporaryFile does the same, but importing tempfile costs ~5 ms, a tenth of
    what hp-infer adds to a one-house run.)"""

    def __init__(self, limit: int):
        self.limit = limit
        self._file: BinaryIO = io.BytesIO()
        self.on_disk = False

    def write(self, data: bytes) -> int:
        try:
            if not self.on_disk and self._file.tell() + len(data) > self.limit:
                self._spill()
            return self._file.write(data)
        except OSError as exc:
            raise _spool_error(exc) from None

    def _spill(self) -> None:
        import tempfile

        disk = tempfile.TemporaryFile()  # noqa: SIM115  (closed by close())
        disk.write(self._file.getvalue())
        self._file, self.on_disk = disk, True

    def rewind(self) -> BinaryIO:
        """The file holding everything written, positioned at its start."""
        try:
            self._file.seek(0)  # flushes what a disk spool still buffers: it may fail here
        except OSError as exc:
            raise _spool_error(exc) from None
        return self._file

    def close(self) -> None:
        # A failed flush here is of output that is not going anywhere: an error was raised.
        with contextlib.suppress(OSError):
            self._file.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _spool_error(exc: OSError) -> OutputError:
    return OutputError(
        f"cannot hold the output in a temporary file ({exc.strerror or exc}); "
        "set TMPDIR to a folder with space, or write with -o FILE"
    )


_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[^.]+\.(?:tmp|previous)$")


def sweep_leftovers(folder: Path, names: set[str]) -> list[Path]:
    """Remove the temp and kept-aside files that a writer of one of ``names`` in ``folder`` left
    when it was killed (its pid, in the name, no longer runs); a live writer's, and anything
    else, stay. The paths removed."""
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for path in entries:
        match = _LEFTOVER.match(path.name)
        if match is None or match["name"] not in names or process_alive(int(match["pid"])):
            continue
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(path)
    return removed


def process_alive(pid: int) -> bool:
    """Whether a process of this pid runs (or may: one we may not signal counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        pass  # someone else's process, or no number a pid can be: not ours to judge, leave it
    return True
