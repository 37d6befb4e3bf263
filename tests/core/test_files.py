from __future__ import annotations

import os

import pytest

from houseprice.core.files import Spool, atomic_open, atomic_write_bytes


def test_atomic_write_replaces_only_when_complete(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_open(target) as handle:
        handle.write(b"half of the new")
        raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]  # no temp file left behind
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert (target.stat().st_mode & 0o777) == 0o666 & ~_umask()


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


@pytest.mark.parametrize("limit", [0, 5, 1 << 20])
def test_spool_gives_back_everything_in_memory_or_on_disk(limit):
    with Spool(limit) as spool:
        for piece in (b"abc", b"", b"defgh", b"ij"):
            assert spool.write(piece) == len(piece)
        assert spool.on_disk == (limit < 10)
        assert spool.rewind().read() == b"abcdefghij"


def test_a_spool_that_cannot_spill_is_an_output_error(monkeypatch):
    import tempfile

    from houseprice.core.errors import OutputError

    # A TMPDIR with no space left: the spill file is /dev/full, where every write fails (ENOSPC).
    monkeypatch.setattr(tempfile, "TemporaryFile", lambda: open("/dev/full", "w+b"))  # noqa: SIM115
    with Spool(4) as spool, pytest.raises(OutputError, match=r"No space left on device.*TMPDIR"):
        spool.write(b"more than four bytes")
        spool.write(b"and more")
        spool.rewind()  # buffered: the failure may show only when the spool is flushed


def test_every_file_or_none(tmp_path):
    from houseprice.core.errors import OutputError
    from houseprice.core.files import atomic_write_many

    first, second = tmp_path / "a.bin", tmp_path / "b.bin"
    first.write_bytes(b"old a")
    second.mkdir()  # cannot be replaced by a file: the whole set is refused before any write
    with pytest.raises(OutputError, match=r"b\.bin: it is a directory"):
        atomic_write_many({first: b"new a", second: b"new b"})
    assert first.read_bytes() == b"old a" and sorted(os.listdir(tmp_path)) == ["a.bin", "b.bin"]
    second.rmdir()
    atomic_write_many({first: b"new a", second: b"new b"})
    assert first.read_bytes() == b"new a" and second.read_bytes() == b"new b"


@pytest.mark.parametrize(
    ("name", "problem"),
    [("", "empty file name"), ("out/", "a file name is needed"), ("/dev/null", "not a regular")],
)
def test_destinations_that_cannot_be_files(name, problem):
    from houseprice.core.errors import OutputError
    from houseprice.core.files import check_destination

    with pytest.raises(OutputError, match=problem):
        check_destination(name)


def test_the_replaced_file_keeps_its_mode(tmp_path):
    target = tmp_path / "secret.json"
    target.write_bytes(b"old")
    target.chmod(0o600)
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new" and (target.stat().st_mode & 0o777) == 0o600


def test_a_set_keeps_its_own_previous_files_and_leaves_others_alone(tmp_path):
    """Another writer's kept-aside copy (a second export into the same folder at the same time)
    is neither removed nor taken for ours; ours are gone once the whole set is in place."""
    from houseprice.core.files import atomic_write_many

    first, second = tmp_path / "a.bin", tmp_path / "b.bin"
    first.write_bytes(b"old a")
    theirs = tmp_path / ".a.bin.previous"
    theirs.write_bytes(b"another writer's a")
    atomic_write_many({first: b"new a", second: b"new b"})
    assert first.read_bytes() == b"new a" and second.read_bytes() == b"new b"
    assert theirs.read_bytes() == b"another writer's a"
    assert sorted(os.listdir(tmp_path)) == [".a.bin.previous", "a.bin", "b.bin"]


@pytest.mark.parametrize("links", [True, False], ids=["hard-link", "copy"])
def test_a_failed_rename_puts_the_replaced_files_back(tmp_path, monkeypatch, links):
    from houseprice.core import files
    from houseprice.core.errors import OutputError

    if not links:  # a file system without hard links: the replaced file is kept as a copy

        def no_links(source, destination):
            raise PermissionError(1, "Operation not permitted")

        monkeypatch.setattr(os, "link", no_links)
    paths = [tmp_path / name for name in ("a.bin", "b.bin", "c.bin")]
    paths[0].write_bytes(b"old a")
    paths[2].write_bytes(b"old c")
    paths[0].chmod(0o640)
    replace = files._replace

    def fail_on_c(tmp, target):
        if target.name == "c.bin":
            raise OutputError(f"cannot write {target}: No space left on device")
        replace(tmp, target)

    monkeypatch.setattr(files, "_replace", fail_on_c)
    with pytest.raises(OutputError, match=r"c\.bin: No space left"):
        files.atomic_write_many(dict(zip(paths, (b"new a", b"new b", b"new c"), strict=True)))
    assert paths[0].read_bytes() == b"old a" and (paths[0].stat().st_mode & 0o777) == 0o640
    assert paths[2].read_bytes() == b"old c"
    assert sorted(os.listdir(tmp_path)) == ["a.bin", "c.bin"]  # b.bin had no file before
