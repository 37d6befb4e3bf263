"""Build the exported C files, unchanged, with the harness for one board
(arm-none-eabi-gcc, newlib's semihosting library), and measure what they take: the model
object's flash and RAM, the whole image's."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from houseprice.mcu.boards import Board

HEADER_NAME, SOURCE_NAME = "houseprice_model.h", "houseprice_model.c"
TOOLCHAIN_PACKAGES = ("gcc-arm-none-eabi", "libnewlib-arm-none-eabi")
STACK_BYTES = 4096  # the stack the linker script sets aside, painted to measure the model's use
# The model's own compile: -O2 (the choice, measured against -Os in docs/performance.md),
# FMA contraction (a multiply-add is one vfma where the FPU has it; gcc's -std=c99 turns it
# off otherwise), each function and constant in its own section so the link drops the unused.
MODEL_FLAGS = ("-std=c99", "-ffp-contract=fast", "-ffunction-sections", "-fdata-sections")
OPTIMIZE = "-O2"
WARNINGS = ("-Wall", "-Wextra", "-Werror")
RUN_SECONDS = 120


class McuToolError(Exception):
    """A program the boards need is not installed, or a build failed."""


@dataclass(frozen=True)
class BoardBuild:
    board: Board
    folder: Path
    elf: Path
    model_flash: int  # bytes of the model object's code and constants (text, rodata)
    model_ram: int  # its data and bss: 0 for an export with no writable state
    image_flash: int  # the whole image: vectors, harness, newlib's parts, the model
    image_ram: int  # the whole image's data and bss (the stack comes on top)
    q16: bool  # an integer export: houses and prices in Q16.16
    float_routines: tuple[str, ...]  # soft-float and conversion routines linked into the image


def tool(name: str, packages: tuple[str, ...] = TOOLCHAIN_PACKAGES) -> str:
    found = shutil.which(name)
    if not found:
        raise McuToolError(
            f"{name} not found: apt-get install {' '.join(packages)} (as root; "
            "make test installs them)"
        )
    return found


def build_for(
    board: Board, header: bytes, source: bytes, folder: Path, optimize: str = OPTIMIZE
) -> BoardBuild:
    """The harness and the exported files compiled and linked for ``board`` in ``folder``
    (the model with ``optimize``: -O2, or -Os to compare)."""
    gcc = [tool("arm-none-eabi-gcc"), *board.cpu_flags]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / HEADER_NAME).write_bytes(header)
    (folder / SOURCE_NAME).write_bytes(source)
    for name in ("startup.c", "harness.c"):
        (folder / name).write_text(_resource(name))
    (folder / "board.ld").write_text(_linker_script(board))
    _run([*gcc, optimize, *MODEL_FLAGS, *WARNINGS, "-c", SOURCE_NAME, "-o", "model.o"], folder)
    for name in ("startup", "harness"):
        # unified syntax in the inline assembly on Thumb-1 (Cortex-M0) too
        flags = ["-std=gnu99", "-O2", "-masm-syntax-unified", *WARNINGS]
        _run([*gcc, *flags, "-c", f"{name}.c", "-o", f"{name}.o"], folder)
    link = ["-nostartfiles", "--specs=rdimon.specs", "-Wl,--gc-sections", "-T", "board.ld"]
    _run([*gcc, *link, "startup.o", "harness.o", "model.o", "-lm", "-o", "board.elf"], folder)
    model_text, model_data, model_bss = _sizes(folder / "model.o")
    text, data, bss = _sizes(folder / "board.elf")
    return BoardBuild(
        board,
        folder,
        folder / "board.elf",
        model_text,
        model_data + model_bss,
        text + data,
        data + bss,
        b"#define HOUSEPRICE_Q16 " in header,
        _float_routines(folder / "board.elf"),
    )


# The ARM run-time ABI's floating-point helpers (__aeabi_fadd, __aeabi_dmul, __aeabi_f2iz, ...)
# and libgcc's own (__addsf3, __floatsisf, ...): what soft float links.
_FLOAT_ROUTINE = re.compile(r"^(__aeabi_[fd]\w*|__aeabi_[iul]+2[fd]\w*|__\w+[sdx]f\d?)$")


def _float_routines(elf: Path) -> tuple[str, ...]:
    names = _run([tool("arm-none-eabi-nm"), "--defined-only", str(elf)], elf.parent).stdout
    found = {line.split()[-1] for line in names.splitlines() if line.split()}
    return tuple(sorted(name for name in found if _FLOAT_ROUTINE.match(name)))


def _linker_script(board: Board) -> str:
    values = {
        "FLASH_ORIGIN": hex(board.flash[0]),
        "FLASH_SIZE": hex(board.flash[1]),
        "RAM_ORIGIN": hex(board.ram[0]),
        "RAM_SIZE": hex(board.ram[1]),
        "STACK_SIZE": hex(STACK_BYTES),
    }
    text = _resource("board.ld.in")
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    return text


def _resource(name: str) -> str:
    return resources.files("houseprice.mcu").joinpath(name).read_text()


def _sizes(path: Path) -> tuple[int, int, int]:
    """text, data, bss as arm-none-eabi-size counts them (text includes rodata)."""
    done = _run([tool("arm-none-eabi-size"), str(path)], path.parent)
    text, data, bss = (int(v) for v in done.stdout.splitlines()[1].split()[:3])
    return text, data, bss


def _run(command: list[str], folder: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=RUN_SECONDS)
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[0]
        raise McuToolError(f"{Path(command[0]).name} failed: {first}")
    return done
