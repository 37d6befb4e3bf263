"""`hp-bench --mcu`: the C export on each emulated board (houseprice.mcu), for each arithmetic
the C export offers: flash and RAM of the model object and of the whole image, the stack a call
takes, instructions per house, and the largest relative difference from onnxruntime over the
data set's houses. The C files are exported from the checkpoint (each through the parity gate)
into a temporary folder."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from houseprice.export.api import export_model
from houseprice.export.config import ARITHMETIC, ExportConfig
from houseprice.mcu import BOARDS, build_for, run_on
from houseprice.mcu.run import to_q16
from houseprice.runtime.predictor import Predictor

HEADER, SOURCE = "houseprice_model.h", "houseprice_model.c"


def run_mcu_bench(model: Path, checkpoint: Path, houses: np.ndarray) -> list[dict[str, object]]:
    """One row per board and arithmetic."""
    wanted = Predictor.load(model).predict_array(houses)
    rows = []
    with tempfile.TemporaryDirectory(prefix="hp-bench-mcu-") as folder:
        for arith in ARITHMETIC:
            out = Path(folder) / arith
            export_model(checkpoint, out, ["c"], ExportConfig(arith=arith))
            header, source = (out / HEADER).read_bytes(), (out / SOURCE).read_bytes()
            for board in BOARDS.values():
                build = build_for(board, header, source, out / board.name)
                run = run_on(build, to_q16(houses) if build.q16 else houses)
                rows.append(_row(arith, build, run, wanted))
    return rows


def _row(arith: str, build, run, wanted: np.ndarray) -> dict[str, object]:
    priced = run.codes == 0
    prices = run.prices.astype(np.float64) / (65536.0 if build.q16 else 1.0)
    rel = np.abs(prices[priced] - wanted[priced]) / np.abs(wanted[priced])
    return {
        "board": build.board.name,
        "core": build.board.core,
        "arith": arith,
        "model_flash": build.model_flash,
        "model_ram": build.model_ram,
        "image_flash": build.image_flash,
        "stack": int(run.stack.max()),
        "instructions_median": float(np.median(run.instructions)),
        "instructions_max": float(run.instructions.max()),
        "refused": int((~priced).sum()),
        "max_rel_diff": float(rel.max()) if priced.any() else None,
        "calibration": round(run.calibration, 4),
    }


def format_mcu(rows: list[dict[str, object]]) -> str:
    head = (
        f"{'board':<12}{'core':<22}{'arith':<9}{'model flash':>12}{'RAM':>5}{'image':>8}"
        f"{'stack':>7}{'instr/house':>13}{'max rel diff':>14}"
    )
    lines = [head]
    for r in rows:
        rel = "-" if r["max_rel_diff"] is None else f"{r['max_rel_diff']:.2g}"
        lines.append(
            f"{r['board']:<12}{r['core']:<22}{r['arith']:<9}{r['model_flash']:>12,}"
            f"{r['model_ram']:>5}{r['image_flash']:>8,}{r['stack']:>7}"
            f"{r['instructions_median']:>13,.0f}{rel:>14}"
        )
    lines.append(
        "(bytes; instructions per house: median over the data set's houses, from SysTick under "
        "qemu -icount shift=0; max rel diff against onnxruntime on the host)"
    )
    return "\n".join(lines)
