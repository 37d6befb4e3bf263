"""Measurements behind `hp-bench`. Every figure is a median over repeats after warm-up, one thread.

Torch rows import torch lazily, so on a torch-free install only the runtime rows are measured.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from houseprice.data import DEFAULT_TARGET, DataError, Dataset, load_dataset
from houseprice.runtime.predictor import Predictor

# Row and cold-start names: shown in the report, and the keys the targets look them up by.
EAGER = "pytorch eager"
TORCHSCRIPT = "torchscript"
RUNTIME_DICT = "onnx runtime, predict(dict)"
RUNTIME_ARRAY = "onnx runtime, predict_array"
COLD_INFER = "hp-infer"
COLD_BARE = "python -c 'import onnxruntime, numpy'"
COLD_TORCH = "torch (TorchScript) script"


@dataclass(frozen=True)
class BenchSettings:
    single_calls: int = 5000  # single-house calls timed per row (after as many warm-up calls / 10)
    batch: int = 65_536
    batch_repeats: int = 7
    cold_runs: int = 11  # whole-process runs per command, interleaved
    scale_rows: int = 1_000_000  # houses in the generated JSON Lines file (0: skip)
    scale_runs: int = 3


QUICK = BenchSettings(
    single_calls=200, batch=1024, batch_repeats=2, cold_runs=1, scale_rows=2000, scale_runs=1
)


@dataclass
class Row:
    name: str
    status: str = "ok"
    file_bytes: int | None = None
    test_rmse: float | None = None
    p50_us: float | None = None
    p99_us: float | None = None
    houses_per_s: float | None = None


@dataclass
class Report:
    settings: BenchSettings
    rows: list[Row] = field(default_factory=list)
    cold_start_ms: dict[str, float] = field(default_factory=dict)
    scale: dict[str, float] = field(default_factory=dict)
    targets: list[dict[str, Any]] = field(default_factory=list)
    machine: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Candidate:
    """A row to measure: one house through ``single()``, a batch through ``batch(x)``."""

    row: Row
    single: Callable[[], object]
    batch: Callable[[np.ndarray], object]


def measure_side_by_side(
    candidates: list[Candidate], x: np.ndarray, settings: BenchSettings
) -> None:
    """Fill each row's latency and throughput, round-robin: call i of every candidate runs before
    call i+1 of any, so a burst of noise on this shared machine hits every row alike."""
    for c in candidates:  # warm-up
        for _ in range(max(10, settings.single_calls // 10)):
            c.single()
        c.batch(x)
    clock = time.perf_counter_ns
    times = np.empty((len(candidates), settings.single_calls))
    for i in range(settings.single_calls):
        for k, c in enumerate(candidates):
            start = clock()
            c.single()
            times[k, i] = clock() - start
    durations: list[list[float]] = [[] for _ in candidates]
    for _ in range(settings.batch_repeats):
        for k, c in enumerate(candidates):
            start = time.perf_counter()
            c.batch(x)
            durations[k].append(time.perf_counter() - start)
    for k, c in enumerate(candidates):
        c.row.p50_us = float(np.percentile(times[k], 50)) / 1000
        c.row.p99_us = float(np.percentile(times[k], 99)) / 1000
        c.row.houses_per_s = len(x) / statistics.median(durations[k])


def _rmse(pred: np.ndarray, truth: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(pred, np.float64) - truth) ** 2)))


def holdout_rows(
    predictor: Predictor, data: Dataset, houses: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """The bundled data's hold-out rows the model was tested on, if it was trained on that data.
    ``houses``: the data's features in the model's column order."""
    from houseprice.train.split import holdout_split  # numpy only, no torch

    config = predictor.info.config
    if predictor.info.data_sha256 != data.sha256 or "split" not in config:
        return None
    _, test = holdout_split(data.n_rows, config["split"], config["test_fraction"], config["seed"])
    return houses[test].astype(np.float32), data.target[test]


def runtime_candidates(model: Path, x_batch: np.ndarray,
                       test: tuple[np.ndarray, np.ndarray] | None) -> list[Candidate]:  # fmt: skip
    predictor = Predictor.load(model)
    house = dict(zip(predictor.feature_names, x_batch[0].tolist(), strict=True))
    row_array = x_batch[:1].copy()
    rows = [Row(RUNTIME_DICT), Row(RUNTIME_ARRAY)]
    singles = [lambda: predictor.predict(house), lambda: predictor.predict_array(row_array)]
    for row in rows:
        row.file_bytes = model.stat().st_size
        row.test_rmse = _rmse(predictor.predict_array(test[0]), test[1]) if test else None
    return [Candidate(r, f, predictor.predict_array) for r, f in zip(rows, singles, strict=True)]


def torch_candidates(checkpoint: Path, torchscript: Path, x_batch: np.ndarray,
                     test: tuple[np.ndarray, np.ndarray] | None) -> list[Candidate | Row]:  # fmt: skip
    """Candidates for PyTorch eager and TorchScript; a bare Row (skipped, failed) where not."""
    try:
        import torch
    except ImportError:
        reason = "skipped: torch not installed"
        return [Row(EAGER, reason), Row(TORCHSCRIPT, reason)]
    results: list[Candidate | Row] = []
    torch.set_num_threads(1)
    modules: list[tuple[Row, Callable[[], Any], Path]] = [
        (Row(EAGER), lambda: _load_eager(checkpoint), checkpoint),
        (Row(TORCHSCRIPT), lambda: _load_torchscript(torchscript), torchscript),
    ]
    for row, load, path in modules:
        try:
            module = load()
        except Exception as exc:  # a missing or broken file only fails its own row
            row.status = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:80]}"
            results.append(row)
            continue

        def forward(x: np.ndarray, module: Any = module) -> np.ndarray:
            with torch.inference_mode():
                return module(torch.from_numpy(x)).numpy()

        def single(module: Any = module, x1: Any = torch.from_numpy(x_batch[:1].copy())) -> object:
            with torch.inference_mode():
                return module(x1)

        row.file_bytes = path.stat().st_size
        row.test_rmse = _rmse(forward(test[0]), test[1]) if test else None
        results.append(Candidate(row, single, forward))
    return results


def _load_eager(checkpoint: Path) -> Any:
    from houseprice.train.checkpoint import load_checkpoint

    return load_checkpoint(checkpoint).model.eval()


def _load_torchscript(path: Path) -> Any:
    from houseprice.export.torchscript_export import load_torchscript

    return load_torchscript(path.read_bytes())[0].eval()


def batch_inputs(houses: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """n rows resampled from ``houses`` (features in the model's column order), float32."""
    rows = np.random.default_rng(seed).integers(0, len(houses), size=n)
    return np.ascontiguousarray(houses[rows], dtype=np.float32)


def hp_infer_command() -> str:
    return str(Path(sys.executable).parent / "hp-infer")


def _wall_ms(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (time.perf_counter() - start) * 1000


TORCH_ONE_HOUSE = """
import json, sys, torch
module = torch.jit.load(sys.argv[1])
house = json.load(open(sys.argv[2]))
x = torch.tensor([[float(house[n]) for n in json.loads(sys.argv[3])]])
print(json.dumps({"price": float(module(x)[0])}))
"""


def cold_start(model: Path, torchscript: Path, features: tuple[str, ...], x: np.ndarray,
               runs: int, folder: Path) -> dict[str, float]:  # fmt: skip
    """Median wall ms of whole processes, run interleaved so machine noise hits all alike."""
    house = folder / "house.json"
    house.write_text(json.dumps(dict(zip(features, x[0].tolist(), strict=True))))
    commands = {
        COLD_INFER: [hp_infer_command(), str(house), "--model", str(model)],
        COLD_BARE: [
            sys.executable,
            "-c",
            "import onnxruntime, numpy",
        ],
    }
    if torchscript.is_file() and _has_torch():
        commands[COLD_TORCH] = [
            sys.executable, "-c", TORCH_ONE_HOUSE, str(torchscript), str(house), json.dumps(features)
        ]  # fmt: skip
    times: dict[str, list[float]] = {name: [] for name in commands}
    for command in commands.values():
        _wall_ms(command)  # warm the page cache
    for _ in range(runs):
        for name, command in commands.items():
            times[name].append(_wall_ms(command))
    return {name: statistics.median(values) for name, values in times.items()}


def _has_torch() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


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
    # Peak PSS of the whole process tree, sampled every 10 ms, and never below the peak RSS of
    # the largest single process (which the kernel tracks exactly); the worst run counts.
    peak_kb = max(max(run["tree_peak_kb"], run["maxrss_kb"]) for run in measured)
    largest_kb = max(run["maxrss_kb"] for run in measured)
    return {"houses": rows, "file_mb": path.stat().st_size / 1e6, "seconds": seconds,
            "houses_per_s": rows / seconds, "peak_rss_mb": peak_kb / 1024,
            "largest_process_rss_mb": largest_kb / 1024, "runs": runs}  # fmt: skip


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


def write_jsonl(path: Path, features: tuple[str, ...], houses: np.ndarray, rows: int) -> None:
    """``rows`` JSON Lines houses, cycling through ``houses`` (columns named by ``features``)."""
    lines = [
        json.dumps(dict(zip(features, (float(v) for v in row), strict=True))) + "\n"
        for row in houses
    ]
    with path.open("w") as handle:
        for start in range(0, rows, len(lines)):
            handle.writelines(lines[: min(len(lines), rows - start)])


# Every target, always reported (measured None when its rows were not measured, e.g. without
# torch), found by the row constants above, never by retyped labels: a renamed row cannot drop one.
# (id, label, op, bound)
TARGETS = (
    ("dict_vs_eager", "single house, predict(dict) p50 / eager p50", "<=", 1.0),
    ("array_vs_eager", "single house, predict_array p50 / eager p50", "<=", 0.6),
    ("batch_vs_eager", "batch: runtime / eager houses/s", ">=", 1.2),
    ("infer_vs_torch_process", "hp-infer process / torch process", "<=", 0.15),
    ("infer_vs_bare_import", "hp-infer process / bare onnxruntime+numpy import", "<=", 1.3),
    ("jsonl_houses_per_s", "JSON Lines houses/s (scale run)", ">=", 200_000),
    ("jsonl_peak_mb", "JSON Lines peak memory (MB)", "<=", 300),
)


def evaluate_targets(report: Report) -> list[dict[str, Any]]:
    measured = _target_values(report)
    return [
        {"id": key, "target": label, "measured": measured.get(key), "bound": f"{op} {bound:g}",
         "met": _met(measured.get(key), op, bound)}
        for key, label, op, bound in TARGETS
    ]  # fmt: skip


def _met(value: float | None, op: str, bound: float) -> bool | None:
    """None when not measured; else whether the value is within the bound."""
    if value is None:
        return None
    return value <= bound if op == "<=" else value >= bound


def _target_values(report: Report) -> dict[str, float | None]:
    rows = {r.name: r for r in report.rows if r.status == "ok"}
    eager, mapping, array = rows.get(EAGER), rows.get(RUNTIME_DICT), rows.get(RUNTIME_ARRAY)
    cold, scale = report.cold_start_ms, report.scale or {}
    return {
        "dict_vs_eager": _ratio(mapping, eager, "p50_us"),
        "array_vs_eager": _ratio(array, eager, "p50_us"),
        "batch_vs_eager": _ratio(array, eager, "houses_per_s"),
        "infer_vs_torch_process": _share(cold, COLD_INFER, COLD_TORCH),
        "infer_vs_bare_import": _share(cold, COLD_INFER, COLD_BARE),
        "jsonl_houses_per_s": scale.get("houses_per_s"),
        "jsonl_peak_mb": scale.get("peak_rss_mb"),
    }


def _share(values: dict[str, float], top: str, bottom: str) -> float | None:
    return _divide(values.get(top), values.get(bottom))


def _ratio(a: Row | None, b: Row | None, attr: str) -> float | None:
    return _divide(getattr(a, attr, None), getattr(b, attr, None))


def _divide(top: float | None, bottom: float | None) -> float | None:
    """top / bottom, or None when either was not measured (or the bottom is 0)."""
    if top is None or not bottom:
        return None
    return top / bottom


def machine() -> dict[str, Any]:
    import platform

    import onnxruntime

    info = {"python": platform.python_version(), "cpus": os.cpu_count(), "machine": platform.machine(),
            "onnxruntime": onnxruntime.__version__, "numpy": np.__version__}  # fmt: skip
    try:
        import torch

        info["torch"] = torch.__version__
    except ImportError:
        info["torch"] = None
    return info


def run(
    model: Path,
    checkpoint: Path,
    torchscript: Path,
    settings: BenchSettings,
    data_path: Path | None = None,
    target: str | None = None,
) -> Report:
    """Every measurement, on houses from ``data_path`` (the bundled data when None), whose
    ``target`` column is split off (when None: the model's target in a user's file, MEDV in the
    bundled data). DataError if the data lacks a feature the model takes."""
    report = Report(settings, machine=machine())
    predictor = Predictor.load(model)
    if target is None:
        target = predictor.info.target_name if data_path else DEFAULT_TARGET
    data = load_dataset(data_path, target=target)
    try:
        houses = data.feature_matrix(predictor.feature_names)  # loaded once, in the model's order
    except DataError as exc:
        message = f"{exc}, which the model takes; pass the data it was trained on (--data)"
        raise DataError(message) from None
    x_batch = batch_inputs(houses, settings.batch)
    test = holdout_rows(predictor, data, houses)
    entries = torch_candidates(checkpoint, torchscript, x_batch, test)
    entries += runtime_candidates(model, x_batch, test)
    measure_side_by_side([e for e in entries if isinstance(e, Candidate)], x_batch, settings)
    report.rows = [e.row if isinstance(e, Candidate) else e for e in entries]
    with tempfile.TemporaryDirectory(prefix="hp-bench-") as folder:
        if settings.cold_runs:
            report.cold_start_ms = cold_start(model, torchscript, predictor.feature_names, x_batch,
                                              settings.cold_runs, Path(folder))  # fmt: skip
        if settings.scale_rows:
            report.scale = scale(
                model,
                predictor.feature_names,
                houses,
                settings.scale_rows,
                Path(folder),
                settings.scale_runs,
            )
    report.targets = evaluate_targets(report)
    return report
