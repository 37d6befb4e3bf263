"""export/pte_export.build_runner: the ExecuTorch runner compiled once per source, compiler and
wheel (kept in core/build_cache.py's folder), and its two ways to fail, each one line."""

from __future__ import annotations

import os

import pytest

from houseprice.core.build_cache import CACHE_VARIABLE, LOCK_NAME, cache_root
from houseprice.export.errors import ConversionError, MissingToolError
from houseprice.export.pte_export import build_runner

pytestmark = pytest.mark.slow  # one g++ build against the executorch wheel (~6 s)


def test_the_runner_is_compiled_once_and_shared(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_VARIABLE, str(tmp_path / "cache"))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = build_runner(tmp_path / "a")
    built_at = first.stat().st_mtime_ns
    again = build_runner(tmp_path / "b")
    assert again == first and again.stat().st_mtime_ns == built_at
    assert first.parent.parent == cache_root() / "pte-runner" and os.access(first, os.X_OK)
    assert list((tmp_path / "a").iterdir()) == [] == list((tmp_path / "b").iterdir())


def test_without_gpp_the_gate_names_the_package(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingToolError, match=r"needs g\+\+ \(not found\): apt-get install g\+\+"):
        build_runner(tmp_path)


def test_a_runner_that_does_not_build_names_the_first_error_and_caches_nothing(
    tmp_path, monkeypatch
):
    fake = tmp_path / "bin" / "g++"
    fake.parent.mkdir()
    fake.write_text(
        '#!/bin/sh\n[ "$1" = --version ] && exit 0\n'
        "echo 'In file included from x.h:1:' >&2\n"
        "echo 'pte_runner.cpp:7:3: error: no member named run' >&2\n"
        "echo 'pte_runner.cpp:9:1: error: later' >&2\nexit 1\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))
    monkeypatch.setenv(CACHE_VARIABLE, str(tmp_path / "cache"))
    with pytest.raises(ConversionError) as raised:
        build_runner(tmp_path)
    said = "the ExecuTorch runner does not build: pte_runner.cpp:7:3: error: no member named run"
    assert str(raised.value) == said
    assert [p.name for p in (tmp_path / "cache" / "pte-runner").iterdir()] == [LOCK_NAME]
