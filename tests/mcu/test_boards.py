"""The C export, as exported, on emulated boards under qemu-system-arm (Cortex-M4F, M3 and M0):
every house of the data set priced on the board within 1e-5 of onnxruntime, a NaN and an
infinite feature refused with HOUSEPRICE_ERR_INPUT, the stack within the header's bound, and the
instruction count calibrated. Needs `qemu-system-arm gcc-arm-none-eabi libnewlib-arm-none-eabi`
(make test installs them); without them each test fails naming the apt-get install."""

from __future__ import annotations

import re

import numpy as np
import pytest

from houseprice.data import load_dataset
from houseprice.mcu import BOARDS, McuToolError, build_for, run_on
from tests.conftest import BOUND, relative_diff

pytestmark = pytest.mark.slow
OK, ERR_INPUT = 0, 2


def stack_bound(header: bytes) -> int:
    """HOUSEPRICE_STACK_BYTES as the header states it: (256 + 4 * HOUSEPRICE_N_FEATURES)."""
    n = int(re.search(rb"#define HOUSEPRICE_N_FEATURES (\d+)", header)[1])
    base, per = re.search(
        rb"#define HOUSEPRICE_STACK_BYTES \((\d+) \+ (\d+) \* HOUSEPRICE_N_FEATURES\)", header
    ).groups()
    return int(base) + int(per) * n


def with_bad_rows(rows: np.ndarray) -> np.ndarray:
    """The houses, then the first house with a NaN, +inf and -inf in turn."""
    bad = np.repeat(rows[:1], 3, axis=0)
    bad[0, 3], bad[1, 5], bad[2, 12] = np.nan, np.inf, -np.inf
    return np.concatenate([rows, bad])


@pytest.mark.parametrize("board", list(BOARDS))
def test_every_house_on_the_board(board, sources, onnx_prices, tmp_path):
    rows, prices = onnx_prices
    header = (sources / "houseprice_model.h").read_bytes()
    source = (sources / "houseprice_model.c").read_bytes()
    try:
        build = build_for(BOARDS[board], header, source, tmp_path / board)
        run = run_on(build, with_bad_rows(rows))
    except McuToolError as exc:
        pytest.fail(str(exc))
    n = len(rows)
    assert (run.codes[:n] == OK).all() and (run.codes[n:] == ERR_INPUT).all(), run.codes[n:]
    assert relative_diff(run.prices[:n], prices) < BOUND
    assert run.stack.max() <= stack_bound(header), run.stack.max()
    assert 0.98 < run.calibration < 1.02, run.calibration  # SysTick counts what we think
    assert build.model_ram == 0  # no writable state in the model: flash and stack only
    assert np.median(run.instructions[:n]) > 0


def test_the_m4f_prices_a_house_in_at_most_25000_instructions(default_sources, tmp_path):
    """The target for the default recipe's model (13 -> 500 -> 1) on the FPU board: each weight a
    load and a vfma; prices within 1e-5 of onnxruntime there too."""
    from houseprice.runtime.predictor import Predictor

    folder = default_sources["float32"]
    build = build_for(
        BOARDS["mps2-an386"],
        (folder / "houseprice_model.h").read_bytes(),
        (folder / "houseprice_model.c").read_bytes(),
        tmp_path,
    )
    rows = load_dataset().features.astype(np.float32)
    run = run_on(build, rows)
    assert np.median(run.instructions) <= 25_000, np.median(run.instructions)
    wanted = Predictor.load(folder / "model.onnx").predict_array(rows)
    assert relative_diff(run.prices, wanted) < BOUND


def test_a_missing_emulator_is_named_with_its_package(sources, tmp_path, monkeypatch):
    build = build_for(
        BOARDS["microbit"],
        (sources / "houseprice_model.h").read_bytes(),
        (sources / "houseprice_model.c").read_bytes(),
        tmp_path,
    )
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(
        McuToolError, match="qemu-system-arm not found: apt-get install qemu-system"
    ):
        run_on(build, np.zeros((1, 13), np.float32))
