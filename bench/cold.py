"""Cold start: whole processes pricing one house, interleaved."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from houseprice.bench.edge import cold_commands
from houseprice.bench.records import COLD_BARE, COLD_INFER, COLD_TORCH


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


def cold_start(
    model: Path,
    torchscript: Path,
    features: tuple[str, ...],
    x: np.ndarray,
    runs: int,
    folder: Path,
) -> dict[str, float]:
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
            sys.executable,
            "-c",
            TORCH_ONE_HOUSE,
            str(torchscript),
            str(house),
            json.dumps(features),
        ]
    commands.update(cold_commands(model, house))
    times: dict[str, list[float]] = {name: [] for name in commands}
    if runs > 1:  # a figure: warm the page cache first (one run, as --quick's, only checks)
        for command in commands.values():
            _wall_ms(command)
    for _ in range(runs):
        for name, command in commands.items():
            times[name].append(_wall_ms(command))
    return {name: statistics.median(values) for name, values in times.items()}


def _has_torch() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None
