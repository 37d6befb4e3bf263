"""serve/metrics_folder: the workers' metrics folder is named by the supervisor's pid, and a new
hp-serve removes the folders of supervisors that were killed before they could (SIGKILL), and
nothing else (tests/serve/test_workers.py kills a real one)."""

from __future__ import annotations

import os

from houseprice.serve.metrics_folder import sweep_dead_servers
from tests.processes import dead_pid


def test_only_our_dead_servers_folders_are_swept(tmp_path):
    dead, live = dead_pid(), os.getpid()
    doomed = tmp_path / f"hp-serve-metrics-{dead}-ab_12cd"
    doomed.mkdir()
    (doomed / "counter_1.db").write_bytes(b"x")
    kept = [
        tmp_path / f"hp-serve-metrics-{live}-ab_12cd",  # a running server's
        tmp_path / "hp-serve-metrics-ab_12cd",  # no pid in the name
        tmp_path / f"other-{dead}-ab_12cd",
        tmp_path / f"hp-serve-metrics-{dead}-",  # not a name mkdtemp gives
    ]
    for path in kept:
        path.mkdir()
    a_file = tmp_path / f"hp-serve-metrics-{dead}-file0001"
    a_file.write_bytes(b"not a folder")
    target = tmp_path / "target"
    target.mkdir()
    link = tmp_path / f"hp-serve-metrics-{dead}-link0001"
    link.symlink_to(target)
    assert sweep_dead_servers(tmp_path) == [doomed]
    assert not doomed.exists()
    assert all(p.is_dir() for p in [*kept, target]) and a_file.is_file() and link.is_symlink()


def test_a_scratch_folder_that_cannot_be_read_sweeps_nothing(tmp_path):
    assert sweep_dead_servers(tmp_path / "missing") == []
