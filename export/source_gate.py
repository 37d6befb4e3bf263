"""The parity gate's forward passes for the source exports, run for real: the C files compiled
with ``$CC`` (or ``cc``) into a small harness, the ES module run by ``node``. Each builds in a
temporary folder that the caller's ExitStack removes."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from houseprice.export.c_source import HEADER_NAME, SOURCE_NAME
from houseprice.export.errors import ConversionError, MissingToolError
from houseprice.export.js_source import MODULE_NAME
from houseprice.export.parity import Forward

# Every warning is an error: the generated file must stay clean C99 for any user's build.
C_FLAGS = ("-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic")
RUN_SECONDS = 120
_COMPLAINT = re.compile(r": (fatal error|error|warning): |^\w*Error: ")

# Reads n rows of float32 features on stdin, writes n float32 prices (inf when the model
# refuses the price) on stdout. For an integer export (its header defines HOUSEPRICE_Q16) the
# harness converts to and from Q16.16 as a float caller would: rounded half away from zero.
_C_HARNESS = """\
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "houseprice_model.h"

static int price_of(const float *features, float *price)
{
#ifdef HOUSEPRICE_Q16
    int32_t features_q16[HOUSEPRICE_N_FEATURES], price_q16;
    int i, code;
    for (i = 0; i < HOUSEPRICE_N_FEATURES; ++i) {
        double value = (double)features[i] * 65536.0;
        if (!(value > -2147483648.5 && value < 2147483647.5)) {
            return HOUSEPRICE_ERR_INPUT;
        }
        features_q16[i] = (int32_t)(value >= 0.0 ? value + 0.5 : value - 0.5);
    }
    code = houseprice_predict_q16(features_q16, &price_q16);
    if (code == HOUSEPRICE_OK) {
        *price = (float)(price_q16 / 65536.0);
    }
    return code;
#else
    return houseprice_predict(features, price);
#endif
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 0, row;
    float features[HOUSEPRICE_N_FEATURES], price;
    for (row = 0; row < n; ++row) {
        if (fread(features, sizeof features, 1, stdin) != 1) {
            return 2;
        }
        if (price_of(features, &price) != HOUSEPRICE_OK) {
            price = INFINITY;
        }
        if (fwrite(&price, sizeof price, 1, stdout) != 1) {
            return 3;
        }
    }
    return 0;
}
"""
# Reads rows as JSON on stdin, writes raw prices as JSON (non-finite ones as strings).
_NODE_RUNNER = """\
import { predictUnchecked } from "./MODULE";
let text = "";
for await (const chunk of process.stdin) text += chunk;
const prices = predictUnchecked(JSON.parse(text));
const shown = Array.from(prices, (p) => (Number.isFinite(p) ? p : String(p)));
process.stdout.write(JSON.stringify(shown));
""".replace("MODULE", MODULE_NAME)


def c_compiler() -> list[str]:
    """The compiler command: $CC (which may carry flags) or cc, or MissingToolError."""
    command = shlex.split(os.environ.get("CC", "") or "cc")
    if not shutil.which(command[0]):
        raise MissingToolError(
            f"the c format's parity gate needs a C compiler ({command[0]!r} not found): "
            "apt-get install gcc, or set CC"
        )
    return command


def node() -> str:
    found = shutil.which("node")
    if not found:
        raise MissingToolError(
            "the js format's parity gate needs node (not found): apt-get install nodejs"
        )
    return found


def c_forward(stack: ExitStack, header: bytes, source: bytes) -> Forward:
    compiler, folder = c_compiler(), _folder(stack)
    binary = build_c_harness(folder, compiler, header, source)
    return lambda x: run_c_harness([str(binary)], folder, x)


def build_c_harness(folder: Path, compiler: list[str], header: bytes, source: bytes) -> Path:
    """The exported files and the harness compiled in ``folder`` with ``compiler`` (which may be
    a cross compiler, flags included): the harness binary."""
    return build_c(folder, compiler, header, source, ("harness.c", _C_HARNESS), "harness")


def build_c(
    folder: Path,
    compiler: list[str],
    header: bytes,
    source: bytes,
    main: tuple[str, str],
    output: str,
    options: tuple[str, ...] = (),
) -> Path:
    """The exported files and ``main`` (file name, C text) compiled in ``folder`` into
    ``output`` with C_FLAGS and ``options`` (``-shared`` for a library); ConversionError, naming
    the first complaint, if they do not compile cleanly."""
    (folder / HEADER_NAME).write_bytes(header)
    (folder / SOURCE_NAME).write_bytes(source)
    (folder / main[0]).write_text(main[1])
    command = [*compiler, *C_FLAGS, *options, main[0], SOURCE_NAME, "-lm", "-o", output]
    built = _run(command, folder)
    if built.returncode != 0:
        raise ConversionError(f"the C export does not compile cleanly: {_first_line(built)}")
    return folder / output


def run_c_harness(command: list[str], folder: Path, x: np.ndarray) -> np.ndarray:
    """Prices of the rows ``x`` from the harness run by ``command`` (the binary, or an emulator
    and the binary); inf where the C function refused the price."""
    rows = np.ascontiguousarray(x, dtype=np.float32)
    done = _run([*command, str(len(rows))], folder, rows.tobytes())
    if done.returncode != 0:
        raise ConversionError(f"the C harness failed (exit {done.returncode})")
    return np.frombuffer(done.stdout, dtype=np.float32)


def js_forward(stack: ExitStack, module: bytes) -> Forward:
    program, folder = node(), _folder(stack)
    (folder / MODULE_NAME).write_bytes(module)
    (folder / "run.mjs").write_text(_NODE_RUNNER)

    def forward(x: np.ndarray) -> np.ndarray:
        rows = json.dumps(np.asarray(x, dtype=np.float32).tolist()).encode()
        done = _run([program, "run.mjs"], folder, rows)
        if done.returncode != 0:
            raise ConversionError(f"the JS module failed in node: {_first_line(done)}")
        return np.array([float(p) for p in json.loads(done.stdout)], dtype=np.float32)

    return forward


def _folder(stack: ExitStack) -> Path:
    return Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hp-export-gate-")))


def _run(command: list[str], folder: Path, data: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=folder, input=data, capture_output=True, timeout=RUN_SECONDS)


def _first_line(done: subprocess.CompletedProcess) -> str:
    """The tool's first complaint: the compiler's first error or warning line, not the "In file
    included from ..." context before it; node's error ("SyntaxError: ..."), not the file name
    and source line it prints first."""
    lines = done.stderr.decode(errors="replace").strip().splitlines()
    complaints = [line for line in lines if _COMPLAINT.search(line)]
    return (complaints or lines or [f"exit {done.returncode}"])[0]
