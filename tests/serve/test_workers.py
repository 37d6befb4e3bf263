"""hp-serve with several worker processes: one model and one set of metrics as clients see them,
workers replaced when they die, nothing left behind when the supervisor stops or is killed."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, run_cli
from tests.processes import alive, children
from tests.runtime.model_files import info, sum_model
from tests.serve.test_server import serving

HOUSE = (EXAMPLES / "house.json").read_bytes()


def _wait(condition, seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


pytestmark = pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")


def _predicted(metrics: str) -> float:
    found = re.search(
        r'houseprice_requests_total\{route="/v1/predict",status="200"\} (\S+)', metrics
    )
    return float(found[1]) if found else 0.0


def test_metrics_add_up_over_workers(model, tmp_path):
    with serving(model, "--workers", "2", "--token-file", str(tmp_path / "token")) as server:
        assert _wait(lambda: len(set(children(server.process.pid))) == 2)
        for _ in range(40):  # new connections: the kernel spreads them over both workers
            server.price(HOUSE)
        # A request is counted once its answer has gone out: on a loaded machine the last count
        # may land a moment after the client has its price.
        assert _wait(lambda: _predicted(server.call("GET", "/metrics")[2].decode()) >= 40)
        texts = [server.call("GET", "/metrics")[2].decode() for _ in range(6)]
    # Whichever worker answers the scrape, it reports both workers' requests.
    assert min(map(_predicted, texts)) >= 40
    assert all(re.search(r"houseprice_houses_priced_total (\S+)", t)[1] != "0.0" for t in texts)


def test_an_admin_reload_reaches_every_worker(model, tmp_path):
    with serving(model, "--workers", "2", "--token-file", str(tmp_path / "token")) as server:
        # both workers up: one still starting would load the supervisor's newest model without
        # counting a reload of its own
        assert _wait(lambda: server.output().count("Application startup complete") == 2)
        old = server.price(HOUSE)
        sum_model(model, 13, info().to_metadata())
        status, _, body = server.call("POST", "/v1/admin/reload")
        assert status == 200 and json.loads(body)["changed"] is True
        new = float(sum(json.loads(HOUSE).values()))
        # The other worker hears it from the supervisor within moments; then every answer is new.
        assert _wait(lambda: all(server.price(HOUSE) == pytest.approx(new) for _ in range(20)))
        assert old != pytest.approx(new)
        # one per worker; a worker counts its reload just after it swaps the model in
        counted = 'houseprice_model_reloads_total{result="success"} 2.0'
        assert _wait(lambda: counted in server.call("GET", "/metrics")[2].decode())


def test_a_dead_worker_is_replaced(model):
    with serving(model, "--workers", "2") as server:
        assert _wait(lambda: len(set(children(server.process.pid))) == 2)
        victim = min(set(children(server.process.pid)))
        os.kill(victim, signal.SIGKILL)
        assert _wait(lambda: victim not in set(children(server.process.pid)))
        assert _wait(lambda: len(set(children(server.process.pid))) == 2)
        assert all(
            server.call("GET", "/healthz", token=None)[0] == 200 for _ in range(10)
        ) and isinstance(server.price(HOUSE), float)


def test_stopping_leaves_nothing_behind(model, tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    with serving(model, "--workers", "2", env={"TMPDIR": str(scratch)}) as server:
        assert _wait(lambda: len(set(children(server.process.pid))) == 2)
        workers = set(children(server.process.pid))
        assert list(scratch.glob("hp-serve-metrics-*"))  # the workers' metrics folder
        server.process.send_signal(signal.SIGINT)
        assert server.process.wait(timeout=40) == -signal.SIGINT
    assert not any(alive(pid) for pid in workers)
    # (onnxruntime keeps a session-id file, .ses, in TMPDIR: its own, kept across runs)
    assert list(scratch.glob("hp-serve-metrics-*")) == []
    assert "Traceback" not in server.output() and "Finished server process" in server.output()


def test_killing_the_supervisor_takes_the_workers_with_it(model, tmp_path):
    """...and the next hp-serve removes the metrics folder the killed one could not."""
    scratch = {"TMPDIR": str(tmp_path)}
    with serving(model, "--workers", "2", env=scratch) as server:
        assert _wait(lambda: len(set(children(server.process.pid))) == 2)
        workers = set(children(server.process.pid))
        server.process.kill()
        server.process.wait(timeout=10)
        assert _wait(lambda: not any(alive(pid) for pid in workers))
    (left,) = tmp_path.glob(f"hp-serve-metrics-{server.process.pid}-*")
    with serving(model, "--workers", "2", env=scratch) as server:
        assert not left.exists()
        (own,) = tmp_path.glob("hp-serve-metrics-*")
        assert own.name.startswith(f"hp-serve-metrics-{server.process.pid}-")


def test_one_worker_stops_on_sigint_without_a_traceback(model):
    with serving(model, "--workers", "1") as server:
        assert set(children(server.process.pid)) == set()  # serves in the process itself
        assert isinstance(server.price(HOUSE), float)
        server.process.send_signal(signal.SIGINT)
        assert server.process.wait(timeout=40) == -signal.SIGINT
    assert "Traceback" not in server.output() and "Finished server process" in server.output()


def test_worker_count_is_checked(exported):
    for bad in ("0", "x", "100000"):
        result = run_cli("hp-serve", "--model", str(exported.onnx), "--workers", bad, timeout=60)
        assert result.returncode == 2 and b"not a worker count" in result.stderr, result.stderr
        assert result.stderr.count(b"\n") == 1


def test_workers_that_keep_dying_stop_the_supervisor():
    from houseprice.serve.workers import QUICK_DEATHS_ALLOWED, Supervisor, WorkersFailed

    starts = []
    supervisor = Supervisor(1, serve=lambda: os._exit(3), on_worker_exit=starts.append)
    with pytest.raises(WorkersFailed, match="right after starting"):
        supervisor.run()
    assert len(starts) == QUICK_DEATHS_ALLOWED and supervisor.workers == {}


def test_a_reload_asked_for_while_a_worker_starts_reaches_it(tmp_path):
    """The worker was forked with the old model: a SIGHUP during its start must not be lost."""
    import threading

    from houseprice.serve.workers import Supervisor, accept_reloads

    outcome = tmp_path / "outcome"
    supervisor_pid = os.getpid()

    def serve() -> None:
        time.sleep(0.6)  # starting: importing, loading the model it was forked with
        reloads = []
        signal.signal(signal.SIGHUP, lambda signum, frame: reloads.append(signum))
        accept_reloads()
        _wait(lambda: bool(reloads), seconds=3)
        outcome.write_text("reloaded" if reloads else "missed")
        os.kill(supervisor_pid, signal.SIGTERM)

    supervisor = Supervisor(1, serve)

    def reload_once_forked() -> None:  # while the worker is still starting (0.6 s)
        _wait(lambda: bool(supervisor.workers), seconds=10)
        os.kill(supervisor_pid, signal.SIGHUP)

    threading.Thread(target=reload_once_forked, daemon=True).start()
    assert supervisor.run() == signal.SIGTERM
    assert outcome.read_text() == "reloaded"


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_sighup_while_the_server_starts_reloads_it_instead_of_ending_it(model, tmp_path, workers):
    newer = sum_model(tmp_path / "newer.onnx", 13, info().to_metadata())

    def replace_and_reload(process) -> None:  # e.g. a deploy that reloads what systemd just started
        os.replace(newer, model)
        process.send_signal(signal.SIGHUP)

    with serving(model, "--workers", workers, on_start_line=replace_and_reload) as server:
        new = float(sum(json.loads(HOUSE).values()))
        assert server.process.poll() is None, server.output()
        assert _wait(lambda: all(server.price(HOUSE) == pytest.approx(new) for _ in range(10)))


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_burst_of_sighups_ends_on_the_newest_model(model, workers):
    with serving(model, "--workers", workers) as server:
        sum_model(model, 13, info().to_metadata())
        for _ in range(5):  # e.g. `systemctl reload` run twice in a row: none may deadlock
            server.process.send_signal(signal.SIGHUP)
            time.sleep(0.005)
        new = float(sum(json.loads(HOUSE).values()))
        assert _wait(lambda: all(server.price(HOUSE) == pytest.approx(new) for _ in range(10)))
        assert server.call("GET", "/healthz", token=None)[0] == 200
