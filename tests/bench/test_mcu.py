"""`hp-bench --mcu`: a row per board and arithmetic, from real runs under qemu-system-arm; without
the emulator or the cross compiler, one line naming the apt packages and exit 6."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from houseprice.export.config import ARITHMETIC
from houseprice.mcu import BOARDS
from tests.conftest import assert_one_line_error, run_cli

pytestmark = pytest.mark.slow


def test_quick_json_has_a_measured_row_per_board_and_arithmetic(exported):
    from houseprice.bench.mcu import format_mcu  # imports torch: not at collection

    args = ["--model", str(exported.onnx), "--checkpoint", str(exported.checkpoint)]
    result = run_cli("hp-bench", "--mcu", "--quick", "--json", *args, timeout=600)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [(r["arith"], r["board"]) for r in rows] == [
        (arith, board) for arith in ARITHMETIC for board in BOARDS
    ]
    for row in rows:
        assert row["model_ram"] == 0 and row["model_flash"] > 1000 and row["stack"] > 0
        assert row["instructions_median"] > 1000 and 0.98 < row["calibration"] < 1.02
        bound = {"float32": 1e-5, "int16": 1e-3, "int8": 5e-2}[row["arith"]]
        assert row["refused"] == 0 and row["max_rel_diff"] < bound, row
    # the table of the same rows (a second whole run would only repeat the measurements)
    table = format_mcu(rows).splitlines()
    assert "instr/house" in table[0] and len(table) >= 1 + len(rows)


def test_without_qemu_it_names_the_package(exported, tmp_path):
    # a PATH with the cross compiler but no qemu-system-arm
    (tmp_path / "bin").mkdir()
    for name in ("arm-none-eabi-gcc",):
        os.symlink(shutil.which(name), tmp_path / "bin" / name)
    env_path = f"{tmp_path / 'bin'}"
    result = run_cli_env({"PATH": env_path}, "hp-bench", "--mcu", "--model", str(exported.onnx))
    assert_one_line_error(
        result, 6, "qemu-system-arm not found: apt-get install qemu-system-arm", "hp-bench"
    )


def run_cli_env(env: dict[str, str], *args: str):
    import subprocess

    from tests.conftest import script

    return subprocess.run(
        [script(args[0]), *args[1:]], capture_output=True, env={**os.environ, **env}, timeout=120
    )
