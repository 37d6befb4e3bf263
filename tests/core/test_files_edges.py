"""core/files at its edges: each message word for word, the spool's exact limit, the write and
sync failures of a staged file, and which leftovers a sweep removes (only a dead writer's)."""

from __future__ import annotations

import errno
import os
import re
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from houseprice.core import files
from houseprice.core.errors import OutputError
from houseprice.core.files import Spool, check_destination, sweep_leftovers, unreadable
from houseprice.core.reading import FileTooLargeError, NotRegularFileError
from tests.processes import dead_pid


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


@pytest.fixture
def live_pid():
    """A running process that a signal other than 0 would end (SIGHUP at its default, whatever
    the test run inherited): probing it must leave it running."""
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL),
    )
    yield child.pid
    assert child.poll() is None, "the probe signalled the process"
    child.kill()
    child.wait()


def test_the_sweep_removes_a_dead_writers_files_and_nothing_else(tmp_path, live_pid):
    dead, alive = dead_pid(), live_pid
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


def test_a_pid_that_cannot_be_asked_about_is_taken_as_alive(live_pid):
    assert files.process_alive(live_pid) is True
    assert files.process_alive(dead_pid()) is False
    assert files.process_alive(2**80) is True  # beyond a pid_t: not ours to judge, leave its files


def test_kept_aside_and_temp_files_carry_the_name_and_pid_the_sweep_reads(tmp_path):
    target = tmp_path / "model.onnx"
    target.write_bytes(b"old")
    aside = files._keep_aside(target)
    found = files._LEFTOVER.match(aside.name)
    assert found and found["name"] == "model.onnx" and int(found["pid"]) == os.getpid()
    assert re.fullmatch(r"\.model\.onnx\.\d+\.[0-9a-f]{8}\.previous", aside.name), aside.name
    assert aside.read_bytes() == b"old"
    with files.atomic_open(target) as handle:
        handle.write(b"new")
        (staged,) = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    found = files._LEFTOVER.match(staged)
    assert found and found["name"] == "model.onnx" and int(found["pid"]) == os.getpid()
    assert re.fullmatch(rf"\.model\.onnx\.{os.getpid()}\.[a-z0-9_]+\.tmp", staged), staged


def test_a_name_taken_by_another_kept_copy_is_skipped(tmp_path, monkeypatch):
    import secrets

    target = tmp_path / "a.bin"
    target.write_bytes(b"ours")
    taken = tmp_path / f".a.bin.{os.getpid()}.aaaaaaaa.previous"
    taken.write_bytes(b"theirs")
    tokens = iter(["aaaaaaaa", "bbbbbbbb"])
    monkeypatch.setattr(secrets, "token_hex", lambda n: next(tokens))
    aside = files._keep_aside(target)
    assert aside.name == f".a.bin.{os.getpid()}.bbbbbbbb.previous"
    assert taken.read_bytes() == b"theirs" and aside.read_bytes() == b"ours"


def _no_links(monkeypatch):
    def refuse(source, destination):
        raise _os_error(PermissionError, errno.EPERM)

    monkeypatch.setattr(os, "link", refuse)


def test_a_copy_that_cannot_be_made_is_an_output_error_and_leaves_nothing(tmp_path, monkeypatch):
    import shutil

    target = tmp_path / "a.bin"
    target.write_bytes(b"ours")
    _no_links(monkeypatch)
    real_open = open

    def no_new_files(path, mode="r", *args, **kwargs):
        if "x" in mode:
            raise _os_error(PermissionError, errno.EACCES)
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(files, "open", no_new_files, raising=False)
    with pytest.raises(OutputError) as caught:
        files._keep_aside(target)
    assert str(caught.value) == f"cannot write {target}: Permission denied"
    monkeypatch.undo()
    _no_links(monkeypatch)

    def full(source, destination):
        raise _os_error(OSError, errno.ENOSPC)

    monkeypatch.setattr(shutil, "copyfileobj", full)
    with pytest.raises(OutputError) as caught:
        files._keep_aside(target)
    assert str(caught.value) == f"cannot write {target}: No space left on device"
    assert os.listdir(tmp_path) == ["a.bin"]  # the half copy is gone


def test_a_target_that_became_a_directory_is_named_as_one(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(OutputError) as caught, files.atomic_open(target) as handle:
        handle.write(b"{}")
        target.mkdir()
    assert str(caught.value) == f"cannot write {target}: it is a directory"
    assert os.listdir(tmp_path) == ["out.json"] and target.is_dir()


def test_a_failed_rename_is_an_output_error_naming_the_target(tmp_path, monkeypatch):
    def cross_device(source, destination):
        raise _os_error(OSError, errno.EXDEV)

    monkeypatch.setattr(os, "replace", cross_device)
    target = tmp_path / "out.json"
    with pytest.raises(OutputError) as caught:
        files.atomic_write_bytes(target, b"{}")
    assert str(caught.value) == f"cannot write {target}: Invalid cross-device link"
    assert os.listdir(tmp_path) == []


def test_a_new_file_gets_the_umasks_mode_and_the_umask_is_left_as_it_was(tmp_path):
    before = os.umask(0o022)
    try:
        files.atomic_write_bytes(tmp_path / "new.bin", b"x")
        assert stat.S_IMODE((tmp_path / "new.bin").stat().st_mode) == 0o644  # 0o666 & ~0o022
        assert os.umask(0o022) == 0o022  # still the caller's
    finally:
        os.umask(before)


def test_a_spool_write_that_fails_is_an_output_error():
    spool = Spool(10)

    class Full:
        def tell(self):
            return 0

        def write(self, data):
            raise _os_error(OSError, errno.ENOSPC)

    spool._file = Full()
    with pytest.raises(OutputError, match=r"^cannot hold the output .*No space left on device"):
        spool.write(b"x")


def test_a_spool_closes_its_file_when_closed_or_left():
    with Spool(10) as spool:
        held = spool._file
    assert held.closed
    spool = Spool(1)
    spool.write(b"on disk")
    held = spool._file
    spool.close()
    assert held.closed and spool.on_disk
