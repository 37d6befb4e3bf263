"""core/build_cache.py: a program built once per key, whole or not at all, and built in the
caller's folder when the cache cannot be written."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from houseprice.core import build_cache
from houseprice.core.build_cache import CACHE_VARIABLE, cache_root, cached_build, entry_name


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv(CACHE_VARIABLE, str(tmp_path / "cache"))
    return tmp_path / "cache"


class Builder:
    """Writes ``prog`` holding its call count; records the folders it built in."""

    def __init__(self):
        self.folders: list[Path] = []

    def __call__(self, folder: Path) -> None:
        self.folders.append(folder)
        (folder / "prog").write_text(str(len(self.folders)))


def leftovers(cache: Path) -> list[str]:
    """Hidden files of the cache but its lock: staging folders left behind."""
    hidden = (p.name for p in (cache / "kind").iterdir() if p.name.startswith("."))
    return sorted(name for name in hidden if name != build_cache.LOCK_NAME)


def test_a_program_is_built_once_per_key(cache, tmp_path):
    build = Builder()
    first = cached_build("kind", "prog", ["a", "b"], build, tmp_path)
    again = cached_build("kind", "prog", ["a", "b"], build, tmp_path)
    other = cached_build("kind", "prog", ["a", "c"], build, tmp_path)
    assert first == again == cache / "kind" / entry_name(["a", "b"]) / "prog"
    assert first.read_text() == "1" and other.read_text() == "2" and len(build.folders) == 2
    assert other.parent.parent == cache / "kind" and leftovers(cache) == []


def test_a_failed_build_raises_and_leaves_no_entry_behind(cache, tmp_path):
    def broken(folder: Path) -> None:
        (folder / "prog").write_text("half")
        raise RuntimeError("the compiler said no")

    with pytest.raises(RuntimeError, match="the compiler said no"):
        cached_build("kind", "prog", ["k"], broken, tmp_path)
    assert [p.name for p in (cache / "kind").iterdir()] == [build_cache.LOCK_NAME]
    build = Builder()  # the next run builds it afresh
    assert cached_build("kind", "prog", ["k"], build, tmp_path).read_text() == "1"


def test_an_unwritable_cache_builds_in_the_callers_folder(cache, tmp_path):
    cache.write_text("a file where the cache folder would be")
    build = Builder()
    program = cached_build("kind", "prog", ["k"], build, tmp_path)
    assert program == tmp_path / "prog" and program.read_text() == "1"


def test_a_process_that_lost_the_race_takes_the_winners_entry(cache, tmp_path):
    entry = cache / "kind" / entry_name(["k"])

    def racing(folder: Path) -> None:  # another process renames its entry into place meanwhile
        entry.mkdir(parents=True)
        (entry / "prog").write_text("theirs")
        (folder / "prog").write_text("ours")

    program = cached_build("kind", "prog", ["k"], racing, tmp_path)
    assert program == entry / "prog" and program.read_text() == "theirs"
    assert leftovers(cache) == [] and not (tmp_path / "prog").exists()


def test_an_entry_taken_by_something_else_leaves_the_program_in_the_callers_folder(cache, tmp_path):
    entry = cache / "kind" / entry_name(["k"])
    entry.mkdir(parents=True)
    (entry / "not-the-program").write_text("")
    program = cached_build("kind", "prog", ["k"], Builder(), tmp_path)
    assert program == tmp_path / "prog" and program.read_text() == "1"
    assert leftovers(cache) == []


def test_the_cache_folder_follows_the_variables(monkeypatch, tmp_path):
    monkeypatch.setattr(build_cache.Path, "home", lambda: tmp_path / "home")
    monkeypatch.delenv(CACHE_VARIABLE, raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert cache_root() == tmp_path / "home" / ".cache" / "houseprice"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "houseprice"
    monkeypatch.setenv(CACHE_VARIABLE, str(tmp_path / "mine"))
    assert cache_root() == tmp_path / "mine"


def test_a_key_is_its_parts_in_order_not_their_concatenation():
    names = {entry_name(k) for k in (["ab", "c"], ["a", "bc"], ["c", "ab"], ["abc"])}
    assert len(names) == 4 and all(len(n) == 24 for n in names)


def test_a_killed_builds_staging_folder_is_swept_once_an_hour_old(cache, tmp_path):
    """Left by a build that was killed: removed by the next build of that kind once stale; a
    build under way (a fresh staging folder) and the entries stay."""
    kept = cached_build("kind", "prog", ["kept"], Builder(), tmp_path)
    stale, fresh = cache / "kind" / ".abc-stale", cache / "kind" / ".abc-fresh"
    for folder in (stale, fresh):
        folder.mkdir()
        (folder / "prog").write_text("half")
    hours_ago = time.time() - build_cache.UNUSED_S - 60
    os.utime(stale, (hours_ago, hours_ago))
    cached_build("kind", "prog", ["new"], Builder(), tmp_path)
    assert leftovers(cache) == [".abc-fresh"] and kept.read_text() == "1"


def test_a_builder_that_finds_another_building_waits_and_takes_its_entry(cache, tmp_path):
    """Two processes exporting at once compile the program once: the second waits for the
    first's turn and finds the entry (threads here: each opens the lock file on its own, and
    Linux's flock excludes open files, not processes)."""
    first_building, calls = threading.Event(), []

    def slow(folder: Path) -> None:
        calls.append(folder)
        first_building.set()
        time.sleep(0.5)
        (folder / "prog").write_text(str(len(calls)))

    results: list[Path] = []
    first = threading.Thread(
        target=lambda: results.append(cached_build("kind", "prog", ["k"], slow, tmp_path))
    )
    first.start()
    first_building.wait(10)
    second = cached_build("kind", "prog", ["k"], slow, tmp_path)
    first.join(10)
    assert len(calls) == 1 and results == [second] and second.read_text() == "1"


