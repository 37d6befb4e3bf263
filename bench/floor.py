"""The floor rows: what the machine does with this model and no runtime around it.

- a bare run of the same file (one house; the whole batch in one call), called as the runtime
  calls onnxruntime (`session_runner`: the compiled session, no per-call checks);
- the fused model's arithmetic in numpy (from the checkpoint, so it needs torch; one BLAS thread,
  so it needs threadpoolctl), the batch in the runtime's blocks.
Every other row is then shown as a multiple of the fastest floor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from houseprice.bench.records import FLOOR_NUMPY, FLOOR_RUN, FLOORS, UNFUSED_RUN, Row
from houseprice.bench.timing import Candidate
from houseprice.runtime.engines import ONNX_BLOCK_ROWS as BLOCK_ROWS
from houseprice.runtime.onnx_session import session_runner


def floor_candidates(model: Path, checkpoint: Path, x_batch: np.ndarray) -> list[Candidate | Row]:
    return [_bare_run(model, x_batch), _numpy_arithmetic(checkpoint, x_batch)]


# `hp-train` then `hp-export --format onnx` at commit f7e6e9e (the default recipe and export
# before the fused graph: 26 nodes, 37,945 bytes); a copy, so the yardstick never moves.
UNFUSED_REFERENCE = Path(__file__).with_name("unfused_reference.onnx")


def unfused_candidate(x_batch: np.ndarray) -> Candidate | Row:
    """A bare session.run of the fixed unfused reference file: the runtime's targets are ratios to
    it. Only for models of the bundled data's 13 features."""
    if x_batch.shape[1] != 13:
        return Row(UNFUSED_RUN, "skipped: the reference file takes the bundled data's 13 features")
    return _bare_run(UNFUSED_REFERENCE, x_batch, UNFUSED_RUN, lean=False)


def _bare_run(
    model: Path, x_batch: np.ndarray, name: str = FLOOR_RUN, lean: bool = True
) -> Candidate:
    """One file run bare. ``lean``: called as the runtime calls onnxruntime (the floor's leanest
    call); otherwise through the public session.run, as the yardstick is timed."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    one = x_batch[:1].copy()
    row = Row(name, file_bytes=model.stat().st_size)
    run = session_runner(session) if lean else lambda x: session.run(["price"], {"features": x})[0]
    return Candidate(row, lambda: run(one), run)


def _numpy_arithmetic(checkpoint: Path, x_batch: np.ndarray) -> Candidate | Row:
    try:  # torch first: the usual reason this row is skipped
        from houseprice.export.fused import FusedPriceMLP
        from houseprice.train.checkpoint import load_checkpoint
    except ImportError as exc:
        return Row(FLOOR_NUMPY, f"skipped: {exc.name} not installed")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError as exc:
        return Row(FLOOR_NUMPY, f"skipped: {exc.name} not installed (limits numpy to one thread)")
    try:
        fused = FusedPriceMLP(load_checkpoint(checkpoint).model)
    except Exception as exc:  # a missing or broken checkpoint only fails its own row
        return Row(FLOOR_NUMPY, f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:80]}")
    weights = {k: v.numpy() for k, v in fused.state_dict().items()}
    forward = _arithmetic(weights, fused.n_logged, fused.log_target)
    threadpool_limits(1)  # like every other row, one thread (for the rest of this process)

    def batch(x: np.ndarray) -> np.ndarray:
        out = np.empty(len(x), np.float32)
        for start in range(0, len(x), BLOCK_ROWS):
            out[start : start + BLOCK_ROWS] = forward(x[start : start + BLOCK_ROWS])
        return out

    one = x_batch[:1].copy()
    return Candidate(Row(FLOOR_NUMPY), lambda: forward(one), batch)


def _arithmetic(weights: dict[str, np.ndarray], n_logged: int, log_target: bool) -> Any:
    # numpy's best form of the same arithmetic: the fused column order (logged columns first, as
    # the selection's one-hot rows say), log1p on the logged ones only, in place.
    order = weights["select"][:-1].argmax(axis=1)
    w1, b1 = weights["w1t"][:-1].copy(), weights["w1t"][-1]  # the ones column's row is the bias
    w2, b2 = weights["w2"][0], weights["b2"][0]
    zeros = np.zeros((BLOCK_ROWS, len(w2)), np.float32)  # numpy's maximum is ~4x faster so

    def forward(x: np.ndarray) -> np.ndarray:
        z = x[:, order]
        z[:, :n_logged] = np.log1p(np.maximum(z[:, :n_logged], 0))
        hidden = z @ w1 + b1
        y = np.maximum(hidden, zeros[: len(hidden)], out=hidden) @ w2 + b2
        return np.exp(y) if log_target else y

    return forward


def compare_to_floor(rows: list[Row]) -> None:
    """Fill every non-floor row's multiples of the fastest floor row."""
    floors = [r for r in rows if r.name in FLOORS and r.status == "ok"]
    best_p50 = min((r.p50_us for r in floors if r.p50_us), default=None)
    best_rate = max((r.houses_per_s for r in floors if r.houses_per_s), default=None)
    for row in rows:
        if row.name in FLOORS or row.status != "ok":
            continue
        if best_p50 and row.p50_us:
            row.p50_x_floor = row.p50_us / best_p50
        if best_rate and row.houses_per_s:
            row.batch_x_floor = best_rate / row.houses_per_s
