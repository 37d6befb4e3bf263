"""What a benchmark run records: its settings, one row per format, and the whole report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Row and cold-start names: shown in the report, and the keys the targets look them up by.
EAGER = "pytorch eager"
TORCHSCRIPT = "torchscript"
RUNTIME_DICT = "onnx runtime, predict(dict)"
RUNTIME_ARRAY = "onnx runtime, predict_array"
NUMPY_DICT = "numpy backend (model.npz), predict(dict)"
NUMPY_ARRAY = "numpy backend (model.npz), predict_array"
LITERT_DICT = "litert (model.tflite), predict(dict)"
LITERT_ARRAY = "litert (model.tflite), predict_array"
PTE_RUN = "executorch (model.pte), forward"
FLOOR_RUN = "floor: bare session.run"
FLOOR_NUMPY = "floor: fused arithmetic, numpy"
FLOOR_C = "floor: C export (-O2), ctypes"
FLOORS = (FLOOR_RUN, FLOOR_NUMPY, FLOOR_C)
# The default model as exported before the fused graph (26 nodes), kept as a fixed yardstick.
UNFUSED_RUN = "reference: bare session.run, unfused file"
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
    # Times the floor (the fastest floor row): p50 / floor p50, floor houses/s / houses/s.
    p50_x_floor: float | None = None
    batch_x_floor: float | None = None


@dataclass
class Report:
    settings: BenchSettings
    rows: list[Row] = field(default_factory=list)
    cold_start_ms: dict[str, float] = field(default_factory=dict)
    scale: dict[str, float] = field(default_factory=dict)
    graph: dict[str, int | None] = field(default_factory=dict)
    targets: list[dict[str, Any]] = field(default_factory=list)
    machine: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
