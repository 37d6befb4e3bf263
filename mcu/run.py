"""Run a board build under qemu-system-arm with every house given, and read back what the
board computed: prices, return codes, instructions and stack per house."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

import numpy as np

from houseprice.mcu.build import BoardBuild, McuToolError, tool

QEMU_PACKAGES = ("qemu-system-arm",)
# One record per house, as the harness writes it (struct result in harness.c).
RESULT = np.dtype([("price", "<f4"), ("code", "<i4"), ("ticks", "<u4"), ("stack", "<u4")])
RESULT_Q16 = np.dtype([("price", "<i4"), ("code", "<i4"), ("ticks", "<u4"), ("stack", "<u4")])
_SUMMARY = re.compile(
    rb"houseprice-mcu: houses (\d+) calibration-ticks (\d+) calibration-instructions (\d+)"
)


@dataclass(frozen=True)
class BoardRun:
    build: BoardBuild
    prices: np.ndarray  # one per house, float32 or Q16.16 int32 (0 where the code is not OK)
    codes: np.ndarray  # houseprice_predict's return codes
    instructions: np.ndarray  # per house: SysTick ticks times the instructions per tick
    stack: np.ndarray  # bytes of stack each call used
    calibration: float  # instructions measured / known for a loop of known length (1.0 ideal)


def to_q16(houses: np.ndarray) -> np.ndarray:
    """Float rows as the integer export reads them: Q16.16, rounded half away from zero as its
    float convenience function does; beyond int32 saturated (the board refuses those)."""
    scaled = np.asarray(houses, dtype=np.float64) * 65536.0
    rounded = np.where(scaled >= 0, np.floor(scaled + 0.5), np.ceil(scaled - 0.5))
    return np.clip(np.nan_to_num(rounded, nan=2**31 - 1), -(2**31), 2**31 - 1).astype(np.int32)


def qemu_command(build: BoardBuild) -> list[str]:
    return [
        tool("qemu-system-arm", QEMU_PACKAGES),
        "-M",
        build.board.name,
        "-nographic",
        "-monitor",
        "none",
        "-icount",
        "shift=0",
        "-semihosting-config",
        "enable=on,target=native",
        "-kernel",
        str(build.elf),
    ]


def run_on(build: BoardBuild, houses: np.ndarray, seconds: float = 300) -> BoardRun:
    """Every row of ``houses`` (the model's feature order) priced on the board: float32 rows,
    or for an integer export int32 rows in Q16.16 (``to_q16``). Prices come back as given."""
    rows = np.ascontiguousarray(houses, dtype="<i4" if build.q16 else "<f4")
    (build.folder / "houses.bin").write_bytes(rows.tobytes())
    (build.folder / "results.bin").unlink(missing_ok=True)
    try:
        done = subprocess.run(
            qemu_command(build), cwd=build.folder, capture_output=True, timeout=seconds
        )
    except subprocess.TimeoutExpired:
        raise McuToolError(f"{build.board.name}: no answer within {seconds:g} s") from None
    summary = _SUMMARY.search(done.stdout)
    if done.returncode != 0 or summary is None:
        said = (done.stdout + done.stderr).decode(errors="replace").strip().splitlines()
        raise McuToolError(
            f"{build.board.name}: the board run failed (exit {done.returncode}): "
            f"{said[-1] if said else 'no output'}"
        )
    layout = RESULT_Q16 if build.q16 else RESULT
    results = np.frombuffer((build.folder / "results.bin").read_bytes(), dtype=layout)
    if len(results) != len(rows) or int(summary[1]) != len(rows):
        raise McuToolError(f"{build.board.name}: {len(results)} results for {len(rows)} houses")
    per_tick = build.board.ns_per_tick
    calibration = int(summary[2]) * per_tick / int(summary[3])
    return BoardRun(
        build,
        results["price"].copy(),
        results["code"].copy(),
        results["ticks"].astype(np.float64) * per_tick,
        results["stack"].copy(),
        calibration,
    )
