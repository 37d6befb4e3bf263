"""core/files at its edges: each message word for word, the spool's exact limit, the write and
sync failures of a staged file, and which leftovers a sweep removes (only a dead writer's)."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from houseprice.core import files
from houseprice.core.errors import OutputError
from houseprice.core.files import Spool, check_destination, sweep_leftovers, unreadable
from houseprice.core.reading import FileTooLargeError, NotRegularFileError


def _os_error(kind: type[OSError], code: int) -> OSError:
    return kind(code, os.strerror(code))


@pytest.mark.parametrize(
    ("exc", "message"),
    [
        (_os_error(FileNotFoundError, errno.ENOENT), "m.onnx: run hp-export first"),
        (_os_error(IsADirectoryError, errno.EISDIR), "m.onnx: is a directory, not a model file"),
        (NotRegularFileError(errno.EINVAL, "a FIFO"), "m.onnx: is a FIFO, not a model file"),
        (
            FileTooLargeError(errno.EFBIG, "1 GB"),
            "m.onnx: 1 GB, too large for a model file",
        ),
        (_os_error(PermissionError, errno.EACCES), "m.onnx: cannot read (Permission denied)"),
    ],
)
def test_unreadable_says_what_is_wrong_in_one_line(exc, message):
    assert unreadable(Path("m.onnx"), exc, missing="run hp-export first", kind="a model file") == (
        message
    )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "cannot write to an empty file name"),
        ("out/", "cannot write out/: a file name is needed, not a folder"),
        ("/dev/null", "cannot write /dev/null: it is not a regular file"),
    ],
)
def test_a_destination_that_cannot_be_a_file_is_named_exactly(name, message):
    with pytest.raises(OutputError) as caught:
        check_destination(name)
    assert str(caught.value) == message


def test_a_directory_and_a_path_through_a_file_are_refused(tmp_path):
    with pytest.raises(OutputError) as caught:
        check_destination(tmp_path)
    assert str(caught.value) == f"cannot write {tmp_path}: it is a directory"
    (tmp_path / "plain").write_bytes(b"")
    with pytest.raises(OutputError) as caught:
        check_destination(tmp_path / "plain" / "x.json")
    assert str(caught.value) == f"cannot write {tmp_path / 'plain' / 'x.json'}: Not a directory"


def test_new_files_existing_files_and_links_to_files_are_fine(tmp_path):
    (tmp_path / "old").write_bytes(b"")
    (tmp_path / "link").symlink_to(tmp_path / "old")
    for name in ("new", "old", "link"):
        assert check_destination(str(tmp_path / name)) == tmp_path / name


def test_a_missing_folder_is_an_output_error_and_leaves_nothing(tmp_path):
    target = tmp_path / "gone" / "out.bin"
    with pytest.raises(OutputError) as caught:
        files.atomic_write_bytes(target, b"x")
    assert str(caught.value) == f"cannot write {target}: No such file or directory"
    assert os.listdir(tmp_path) == []


def test_a_failed_write_function_keeps_the_old_file(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def half(handle):
        assert handle.write(b"new, then") == 9  # the count written, as a file's write returns
        raise ValueError("the writer failed")

    with pytest.raises(ValueError, match="the writer failed"):
        files.atomic_write_with(target, half)
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["out.bin"]
    files.atomic_write_with(target, lambda handle: handle.write(b"new"))
    assert target.read_bytes() == b"new" and os.listdir(tmp_path) == ["out.bin"]


class _Failing:
    """A raw file whose writes, flushes or syncs fail as a full disk makes them fail."""

    def __init__(self, fail: str):
        self.fail = fail

    def write(self, data: bytes) -> int:
        if self.fail == "write":
            raise _os_error(OSError, errno.ENOSPC)
        return len(data)

    def flush(self) -> None:
        if self.fail == "flush":
            raise _os_error(OSError, errno.EIO)

    def fileno(self) -> int:
        raise _os_error(OSError, errno.EBADF)


def test_write_and_sync_failures_name_the_destination():
    writer = files._GuardedWriter(_Failing("write"), Path("out.json"))
    assert writer.writable()
    with pytest.raises(OutputError) as caught:
        writer.write(b"x")
    assert str(caught.value) == "cannot write out.json: No space left on device"
    with pytest.raises(OutputError) as caught:
        files._GuardedWriter(_Failing("flush"), Path("out.json")).finish()
    assert str(caught.value) == "cannot write out.json: Input/output error"
    with pytest.raises(OutputError) as caught:  # flushed, then fsync fails
        files._GuardedWriter(_Failing("none"), Path("out.json")).finish()
    assert str(caught.value) == "cannot write out.json: Bad file descriptor"


def test_a_commit_syncs_the_file_before_the_rename(tmp_path, monkeypatch):
    synced = []
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(os.fstat(fd).st_size))
    files.atomic_write_bytes(tmp_path / "out.bin", b"12345")
    assert synced == [5]


@pytest.mark.parametrize(("size", "on_disk"), [(9, False), (10, False), (11, True)])
def test_the_spool_spills_only_beyond_its_limit(size, on_disk):
    with Spool(10) as spool:
        spool.write(b"x" * (size - 1))
        spool.write(b"y")
        assert spool.on_disk is on_disk
        assert spool.rewind().read() == b"x" * (size - 1) + b"y"


def test_a_spool_that_cannot_be_read_back_says_so_and_closes_quietly(monkeypatch):
    spool = Spool(10)

    class Broken:
        def seek(self, offset):
            raise _os_error(OSError, errno.ENOSPC)

        def close(self):
            raise _os_error(OSError, errno.EIO)

    spool._file = Broken()
    with pytest.raises(OutputError) as caught:
        spool.rewind()
    assert str(caught.value) == (
        "cannot hold the output in a temporary file (No space left on device); "
        "set TMPDIR to a folder with space, or write with -o FILE"
    )
    spool.close()  # the output is going nowhere: no second error


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_sweep_removes_a_dead_writers_files_and_nothing_else(tmp_path):
    dead, alive = _dead_pid(), os.getpid()
    names = {
        f".model.onnx.{dead}.abc123.tmp": False,
        f".model.onnx.{dead}.ab12cd34.previous": False,
        f".model.onnx.{alive}.abc123.tmp": True,  # a writer still at work
        f".other.bin.{dead}.abc123.tmp": True,  # not a file of ours
        f".model.onnx.{dead}.abc123.partial": True,  # not a suffix we make
        f"model.onnx.{dead}.abc123.tmp": True,  # not hidden: not ours
        ".model.onnx.12x.abc123.tmp": True,  # no pid
        "model.onnx": True,
    }
    for name in names:
        (tmp_path / name).write_bytes(b"")
    removed = sweep_leftovers(tmp_path, {"model.onnx", "manifest.json"})
    assert sorted(p.name for p in removed) == sorted(n for n, kept in names.items() if not kept)
    assert sorted(os.listdir(tmp_path)) == sorted(n for n, kept in names.items() if kept)


def test_the_sweep_of_a_missing_folder_removes_nothing(tmp_path):
    assert sweep_leftovers(tmp_path / "gone", {"model.onnx"}) == []


def test_a_pid_that_cannot_be_asked_about_is_taken_as_alive():
    assert files._alive(os.getpid()) is True
    assert files._alive(_dead_pid()) is False
    assert files._alive(2**80) is True  # beyond a pid_t: not ours to judge, leave its files
