"""Where hp-batch writes: OUTPUT checked before any work, a staging folder beside it, and the one
rename that puts the finished job in place.

OUTPUT is a folder the job replaces whole, so it must never be a folder that holds anything else
a user cares about: the input above all, and any folder hp-batch did not write itself (unless
``--overwrite`` says so). Every check is on real paths, so a symlink or ``..`` cannot hide the
input.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path

from houseprice.batch.errors import OutputRefused
from houseprice.core.errors import OutputError

# Written into every OUTPUT hp-batch puts in place; a later job replaces a folder holding it.
MARKER = ".hp-batch.json"


def check_output(output: Path, inputs: Iterable[Path], overwrite: bool = False) -> Path:
    """OUTPUT's real path, or OutputRefused (nothing touched) when replacing it could destroy
    data: it is, holds or lies inside an input, or it is a folder of someone else's files."""
    real = output.resolve()
    if real == real.parent:
        raise OutputRefused(f"{output}: refusing to replace the root folder")
    for source in inputs:
        _refuse_overlap(output, real, source.resolve())
    if real.exists() and not real.is_dir():
        raise OutputError(f"{output}: exists and is not a folder")
    if not real.parent.is_dir():
        raise OutputError(f"{output}: the folder {real.parent} does not exist")
    if not overwrite and real.is_dir() and not _replaceable(real):
        raise OutputRefused(
            f"{output}: exists, is not empty and was not written by hp-batch; "
            "pass --overwrite to replace it, or name another folder"
        )
    return real


def _refuse_overlap(output: Path, real: Path, source: Path) -> None:
    if source == real or real in source.parents:
        raise OutputRefused(f"{output}: holds the input {source}; replacing it would delete it")
    if source in real.parents:
        raise OutputRefused(f"{output}: lies inside the input {source}; name a folder outside it")


def _replaceable(folder: Path) -> bool:
    """Empty, or written by hp-batch (its marker is there)."""
    try:
        return (folder / MARKER).is_file() or not any(folder.iterdir())
    except OSError:  # unreadable: replacing it is for --overwrite to say
        return False


def make_staging(real: Path) -> Path:
    """A new folder beside OUTPUT's real path (same filesystem, so the final rename is atomic)."""
    staging = real.parent / f".{real.name}.hp-batch-{uuid.uuid4().hex[:8]}"
    try:
        staging.mkdir()
    except OSError as exc:
        raise OutputError(f"{real}: cannot write beside it ({exc.strerror})") from None
    return staging


def write_marker(staging: Path, facts: dict[str, object]) -> None:
    try:
        (staging / MARKER).write_text(json.dumps({"written_by": "hp-batch", **facts}) + "\n")
    except OSError as exc:
        raise OutputError(f"cannot write {staging / MARKER}: {exc.strerror}") from None


def put_in_place(staging: Path, output: Path) -> None:
    """OUTPUT becomes the staged folder; an OUTPUT already there is replaced only now, and is
    back in place if the swap fails."""
    old = None
    if output.exists():
        old = staging.with_name(staging.name + ".old")
        try:
            os.rename(output, old)
        except OSError as exc:
            raise OutputError(f"{output}: cannot replace it ({exc.strerror})") from None
    try:
        os.rename(staging, output)
    except OSError as exc:
        if old is not None:
            os.rename(old, output)
        raise OutputError(f"{output}: cannot put the results in place ({exc.strerror})") from None
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def discard(staging: Path) -> None:
    """Remove what is left of the staging folder (nothing once it was put in place). After a
    failure, tasks on other workers may still be running: cancelling a future does not stop a
    running task. Renamed first, the folder is gone from the path those tasks write to, so none
    can add a file while it is being removed."""
    doomed = staging.with_name(staging.name + ".discard")
    try:
        os.rename(staging, doomed)
    except FileNotFoundError:  # put in place
        return
    except OSError:
        doomed = staging
    shutil.rmtree(doomed, ignore_errors=True)
