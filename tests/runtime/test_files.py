from __future__ import annotations

import os

import pytest

from houseprice.runtime.files import Spool, atomic_open, atomic_write_bytes


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
