"""`hp-batch` as a user runs it: a real process with its own LocalCluster."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

import pandas as pd
import pytest

from tests.batch.conftest import houses, write_parts
from tests.conftest import loaded_by, run_cli, script
from tests.processes import alive, descendants


@pytest.fixture(scope="module")
def model(exported):
    from houseprice.runtime.predictor import Predictor

    return Predictor.load(exported.onnx)


@pytest.mark.slow
def test_csv_out_with_warnings_on_a_local_cluster(exported, model, tmp_path):
    frame = houses(model, 500)
    frame.loc[3, "CRIM"] = 1e4
    source = write_parts(frame, tmp_path / "in", 3, "parquet")
    result = run_cli(
        "hp-batch",
        str(source),
        str(tmp_path / "out"),
        "--model",
        str(exported.onnx),
        "--format",
        "csv",
        "--local-workers",
        "2",
        "--price-column",
        "value",
    )
    assert result.returncode == 0, result.stderr
    err = result.stderr.decode()
    assert "priced 500 houses in 3 partition(s)" in err and "warning: 1 house(s) have CRIM" in err
    out = pd.concat(pd.read_csv(p) for p in sorted((tmp_path / "out").glob("*.csv")))
    assert list(out.columns)[-1] == "value" and len(out) == 500


@pytest.mark.slow
def test_errors_are_one_line_with_their_exit_codes(exported, model, tmp_path):
    source = write_parts(houses(model, 50), tmp_path / "in", 2, "parquet")
    onnx = str(exported.onnx)
    cases = [
        (
            ["hp-batch", str(tmp_path / "none"), str(tmp_path / "o"), "--model", onnx],
            1,
            "no such file",
        ),
        (
            ["hp-batch", str(source), str(tmp_path / "o"), "--model", str(tmp_path / "x.onnx")],
            3,
            "x.onnx",
        ),
        (
            [
                "hp-batch",
                str(source),
                str(tmp_path / "o"),
                "--model",
                onnx,
                "--scheduler",
                "tcp://127.0.0.1:9",
            ],
            7,
            "cannot reach the scheduler at tcp://127.0.0.1:9: connection refused",
        ),
        (
            ["hp-batch", str(source), str(tmp_path / "o"), "--local-workers", "0"],
            2,
            "not a worker count",
        ),
        (["hp-batch", str(source), str(tmp_path / "o"), "--margin", "nan"], 2, "not a margin"),
    ]
    for args, code, message in cases:
        result = run_cli(*args, timeout=120)
        err = result.stderr.decode()
        assert result.returncode == code and message in err and err.count("\n") == 1, (args, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_a_scheduler_that_refuses_is_told_at_once_and_others_are_left_to_dask():
    """Nothing listening fails before Dask's retries; a listener, or a scheme that is not
    TCP, is Dask's to connect to."""
    from houseprice.batch.cli import _refuse_fast

    with socket.create_server(("127.0.0.1", 0)) as listening:
        open_port = listening.getsockname()[1]
        _refuse_fast(f"tcp://127.0.0.1:{open_port}")
        _refuse_fast(f"127.0.0.1:{open_port}")  # Dask's default scheme
    with socket.create_server(("127.0.0.1", 0)) as closed:
        closed_port = closed.getsockname()[1]
    with pytest.raises(ConnectionRefusedError, match=f"refused at 127.0.0.1:{closed_port}"):
        _refuse_fast(f"tcp://127.0.0.1:{closed_port}")
    with pytest.raises(ConnectionRefusedError):
        _refuse_fast(f"tls://127.0.0.1:{closed_port}")
    _refuse_fast(f"inproc://127.0.0.1:{closed_port}")


@pytest.mark.slow
@pytest.mark.parametrize("to_group", [False, True], ids=["kill", "ctrl-c"])
def test_sigint_mid_job_is_one_line_and_leaves_no_output_and_no_process(
    exported, model, tmp_path, to_group
):
    """Sent to hp-batch alone (kill -INT), or as a terminal's Ctrl-C sends it: to the whole
    process group, workers included."""
    source = write_parts(houses(model, 400_000), tmp_path / "in", 40, "parquet")
    process = subprocess.Popen(
        [
            script("hp-batch"),
            str(source),
            str(tmp_path / "out"),
            "--model",
            str(exported.onnx),
            "--local-workers",
            "2",
        ],
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline, staged = time.monotonic() + 90, []
        while time.monotonic() < deadline and not staged and process.poll() is None:
            staged = list(tmp_path.glob(".out.hp-batch-*/part.*"))
            time.sleep(0.01)
        assert staged, "the job must be under way"
        family = descendants(process.pid)
        if to_group:
            os.killpg(process.pid, signal.SIGINT)
        else:
            process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130 and err.decode() == "hp-batch: interrupted; nothing written\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]
    deadline = time.monotonic() + 20
    while any(map(alive, family)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert family and not any(map(alive, family))


@pytest.mark.parametrize(
    ("case", "code", "message"),
    [
        ("no input", 1, "no such file"),
        ("output in input", 2, "lies inside the input"),
        ("bad model", 3, "x.onnx"),
    ],
)
def test_input_output_and_model_are_checked_before_dask_is_imported(
    exported, model, tmp_path, case, code, message
):
    source = write_parts(houses(model, 20), tmp_path / "in", 1, "csv")
    onnx = str(exported.onnx)
    args = {
        "no input": (str(tmp_path / "none"), str(tmp_path / "o"), "--model", onnx),
        "output in input": (str(source), str(source / "o"), "--model", onnx),
        "bad model": (str(source), str(tmp_path / "o"), "--model", str(tmp_path / "x.onnx")),
    }[case]
    heavy = ("dask", "distributed", "pandas", "pyarrow")
    result, loaded = loaded_by("houseprice.batch.cli", *args, modules=heavy)
    assert (result.returncode, loaded) == (code, "[]"), result.stderr
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]
