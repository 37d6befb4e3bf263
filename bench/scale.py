"""The scale run: hp-infer on a generated JSON Lines file, timed, and its memory sampled."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np

from houseprice.bench.cold import hp_infer_command


def scale(
    model: Path, features: tuple[str, ...], houses: np.ndarray, rows: int, folder: Path, runs: int
) -> dict[str, float]:
    """hp-infer on a generated JSON Lines file: houses/s end to end (median of ``runs``) and the
    peak memory of its process tree."""
    path = folder / "houses.jsonl"
    write_jsonl(path, features, houses, rows)
    command = [hp_infer_command(), str(path), "--model", str(model)]
    # Timed runs are left alone: reading /proc/PID/smaps_rollup every 10 ms walks the page
    # tables of every process, and made the 1M-house run ~1.5x slower on 2 CPUs (4.4-5.1 s
    # instead of 2.8-3.0 s). One more run samples memory.
    timed = [_measured_run(command, sample_memory=False) for _ in range(runs)]
    measured = [*timed, _measured_run(command, sample_memory=True)]
    seconds = statistics.median(run["seconds"] for run in timed)
    # The same houses as two writers and a merge would leave them: three line shapes, mixed.
    mixed = folder / "houses-mixed.jsonl"
    write_jsonl(mixed, features, houses, rows, shapes=3)
    mixed_command = [hp_infer_command(), str(mixed), "--model", str(model)]
    mixed_runs = [_measured_run(mixed_command, sample_memory=False) for _ in range(runs)]
    mixed_seconds = statistics.median(run["seconds"] for run in mixed_runs)
    # The yardstick the throughput targets are ratios to: a bare json.loads loop over the same
    # files, whole processes timed the same way, interleaved in the same run.
    bare = [[sys.executable, "-c", BARE_JSON_LOOP, str(p)] for p in (path, mixed)]
    bare_seconds = [
        statistics.median(_measured_run(c, sample_memory=False)["seconds"] for _ in range(runs))
        for c in bare
    ]
    # Peak PSS of the whole process tree, sampled every 10 ms, and never below the peak RSS of
    # the largest single process (which the kernel tracks exactly); the worst run counts.
    peak_kb = max(max(run["tree_peak_kb"], run["maxrss_kb"]) for run in measured)
    largest_kb = max(run["maxrss_kb"] for run in measured)
    return {
        "houses": rows,
        "file_mb": path.stat().st_size / 1e6,
        "seconds": seconds,
        "houses_per_s": rows / seconds,
        "mixed_shapes_houses_per_s": rows / mixed_seconds,
        "bare_json_loads_houses_per_s": rows / bare_seconds[0],
        "bare_json_loads_mixed_houses_per_s": rows / bare_seconds[1],
        "peak_rss_mb": peak_kb / 1024,
        "largest_process_rss_mb": largest_kb / 1024,
        "runs": runs,
    }


BARE_JSON_LOOP = "import json, sys\nfor line in open(sys.argv[1], 'rb'):\n    json.loads(line)"


def _measured_run(command: list[str], sample_memory: bool) -> dict[str, float]:
    # Spawned from a small helper: a child forked from this torch-laden process would count our
    # pages in its peak RSS. The helper reports its child's own figures.
    helper = [sys.executable, "-c", SPAWN_AND_MEASURE, "sample" if sample_memory else "time"]
    result = subprocess.run([*helper, *command], capture_output=True, text=True, check=True)
    measured = json.loads(result.stdout)
    if measured["exit"] != 0:
        raise RuntimeError(f"hp-infer exited {measured['exit']} on the scale file")
    return measured


SPAWN_AND_MEASURE = """
import json, os, sys, time

def memory_kb(pid):
    # PSS (shared pages split among the processes sharing them): forked workers share much of
    # the parent's memory, which summed RSS would count once per process. RSS where no PSS.
    for path, key in ((f"/proc/{pid}/smaps_rollup", "Pss:"), (f"/proc/{pid}/status", "VmRSS:")):
        try:
            with open(path) as lines:
                return sum(int(l.split()[1]) for l in lines if l.startswith(key))
        except OSError:
            continue
    return 0

def tree_memory_kb(root):
    # Summed over root and its descendants (Linux /proc): hp-infer may run worker processes.
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += memory_kb(pid)
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as children:
                todo += [int(c) for c in children.read().split()]
        except OSError:
            pass
    return total

sample, command = sys.argv[1] == "sample", sys.argv[2:]
start = time.perf_counter()
with open(os.devnull, "wb") as null:
    pid = os.posix_spawn(command[0], command, os.environ,
                         file_actions=[(os.POSIX_SPAWN_DUP2, null.fileno(), 1)])
peak = 0
while sample:
    done, status, usage = os.wait4(pid, os.WNOHANG)
    if done:
        break
    peak = max(peak, tree_memory_kb(pid))
    time.sleep(0.01)
if not sample:
    _, status, usage = os.wait4(pid, 0)
print(json.dumps({"seconds": time.perf_counter() - start, "maxrss_kb": usage.ru_maxrss,
                  "tree_peak_kb": peak, "exit": os.waitstatus_to_exitcode(status)}))
"""


def write_jsonl(
    path: Path, features: tuple[str, ...], houses: np.ndarray, rows: int, shapes: int = 1
) -> None:
    """``rows`` JSON Lines houses, cycling through ``houses`` (columns named by ``features``).
    ``shapes`` 2 or 3: line i takes shape i % shapes (1: keys reversed; 2: no spaces)."""
    lines = []
    for i, row in enumerate(houses):
        record = dict(zip(features, (float(v) for v in row), strict=True))
        shape = i % shapes
        if shape == 1:
            record = dict(reversed(record.items()))
        separators = (",", ":") if shape == 2 else None
        lines.append(json.dumps(record, separators=separators) + "\n")
    with path.open("w") as handle:
        for start in range(0, rows, len(lines)):
            handle.writelines(lines[: min(len(lines), rows - start)])
