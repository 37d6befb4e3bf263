"""How many rows per `session.run` price a large input fastest: the measurement behind
`runtime.engines.ONNX_BLOCK_ROWS`. Rounds interleave the block sizes; medians. The answer depends on
the CPU (its caches and onnxruntime's kernels for it): rerun it on the machine you deploy to.

Run as: python -m houseprice.bench.blocks MODEL [ROUNDS]
"""

from __future__ import annotations

import sys
import time

import numpy as np

SIZES = (128, 256, 512, 1024, 2048, 4096, 8192, 65536)
ROWS = 65536


def measure(model: str, rounds: int = 7) -> dict[int, float]:
    """Median houses/s per block size, pricing the same ROWS houses each time."""
    from houseprice.data import load_dataset
    from houseprice.runtime.predictor import Predictor

    predictor = Predictor.load(model)
    rng = np.random.default_rng(0)
    base = load_dataset().features
    x = base[rng.integers(0, len(base), ROWS)] * rng.uniform(0.97, 1.03, (ROWS, base.shape[1]))
    x = x.astype(np.float32)
    rates: dict[int, list[float]] = {size: [] for size in SIZES}
    for _ in range(rounds):
        for size in SIZES:
            start = time.perf_counter()
            for row in range(0, ROWS, size):
                predictor.predict_unchecked(x[row : row + size])
            rates[size].append(ROWS / (time.perf_counter() - start))
    return {size: float(np.median(r)) for size, r in rates.items()}


if __name__ == "__main__":
    for size, rate in measure(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 7).items():
        print(f"block {size:>6}: {rate / 1e6:.2f} M houses/s")
