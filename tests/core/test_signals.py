"""hp-infer interrupted as a user or a supervisor would: real processes, real signals, a
multi-chunk JSON Lines run with worker processes and -o. Each run is bounded in time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, script
from tests.processes import alive, children

HOUSE = json.loads((EXAMPLES / "house.json").read_text())
ROWS = 400_000  # ~25 chunks: a few seconds of work for two workers, so signals land mid-run


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.jsonl"
    path.write_text((json.dumps(HOUSE) + "\n") * ROWS)
    return path


def _start_mid_run(exported, big: Path, out: Path) -> tuple[subprocess.Popen, list[int]]:
    """hp-infer pricing ``big`` into ``out`` with two workers, once both workers are running
    and its temp file exists."""
    process = subprocess.Popen(
        [script("hp-infer"), str(big), "-o", str(out), "-j", "2", "--model", str(exported.onnx)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        workers = children(process.pid)
        if len(workers) == 2 and any(p.name.endswith(".tmp") for p in out.parent.iterdir()):
            return process, workers
        time.sleep(0.005)
    process.kill()
    pytest.fail(f"hp-infer never ran two workers (exit {process.poll()})")


def _after(process: subprocess.Popen, workers: list[int], out: Path) -> str:
    _, err = process.communicate(timeout=30)
    deadline = time.monotonic() + 10
    while any(alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not any(alive(w) for w in workers), "worker processes outlived hp-infer"
    assert out.read_text() == "untouched\n"
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name], "temp file left behind"
    return err.decode()


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_mid_run_stops_workers_and_leaves_nothing(exported, big, tmp_path, signum, code):
    out = tmp_path / "prices.jsonl"
    out.write_text("untouched\n")
    process, workers = _start_mid_run(exported, big, out)
    process.send_signal(signum)
    err = _after(process, workers, out)
    assert process.returncode == code, err
    assert err == "hp-infer: interrupted; nothing written\n"


@pytest.mark.slow
def test_a_killed_worker_is_one_line_and_exit_1(exported, big, tmp_path):
    out = tmp_path / "prices.jsonl"
    out.write_text("untouched\n")
    process, workers = _start_mid_run(exported, big, out)
    os.kill(workers[0], signal.SIGKILL)
    err = _after(process, workers, out)
    assert process.returncode == 1, err
    assert err.count("\n") == 1 and "a worker process died" in err and "Traceback" not in err


@pytest.mark.slow
def test_workers_die_with_a_parent_killed_outright(exported, big, tmp_path):
    """SIGKILL leaves the parent no cleanup: the workers' parent-death signal ends them."""
    out = tmp_path / "prices.jsonl"
    out.write_text("untouched\n")
    process, workers = _start_mid_run(exported, big, out)
    process.kill()
    process.communicate(timeout=30)
    deadline = time.monotonic() + 10
    while any(alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not any(alive(w) for w in workers)
    assert out.read_text() == "untouched\n"  # the temp file may stay: nothing ran to remove it
