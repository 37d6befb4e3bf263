"""The integer-only C export on the Cortex-M0 board (micro:bit, no FPU) and the M4F: the same
prices as the host build bit for bit, in at most 60,000 instructions a house on the M0, the model
object within 16 KB (int16) or 9 KB (int8) of flash, no RAM, no floating-point routine linked."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from houseprice.data import load_dataset
from houseprice.mcu import BOARDS, build_for, run_on
from houseprice.mcu.run import to_q16
from tests.mcu.test_boards import stack_bound

pytestmark = pytest.mark.slow
FLASH = {"int16": 16 * 1024, "int8": 9 * 1024}
SPECIAL = [-(2**31), 2**31 - 1, 0, -1, 30_000 * 65536]

# The host build: Q16.16 rows on stdin, each price and code on stdout.
_HOST_MAIN = r"""
#include <stdio.h>
#include <stdint.h>
#include "houseprice_model.h"
int main(void)
{
    int32_t features[HOUSEPRICE_N_FEATURES], price;
    while (fread(features, sizeof features, 1, stdin) == 1) {
        int code;
        price = 0;
        code = houseprice_predict_q16(features, &price);
        fwrite(&price, sizeof price, 1, stdout);
        fwrite(&code, sizeof code, 1, stdout);
    }
    return 0;
}
"""


def host_prices(folder, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    (folder / "host.c").write_text(_HOST_MAIN)
    built = subprocess.run(
        ["cc", "-std=c99", "-O2", "host.c", "houseprice_model.c", "-o", "host"],
        cwd=folder, capture_output=True, text=True,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    done = subprocess.run(["./host"], cwd=folder, input=rows.tobytes(), capture_output=True)
    out = np.frombuffer(done.stdout, dtype=[("price", "<i4"), ("code", "<i4")])
    return out["price"], out["code"]


def q16_rows() -> np.ndarray:
    """The data set's houses in Q16.16, then rows with each special int32 in each position."""
    houses = to_q16(load_dataset().features)
    special = []
    for column in range(houses.shape[1]):
        for value in SPECIAL:
            row = houses[0].copy()
            row[column] = value
            special.append(row)
    return np.concatenate([houses, np.array(special, dtype=np.int32)])


@pytest.mark.parametrize("board", ["microbit", "mps2-an386"])
@pytest.mark.parametrize("arith", ["int16", "int8"])
def test_integer_export_on_the_board(default_sources, tmp_path, arith, board):
    folder = default_sources[arith]
    header = (folder / "houseprice_model.h").read_bytes()
    source = (folder / "houseprice_model.c").read_bytes()
    build = build_for(BOARDS[board], header, source, tmp_path / board)
    rows = q16_rows()
    run = run_on(build, rows)
    host_price, host_code = host_prices(build.folder, rows)
    assert np.array_equal(run.codes, host_code)
    assert np.array_equal(run.prices, host_price)  # integer arithmetic: bit for bit
    n = len(load_dataset().features)
    assert (run.codes[:n] == 0).all()
    assert build.q16 and build.float_routines == ()  # no floating-point routine linked
    assert build.model_ram == 0
    assert run.stack.max() <= stack_bound(header)
    if board == "microbit":
        assert np.median(run.instructions[:n]) <= 60_000, np.median(run.instructions[:n])
        assert build.model_flash <= FLASH[arith], build.model_flash


def test_the_float_export_links_float_routines_on_the_m0(default_sources, tmp_path):
    """The check above can fail: the float export on the M0 links soft float."""
    folder = default_sources["float32"]
    build = build_for(
        BOARDS["microbit"],
        (folder / "houseprice_model.h").read_bytes(),
        (folder / "houseprice_model.c").read_bytes(),
        tmp_path,
    )
    assert "__aeabi_fmul" in build.float_routines and "__aeabi_fadd" in build.float_routines
