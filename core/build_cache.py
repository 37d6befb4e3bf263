"""Programs hp-export compiles for its gates (the ExecuTorch runner: g++ against the executorch
wheel, ~6 s of CPU a build), kept between runs as torch keeps its C++ extensions: in
``$HOUSEPRICE_CACHE_DIR``, else ``$XDG_CACHE_HOME/houseprice``, else ``~/.cache/houseprice``.

An entry's folder is named by a hash of everything that goes into the build (the caller's
``key``: source text, compiler and its version, include and library folders), so a changed
input is a new entry, never a stale one. A build happens in a hidden folder beside the entries
and is renamed into place whole, so a reader never sees half a program. Builders of one kind
take turns (a lock file, ``.lock``, released by the system if a builder dies): a process that
finds another building the same program waits for it and takes its entry instead of compiling
the same thing beside it. A build that was killed (kill -9, a power cut)
leaves its hidden folder behind; the next build of that kind removes such folders once they are
an hour old (a build takes seconds, so none still in use is that old). Each kind keeps its
``KEEP_ENTRIES`` entries used last (a use touches the entry's folder): a new build removes older
ones unused for an hour, so a cache that outlives compiler and wheel upgrades stays a few
entries of a few MB. A cache that cannot be written is no error: the program is built in the
caller's own folder, as without a cache."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

CACHE_VARIABLE = "HOUSEPRICE_CACHE_DIR"
LOCK_NAME = ".lock"
UNUSED_S = 3600  # a staging folder or entry untouched this long is in no build's or run's use
KEEP_ENTRIES = 4  # per kind; an entry beyond them and unused for UNUSED_S is removed


def cache_root() -> Path:
    """Where cached programs live (the variables above, read at each call)."""
    chosen = os.environ.get(CACHE_VARIABLE)
    if chosen:
        return Path(chosen)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "houseprice"


def entry_name(key: list[str]) -> str:
    """The folder name of the entry ``key`` describes: a hash of its parts, in order."""
    digest = hashlib.sha256()
    for part in key:
        digest.update(part.encode())
        digest.update(b"\0")  # ["ab", "c"] and ["a", "bc"] are different builds
    return digest.hexdigest()[:24]


def cached_build(
    kind: str, name: str, key: list[str], build: Callable[[Path], object], fallback: Path
) -> Path:
    """The program ``build(folder)`` writes as ``folder/name``, built once per ``key`` and kept
    under ``cache_root()/kind``; built in ``fallback`` when the cache cannot be written.
    ``build``'s exceptions pass through, leaving nothing behind in the cache."""
    entries = cache_root() / kind
    entry = entries / entry_name(key)
    if (entry / name).is_file():
        with contextlib.suppress(OSError):  # a read-only cache still serves its entries
            os.utime(entry)  # used now: kept before entries unused longer
        return entry / name
    try:
        entries.mkdir(parents=True, exist_ok=True)
        turn = open(entries / LOCK_NAME, "a")  # noqa: SIM115 (held for the whole build)
    except OSError:
        build(fallback)
        return fallback / name
    with turn:
        fcntl.flock(turn, fcntl.LOCK_EX)  # another builder's turn ends when it is done or dies
        if (entry / name).is_file():  # built while this process waited
            return entry / name
        return _build_entry(entry, name, build, fallback)


def _build_entry(entry: Path, name: str, build: Callable[[Path], object], fallback: Path) -> Path:
    try:
        sweep_stale_staging(entry.parent)
        staging = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=entry.parent))
    except OSError:
        build(fallback)
        return fallback / name
    try:
        build(staging)
        with contextlib.suppress(OSError):  # refused when another process put its entry first
            os.replace(staging, entry)  # atomic: readers see no entry or a whole one
        if (entry / name).is_file():
            prune_unused(entry.parent)
            return entry / name
        # the cache cannot take the entry (or holds something else there): the caller's folder
        return Path(shutil.move(staging / name, fallback / name))
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already when renamed into place


def sweep_stale_staging(entries: Path) -> None:
    """Remove the staging folders of killed builds (hidden, an hour old or more) under
    ``entries``; entries themselves and builds under way are left alone."""
    oldest = time.time() - UNUSED_S
    for staging in entries.glob(".*-*"):
        with contextlib.suppress(OSError):  # another process swept it, or it is not ours
            if staging.is_dir() and staging.stat().st_mtime < oldest:
                shutil.rmtree(staging)


def prune_unused(entries: Path) -> None:
    """Remove the entries under ``entries`` beyond the ``KEEP_ENTRIES`` used last, unless used
    within the hour (a process may be about to run one)."""
    found = []
    for entry in entries.iterdir():
        with contextlib.suppress(OSError):
            if entry.is_dir() and not entry.name.startswith("."):
                found.append((entry.stat().st_mtime, entry))
    oldest = time.time() - UNUSED_S
    for used, entry in sorted(found, reverse=True)[KEEP_ENTRIES:]:
        if used < oldest:
            shutil.rmtree(entry, ignore_errors=True)
