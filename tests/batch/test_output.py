"""batch/output on its own, without Dask: the refusal of someone else's folder, the staging
folder's name and marker, and the swap that puts a job in place, or puts the old OUTPUT back when
it cannot (tests/batch/test_safety.py runs the same steps through whole jobs)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from houseprice.batch import output as output_module
from houseprice.batch.errors import OutputRefused
from houseprice.batch.output import (
    MARKER,
    check_output,
    discard,
    make_staging,
    put_in_place,
    write_marker,
)
from houseprice.core.errors import OutputError


def contents(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in folder.iterdir()}


@pytest.fixture
def theirs(tmp_path) -> Path:
    """A folder of someone else's files."""
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    return folder


def test_someone_else_s_folder_is_refused_unless_overwrite_is_said(theirs):
    with pytest.raises(OutputRefused, match="was not written by hp-batch"):
        check_output(theirs, [])
    assert check_output(theirs, [], overwrite=True) == theirs.resolve()


def test_a_folder_that_cannot_be_listed_is_refused(theirs, monkeypatch):
    (theirs / "notes.txt").unlink()  # empty, so only the failed listing can refuse it

    def unreadable(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "iterdir", unreadable)
    with pytest.raises(OutputRefused, match="was not written by hp-batch"):
        check_output(theirs, [])


def test_the_staging_folder_is_hidden_beside_output_with_8_hex_digits(tmp_path):
    real = tmp_path / "out"
    staging = make_staging(real)
    assert staging.parent == tmp_path and staging.is_dir()
    assert re.fullmatch(r"\.out\.hp-batch-[0-9a-f]{8}", staging.name), staging.name


def test_a_staging_folder_that_cannot_be_made_is_one_line(tmp_path):
    real = tmp_path / ("x" * 250)  # the staging name passes the 255 bytes a name may have
    with pytest.raises(OutputError) as e:
        make_staging(real)
    assert str(e.value) == f"{real}: cannot write beside it (File name too long)"


def test_the_marker_is_one_json_line_saying_who_wrote_it(tmp_path):
    write_marker(tmp_path, {"houses": 3})
    text = (tmp_path / MARKER).read_text()
    assert text.endswith("}\n") and text.count("\n") == 1
    assert json.loads(text) == {"written_by": "hp-batch", "houses": 3}


def test_a_marker_that_cannot_be_written_is_one_line(tmp_path):
    gone = tmp_path / "gone"
    with pytest.raises(OutputError) as e:
        write_marker(gone, {})
    assert str(e.value) == f"cannot write {gone}/{MARKER}: No such file or directory"


def staged(tmp_path: Path, text: str) -> Path:
    staging = make_staging(tmp_path / "out")
    (staging / "result.csv").write_text(text)
    return staging


def test_put_in_place_replaces_output_and_leaves_nothing_beside_it(tmp_path, theirs):
    put_in_place(staged(tmp_path, "new"), theirs)
    assert contents(theirs) == {"result.csv": "new"}
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_put_in_place_makes_a_new_output(tmp_path):
    put_in_place(staged(tmp_path, "new"), tmp_path / "out")
    assert contents(tmp_path / "out") == {"result.csv": "new"}
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def failing_rename(monkeypatch, failing_call: int) -> list[tuple[Path, Path]]:
    """os.rename in batch/output fails (EXDEV) on its ``failing_call``-th call, 1-based; the
    renames asked for, as (source, target)."""
    calls = []
    real = os.rename

    def rename(source, target):
        calls.append((Path(source), Path(target)))
        if len(calls) == failing_call:
            raise OSError(18, "Invalid cross-device link")
        real(source, target)

    monkeypatch.setattr(output_module.os, "rename", rename)
    return calls


def test_output_that_cannot_be_moved_aside_stays_as_it_was(tmp_path, theirs, monkeypatch):
    failing_rename(monkeypatch, 1)
    staging = staged(tmp_path, "new")
    with pytest.raises(OutputError) as e:
        put_in_place(staging, theirs)
    assert str(e.value) == f"{theirs}: cannot replace it (Invalid cross-device link)"
    assert contents(theirs) == {"notes.txt": "mine"}


def test_a_swap_that_fails_puts_the_old_output_back(tmp_path, theirs, monkeypatch):
    renames = failing_rename(monkeypatch, 2)
    staging = staged(tmp_path, "new")
    with pytest.raises(OutputError) as e:
        put_in_place(staging, theirs)
    aside = tmp_path / (staging.name + ".old")  # the name docs/hp-batch.md gives
    assert renames == [(theirs, aside), (staging, theirs), (aside, theirs)]
    assert str(e.value) == (
        f"{theirs}: cannot put the results in place (Invalid cross-device link)"
    )
    assert contents(theirs) == {"notes.txt": "mine"}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out", staging.name])


def test_discard_removes_the_staging_folder_or_nothing(tmp_path):
    staging = staged(tmp_path, "partial")
    discard(staging)
    assert list(tmp_path.iterdir()) == []
    discard(staging)  # already put in place (or gone): nothing to do


def test_an_old_output_that_cannot_be_removed_does_not_undo_the_swap(tmp_path, theirs, immutable):
    """The results are in place; what is left of the old OUTPUT stays hidden beside it."""
    immutable(theirs / "notes.txt")
    staging = staged(tmp_path, "new")
    put_in_place(staging, theirs)
    assert contents(theirs) == {"result.csv": "new"}
    assert (tmp_path / (staging.name + ".old") / "notes.txt").is_file()


def test_a_staging_folder_that_cannot_be_removed_is_left_quietly(tmp_path, immutable):
    staging = staged(tmp_path, "partial")
    immutable(staging / "result.csv")
    discard(staging)  # no exception: the job's own error is the one to show
    assert (tmp_path / (staging.name + ".discard") / "result.csv").is_file()
