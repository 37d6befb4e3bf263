"""Two small defects of hp-export: feature names that would end or nest a C comment export and
compile, in float and integers; and the temp files of a killed export are swept (only its own,
only a dead writer's) before the next writes."""

from __future__ import annotations

import os

import numpy as np
import pytest

from houseprice.core.files import sweep_leftovers
from houseprice.data import load_dataset
from houseprice.export.api import export_model, own_file_names
from houseprice.export.config import ExportConfig
from houseprice.train.checkpoint import save_checkpoint
from houseprice.train.config import TrainConfig
from houseprice.train.run import train_holdout
from tests.processes import dead_pid

NAMES = ["price /* per m2", "rooms */ count", "a trailing \\", "trigraph ??/", "plain"]


@pytest.fixture(scope="module")
def odd_checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("odd-names")
    rng = np.random.default_rng(3)
    x = rng.uniform(1, 100, (120, len(NAMES)))
    y = x @ rng.uniform(0.5, 2, len(NAMES)) + rng.normal(0, 1, 120)
    header = ",".join(f'"{n}"' for n in NAMES) + ",TARGET"
    rows = "\n".join(",".join(f"{v:.5g}" for v in [*row, t]) for row, t in zip(x, y, strict=True))
    csv = folder / "odd.csv"
    csv.write_text(header + "\n" + rows + "\n")
    run = train_holdout(load_dataset(csv, "TARGET"), TrainConfig(epochs=30))
    save_checkpoint(run.trained, folder / "checkpoint.pt")
    return folder / "checkpoint.pt"


@pytest.mark.parametrize("arith", ["float32", "int16"])
def test_names_that_end_or_nest_a_c_comment_export_and_compile(odd_checkpoint, tmp_path, arith):
    artifacts = export_model(odd_checkpoint, tmp_path, ["c"], ExportConfig(arith=arith))
    assert artifacts[0].parity.passed  # the gate compiled it with -Wall -Wextra -Werror
    header = (tmp_path / "houseprice_model.h").read_text()
    comment = header[: header.index("*/")]
    assert "/ * per m2" in comment and "/*" not in comment[2:]


def test_a_compile_failure_names_the_compilers_first_complaint(exported, tmp_path, monkeypatch):
    from houseprice.export import c_source
    from houseprice.export.errors import ConversionError

    real = c_source.export_c
    monkeypatch.setattr(
        c_source,
        "export_c",
        lambda *a: (real(*a)[0] + b"\nint broken(void) { return x; }\n", real(*a)[1]),
    )
    with pytest.raises(ConversionError, match=r"houseprice_model.h:\d+:\d+: error: .x. undeclared"):
        export_model(exported.checkpoint, tmp_path, ["c"])


def test_a_killed_exports_leftovers_are_swept_and_nothing_else(exported, tmp_path):
    dead = dead_pid()
    leftovers = [
        tmp_path / f".model.onnx.{dead}.abcd1234.tmp",
        tmp_path / f".manifest.json.{dead}.0a1b2c3d.previous",
        tmp_path / f".houseprice_model.h.{dead}.k3y_xyz.tmp",
    ]
    kept = [
        tmp_path / f".model.onnx.{os.getpid()}.live0000.tmp",  # a live writer's
        tmp_path / f".notes.txt.{dead}.abcd1234.tmp",  # not a name hp-export writes
        tmp_path / "model.onnx.backup",
    ]
    for path in leftovers + kept:
        path.write_bytes(b"x")
    export_model(exported.checkpoint, tmp_path, ["npz"])
    assert not any(p.exists() for p in leftovers)
    assert all(p.exists() for p in kept)


def test_sweep_removes_only_the_names_asked(tmp_path):
    dead = dead_pid()
    ours = tmp_path / f".a.{dead}.x.tmp"
    theirs = tmp_path / f".b.{dead}.x.tmp"
    ours.write_text("")
    theirs.write_text("")
    assert sweep_leftovers(tmp_path, {"a"}) == [ours]
    assert theirs.exists() and "model.onnx" in own_file_names()
