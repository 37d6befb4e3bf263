"""The floor row of the C export: the model's C source (as `hp-export --format c` writes it)
compiled with ``-O2`` into a shared library and called through ctypes, one call per house, or one
call for the whole batch (its loop in C). Beside onnxruntime it shows how far the runtime is from
what the CPU does with no runtime at all."""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from houseprice.bench.records import FLOOR_C, Row
from houseprice.bench.timing import Candidate

# The batch loop, compiled beside the export: a row the C function refuses gets NaN.
_ROWS_LOOP = """\
#include <math.h>
#include "houseprice_model.h"

long houseprice_predict_rows(const float *rows, long n, float *prices)
{
    long i, refused = 0;
    for (i = 0; i < n; ++i) {
        if (houseprice_predict(rows + i * HOUSEPRICE_N_FEATURES, prices + i) != HOUSEPRICE_OK) {
            prices[i] = NAN;
            ++refused;
        }
    }
    return refused;
}
"""


def c_candidate(checkpoint: Path, x_batch: np.ndarray, folder: Path) -> Candidate | Row:
    """The row, or a Row saying why it was skipped (no torch to export with, no C compiler)."""
    try:  # torch first: the usual reason this row is skipped
        from houseprice.export.api import model_info
        from houseprice.export.c_source import export_c
        from houseprice.export.errors import ConversionError
        from houseprice.export.fused import FusedPriceMLP
        from houseprice.export.npz_export import fused_arrays
        from houseprice.export.source_gate import build_c, c_compiler
        from houseprice.train.checkpoint import load_checkpoint
    except ImportError as exc:
        return Row(FLOOR_C, f"skipped: {exc.name} not installed")
    try:
        compiler = c_compiler()
        trained = load_checkpoint(checkpoint)
        info = model_info(trained)
        header, source = export_c(fused_arrays(FusedPriceMLP(trained.model), info), info)
    except Exception as exc:  # a missing compiler or checkpoint only fails its own row
        return Row(FLOOR_C, f"skipped: {str(exc).splitlines()[0][:80]}")
    try:
        library = build_c(
            folder, compiler, header, source, ("rows.c", _ROWS_LOOP), "lib.so", ("-fPIC", "-shared")
        )
    except ConversionError as exc:
        return Row(FLOOR_C, f"failed: {exc}")
    return _candidate(ctypes.CDLL(str(library)), x_batch, len(source))


def _candidate(lib: ctypes.CDLL, x_batch: np.ndarray, size: int) -> Candidate:
    lib.houseprice_predict.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.houseprice_predict_rows.argtypes = [ctypes.c_void_p, ctypes.c_long, ctypes.c_void_p]
    lib.houseprice_predict_rows.restype = ctypes.c_long
    one = np.ascontiguousarray(x_batch[:1], dtype=np.float32)
    price = np.empty(1, np.float32)
    one_ptr, price_ptr = one.ctypes.data, price.ctypes.data

    def single(_alive: np.ndarray = one) -> np.ndarray:  # keeps the row the pointer points at
        lib.houseprice_predict(one_ptr, price_ptr)
        return price

    def batch(x: np.ndarray) -> np.ndarray:
        rows = np.ascontiguousarray(x, dtype=np.float32)
        prices = np.empty(len(rows), np.float32)
        lib.houseprice_predict_rows(rows.ctypes.data, len(rows), prices.ctypes.data)
        return prices

    return Candidate(Row(FLOOR_C, file_bytes=size), single, batch)
