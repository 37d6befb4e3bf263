"""hp-batch never destroys what it did not write: OUTPUT is refused when it is, holds or lies in
the input (by real path), or is someone else's folder; and a failure or a signal at any moment
leaves either the old OUTPUT or the whole new one, with one line on stderr."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest

from houseprice.batch.errors import OutputRefused
from houseprice.batch.job import BatchConfig, plan_batch, run_batch
from houseprice.batch.output import MARKER, check_output
from houseprice.core.errors import Interrupted
from tests.batch.conftest import houses, job, write_parts
from tests.conftest import assert_one_line_error, run_cli


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def victim(predictor, tmp_path) -> Path:
    """A user's folder: input partitions in victim/data, and a file of their own beside them."""
    write_parts(houses(predictor, 60), tmp_path / "victim" / "data", 2, "parquet")
    (tmp_path / "victim" / "notes.txt").write_text("not hp-batch's to delete")
    (tmp_path / "link").symlink_to(tmp_path / "victim")
    return tmp_path / "victim"


REFUSALS = [
    ("victim/data", "victim", "victim: holds the input"),
    ("victim/data", "victim/data", "holds the input"),
    ("victim/data", "victim/data/out", "lies inside the input"),
    ("victim/data", "link", "link: holds the input"),
    ("victim/data/*.parquet", "victim", "holds the input"),
    ("victim/data/in.000.parquet", "victim/data", "holds the input"),
    ("victim/data", "victim/../victim", "holds the input"),
    ("victim/data", ".", "holds the input"),
    ("victim/data", "/", "refusing to replace the root folder"),
]


@pytest.mark.parametrize(("source", "output", "message"), REFUSALS)
def test_an_output_that_holds_or_lies_in_the_input_is_refused(
    exported, victim, monkeypatch, source, output, message
):
    """Through plan_batch, the checks hp-batch makes before any cluster (the CLI's exit code and
    line for these refusals: the test below)."""
    monkeypatch.chdir(victim.parent)
    before = snapshot(victim.parent)
    config = BatchConfig(source, Path(output), exported.onnx, overwrite=True)
    with pytest.raises(OutputRefused, match=re.escape(message)):
        plan_batch(config)
    assert snapshot(victim.parent) == before
    assert sorted(os.listdir(victim.parent)) == ["link", "victim"]


@pytest.mark.parametrize(
    ("output", "message"),
    [("victim", "victim: holds the input"), (" ", "OUTPUT must not be empty")],
)
def test_the_cli_refuses_such_an_output_in_one_line_exit_2(exported, victim, output, message):
    before = snapshot(victim.parent)
    result = run_cli(
        "hp-batch", "victim/data", output, "--model", str(exported.onnx), "--overwrite",
        cwd=victim.parent,
    )  # fmt: skip
    assert_one_line_error(result, 2, message, "hp-batch")
    assert snapshot(victim.parent) == before
    assert sorted(os.listdir(victim.parent)) == ["link", "victim"]


def test_someone_elses_folder_is_replaced_only_with_overwrite(client, exported, victim, tmp_path):
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "report.pdf").write_bytes(b"%PDF")
    args = [
        "hp-batch",
        "victim/data",
        "theirs",
        "--model",
        str(exported.onnx),
        "--local-workers",
        "1",
    ]
    refused = run_cli(*args, cwd=tmp_path)
    assert_one_line_error(refused, 2, "pass --overwrite", "hp-batch")
    assert snapshot(theirs) == {"report.pdf": b"%PDF"}
    done = run_cli(*args, "--overwrite", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (theirs / MARKER).is_file() and not (theirs / "report.pdf").exists()
    # now hp-batch's own: replaced without asking (in-process: the CLI's path is the same)
    again = run_batch(job(exported, victim / "data", theirs), client)
    assert again.rows and (theirs / MARKER).is_file()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert check_output(empty, [victim / "data"]) == empty.resolve()


def test_an_output_that_cannot_be_replaced_is_exit_5_and_stays(
    client, exported, victim, tmp_path, immutable
):
    run_batch(job(exported, victim / "data", tmp_path / "out"), client)  # hp-batch's own OUTPUT
    args = ["hp-batch", "victim/data", "out", "--model", str(exported.onnx), "--local-workers", "1"]
    before = snapshot(tmp_path / "out")
    immutable(tmp_path / "out")
    result = run_cli(*args, cwd=tmp_path)
    assert_one_line_error(result, 5, "out: cannot replace it", "hp-batch")
    assert snapshot(tmp_path / "out") == before
    assert sorted(os.listdir(tmp_path)) == ["link", "out", "victim"]  # no staging folder left


def test_a_signal_just_after_output_is_replaced_tells_the_truth(
    client, exported, predictor, tmp_path, monkeypatch
):
    from houseprice.core import signals
    from houseprice.core.signals import raise_on_signals

    monkeypatch.setattr(signals, "_received", [])  # this test's signal stays with it

    source = write_parts(houses(predictor, 50), tmp_path / "in", 2, "parquet")
    written: list[str] = []

    def replaced() -> None:  # SIGTERM lands right when OUTPUT has been put in place
        written.append("out")
        os.kill(os.getpid(), signal.SIGTERM)

    previous = [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)]
    raise_on_signals()
    try:
        with pytest.raises(Interrupted):
            run_batch(job(exported, source, tmp_path / "out"), client, on_written=replaced)
    finally:
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])
    assert written == ["out"] and (tmp_path / "out" / MARKER).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out"]  # no staging left


def test_the_cli_says_what_was_written_when_interrupted(
    exported, predictor, tmp_path, monkeypatch, capsys
):
    from houseprice.batch import cli
    from houseprice.batch import job as job_module

    source = write_parts(houses(predictor, 20), tmp_path / "in", 1, "parquet")

    def interrupted_after_writing(plan, client, on_written):
        on_written()
        raise Interrupted(signal.SIGTERM)

    monkeypatch.setattr(job_module, "run_batch", interrupted_after_writing)
    monkeypatch.setattr(cli, "_cluster", lambda args: _NoCluster())
    with pytest.raises(SystemExit) as stopped:
        cli.main([str(source), str(tmp_path / "out"), "--model", str(exported.onnx)])
    assert stopped.value.code == 143
    assert capsys.readouterr().err == f"hp-batch: interrupted after writing {tmp_path / 'out'}\n"


class _NoCluster:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def test_refusals_are_typed(victim):
    with pytest.raises(OutputRefused, match="holds the input"):
        check_output(victim, [victim / "data" / "in.000.parquet"])
    with pytest.raises(OutputRefused, match="lies inside the input"):
        check_output(victim / "data" / "x", [victim / "data"])
    assert BatchConfig("in", Path("out")).overwrite is False
