"""The boards, as Debian's qemu-system-arm 7.2 emulates them, and how to compile for each."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Board:
    name: str  # qemu's machine name
    core: str
    cpu_flags: tuple[str, ...]
    flash: tuple[int, int]  # origin, bytes
    ram: tuple[int, int]
    clock_hz: int  # what SysTick counts: the processor clock

    @property
    def ns_per_tick(self) -> float:
        """Under -icount shift=0 an instruction takes 1 ns of virtual time."""
        return 1e9 / self.clock_hz


BOARDS = {
    board.name: board
    for board in (
        Board(
            "mps2-an386",
            "Cortex-M4F",
            ("-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"),
            (0x00000000, 4 << 20),
            (0x20000000, 4 << 20),
            25_000_000,
        ),
        Board(
            "mps2-an385",
            "Cortex-M3",
            ("-mcpu=cortex-m3", "-mthumb", "-mfloat-abi=soft"),
            (0x00000000, 4 << 20),
            (0x20000000, 4 << 20),
            25_000_000,
        ),
        Board(
            "microbit",
            "Cortex-M0 (nRF51822)",
            ("-mcpu=cortex-m0", "-mthumb", "-mfloat-abi=soft"),
            (0x00000000, 256 << 10),
            (0x20000000, 16 << 10),
            16_000_000,
        ),
    )
}
