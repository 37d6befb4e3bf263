"""The numpy backend: a ``model.npz`` (``hp-export --format npz``) read with
``numpy.load(..., allow_pickle=False)`` and run as the fused graph's arithmetic in numpy alone,
for platforms onnxruntime has no wheel for.

The archive holds the fused model (export/fused.py) and the same metadata record an ONNX file
carries. Its arithmetic follows the ONNX graph step for step, so prices agree with onnxruntime's
within float32 rounding:
  z = [x[:, order], 1]; z[:, :k] = log(max(z[:, :k] + 1, 1)); h = relu(z w1); y = h w2 + b2,
then exp(y) for a log target.
"""

from __future__ import annotations

import io
import json
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from houseprice.core.errors import ModelError
from houseprice.runtime.contract import INPUT_NAME, OUTPUT_NAME
from houseprice.runtime.npz_archive import read_members

# A house far outside the training range overflows float32 on the way (the price is then refused
# as non-finite, as with onnxruntime); numpy would also print a RuntimeWarning for it. This filter
# matches only warnings raised in this module's own arithmetic, and costs nothing per call, where
# np.errstate costs ~2 us, a fifth of a one-house run. A caller's own filters (`-W error`) come
# before it: the runner then sees the warning as an exception and computes again under errstate.
warnings.filterwarnings("ignore", category=RuntimeWarning, module=__name__)

FORMAT = "houseprice-npz/1"


@dataclass(frozen=True)
class NpzModel:
    metadata: dict[str, str]
    order: np.ndarray  # (F,) input column of each z column: the logged ones first
    n_logged: int
    log_target: bool
    w1: np.ndarray  # (F + 1, H) float32, the bias as the last row
    w2: np.ndarray  # (H,) float32
    b2: np.ndarray  # (1,) float32

    @property
    def n_features(self) -> int:
        return len(self.order)

    def signature(self) -> dict[str, list[dict[str, object]]]:
        """The same description an ONNX file's session gives."""
        return {
            "inputs": [
                {"name": INPUT_NAME, "type": "tensor(float)", "shape": ["batch", self.n_features]}
            ],
            "outputs": [{"name": OUTPUT_NAME, "type": "tensor(float)", "shape": ["batch"]}],
        }

    def runner(self, block_rows: int) -> Callable[[np.ndarray], np.ndarray]:
        """x (n, F) float32 -> prices (n,) float32: few numpy calls for a few rows, the bias
        as a ones column for many (adding it to a (rows, H) product costs as much as the ReLU).
        Blocks of up to ``block_rows`` rows take their maxima (the ReLU, the log's floor) against
        a block of the bound: numpy's maximum with an array is ~4x faster than with a scalar
        (measured: numpy 2.4, 1,024 x 500 float32, 44 against 167 us), with the same values."""
        order, k, w1, w2, b2 = self.order, self.n_logged, self.w1, self.w2, self.b2
        width, log_target = len(order), self.log_target
        logged, raw = order[:k].copy(), order[k:].copy()
        w1_features, b1 = np.ascontiguousarray(w1[:width]), w1[width].copy()
        zeros = np.zeros((block_rows, w1.shape[1]), np.float32)
        ones = np.ones((block_rows, k), np.float32)

        def at_least(values: np.ndarray, bound: np.ndarray, fill: float) -> np.ndarray:
            """max(values, fill) in place, against a block of the fill value when one fits."""
            rows = len(values)
            return np.maximum(values, bound[:rows] if rows <= block_rows else fill, out=values)

        def relu(hidden: np.ndarray) -> np.ndarray:
            return at_least(hidden, zeros, 0.0)

        def few(x: np.ndarray) -> np.ndarray:
            z = x[:, order]
            if k:
                part = z[:, :k]
                part += 1.0
                np.log(at_least(part, ones, 1.0), out=part)
            hidden = np.dot(z, w1_features)
            hidden += b1
            y = np.dot(relu(hidden), w2)
            y += b2
            return np.exp(y, out=y) if log_target else y

        def many(x: np.ndarray) -> np.ndarray:
            z = np.empty((len(x), width + 1), np.float32)
            if k:  # on a contiguous copy: numpy's log is vectorized only there
                part = x[:, logged]
                part += 1.0
                z[:, :k] = np.log(at_least(part, ones, 1.0), out=part)
            z[:, k:width] = x[:, raw]
            z[:, width] = 1.0
            hidden = np.dot(z, w1)
            y = np.dot(relu(hidden), w2)
            y += b2
            return np.exp(y, out=y) if log_target else y

        logged_columns, raw_columns = logged.tolist(), raw.tolist()
        w1_row, zero_row, bias = np.ascontiguousarray(w1), zeros[0], float(b2[0])

        def one(x: np.ndarray) -> np.ndarray:
            """One house, its scalar steps in Python (numpy's per-call cost is most of the work
            for 13 values): log(max(z + 1, 1)) and the last bias and exp in float64, each
            rounded to float32 once. Within float32 rounding of `few` (tested), ~1.5 us faster."""
            v = x[0].tolist()
            logs = [math.log(v[j] + 1.0) if v[j] > 0.0 else 0.0 for j in logged_columns]
            z = np.array([*logs, *[v[j] for j in raw_columns], 1.0], np.float32)
            hidden = np.dot(z, w1_row)
            y = float(np.dot(np.maximum(hidden, zero_row, out=hidden), w2)) + bias
            if log_target:  # min keeps a NaN (min(nan, c) is nan); beyond float32 is inf
                y = math.exp(min(y, _EXP_LIMIT))
            return np.array([y], np.float32)

        def arithmetic(x: np.ndarray) -> np.ndarray:
            rows = len(x)
            return one(x) if rows == 1 else few(x) if rows <= _FEW_ROWS else many(x)

        def run(x: np.ndarray) -> np.ndarray:
            try:
                return arithmetic(x)
            except RuntimeWarning:  # warnings made errors by the caller: overflow, quietly
                with np.errstate(all="ignore"):
                    return arithmetic(x)

        return run


