"""The C export on emulated microcontroller boards (qemu-system-arm): build the exported files
as they are with a small harness, run every house on the board, and report prices, return codes,
instructions per house, stack and flash. Used by the tests and ``hp-bench --mcu``."""

from houseprice.mcu.boards import BOARDS, Board
from houseprice.mcu.build import BoardBuild, McuToolError, build_for
from houseprice.mcu.run import BoardRun, run_on

__all__ = ["BOARDS", "Board", "BoardBuild", "BoardRun", "McuToolError", "build_for", "run_on"]