def test_no_room_for_a_staging_folder_builds_in_the_callers_folder(cache, tmp_path, monkeypatch):
    """The cache's folder takes the lock file but not a staging folder (a full disk, no inodes
    left): the program is built in the caller's folder, as when the cache cannot be written."""
    cache.joinpath("kind").mkdir(parents=True)

    def no_room(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(build_cache.tempfile, "mkdtemp", no_room)
    build = Builder()
    program = cached_build("kind", "prog", ["k"], build, tmp_path)
    assert program == tmp_path / "prog" and program.read_text() == "1"
    assert build.folders == [tmp_path] and leftovers(cache) == []


def test_a_kind_keeps_the_entries_used_last(cache, tmp_path):
    """Beyond KEEP_ENTRIES, a new build removes the entries unused longest, once an hour
    unused; a use counts as much as a build."""
    keep = build_cache.KEEP_ENTRIES
    built = [cached_build("kind", "prog", [str(i)], Builder(), tmp_path) for i in range(keep + 2)]
    for age, program in enumerate(built):  # entry 0 unused longest, the last one newest
        then = time.time() - build_cache.UNUSED_S - 3600 * (len(built) - age)
        os.utime(program.parent, (then, then))
    assert cached_build("kind", "prog", ["0"], Builder(), tmp_path) == built[0]  # used again
    (cache / "kind" / ".abc-killed").mkdir()  # a killed build's, fresh: no entry, no keep slot
    newest = cached_build("kind", "prog", ["new"], Builder(), tmp_path)
    left = {p.name for p in (cache / "kind").iterdir() if not p.name.startswith(".")}
    assert left == {p.parent.name for p in (newest, built[0], *built[-(keep - 2) :])}
    assert newest.read_text() == "1" and built[0].read_text() == "1"


def test_entries_used_within_the_hour_are_never_removed(cache, tmp_path):
    keep = build_cache.KEEP_ENTRIES
    built = [cached_build("kind", "prog", [str(i)], Builder(), tmp_path) for i in range(keep + 3)]
    assert all(program.is_file() for program in built)


def test_an_entry_removed_by_someone_else_meanwhile_is_no_error(cache, tmp_path, monkeypatch):
    """E.g. `rm -rf ~/.cache/houseprice` while an export prunes: the build still succeeds."""
    built = [cached_build("kind", "prog", [str(i)], Builder(), tmp_path) for i in range(5)]
    then = time.time() - 2 * build_cache.UNUSED_S
    os.utime(built[0].parent, (then, then))
    real = build_cache.shutil.rmtree

    def removed_first(path, **options):
        if Path(path).exists():  # (the staging folder is gone already: renamed into place)
            real(path)
        real(path, **options)

    monkeypatch.setattr(build_cache.shutil, "rmtree", removed_first)
    assert cached_build("kind", "prog", ["new"], Builder(), tmp_path).read_text() == "1"
    assert not built[0].exists()