# Below this many rows the per-call overhead of building z with a ones column outweighs the
# bias addition it saves (measured: docs/performance.md, the numpy rows of hp-bench).
_FEW_ROWS = 64
_EXP_LIMIT = 709.0  # math.exp raises above ~709.78; exp(709) is already inf in float32


def to_bytes(model: NpzModel) -> bytes:
    """The archive: uncompressed (a few kB of weights; np.load maps it straight in)."""
    buffer = io.BytesIO()
    np.savez(
        buffer,
        format=np.array(FORMAT),
        metadata=np.array(json.dumps(model.metadata, sort_keys=True)),
        order=model.order.astype(np.int64),
        n_logged=np.array(model.n_logged, np.int64),
        log_target=np.array(model.log_target),
        w1=model.w1.astype(np.float32),
        w2=model.w2.astype(np.float32),
        b2=model.b2.astype(np.float32),
    )
    return buffer.getvalue()


def from_bytes(data: bytes, source: str) -> NpzModel:
    """Read and check an archive: ModelError naming what is wrong, never numpy's own error."""
    arrays = read_members(data, source)
    if str(arrays["format"]) != FORMAT:
        raise ModelError(
            f"{source}: a numpy archive of format {str(arrays['format'])[:40]!r}, "
            f"this runtime reads {FORMAT!r}"
        )
    try:
        metadata = json.loads(str(arrays["metadata"]))
    except RecursionError:
        raise ModelError(f"{source}: damaged model archive: metadata nested too deeply") from None
    except ValueError:
        raise ModelError(f"{source}: damaged model archive: metadata is not JSON") from None
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise ModelError(f"{source}: damaged model archive: metadata is not a string mapping")
    model = NpzModel(
        metadata=metadata,
        order=arrays["order"].astype(np.intp),
        n_logged=int(arrays["n_logged"]),
        log_target=bool(arrays["log_target"]),
        w1=np.ascontiguousarray(arrays["w1"], np.float32),
        w2=np.ascontiguousarray(arrays["w2"], np.float32),
        b2=np.ascontiguousarray(arrays["b2"], np.float32),
    )
    problem = _problem(model)
    if problem:
        raise ModelError(f"{source}: damaged model archive: {problem}")
    return model


def _problem(model: NpzModel) -> str | None:
    """What is wrong with the values of an archive whose shapes read_members has checked."""
    width = model.n_features
    if sorted(model.order.tolist()) != list(range(width)):
        return "order is not a permutation of the feature columns"
    if not 0 <= model.n_logged <= width:
        return f"n_logged is {model.n_logged} for {width} features"
    for name in ("w1", "w2", "b2"):
        if not np.isfinite(getattr(model, name)).all():
            return f"{name} holds NaN or infinity"
    return None
