"""The floor rows compute what the model computes, and every other row is measured against them."""

from __future__ import annotations

import numpy as np

from houseprice.bench.floor import _arithmetic, compare_to_floor
from houseprice.bench.records import FLOOR_NUMPY, FLOOR_RUN, RUNTIME_ARRAY, Row
from houseprice.data import load_dataset
from houseprice.export.fused import FusedPriceMLP
from houseprice.runtime.predictor import Predictor
from houseprice.train.checkpoint import load_checkpoint


def test_the_numpy_floor_prices_as_the_runtime_does(exported):
    fused = FusedPriceMLP(load_checkpoint(exported.checkpoint).model)
    weights = {k: v.numpy() for k, v in fused.state_dict().items()}
    forward = _arithmetic(weights, fused.n_logged, fused.log_target)
    x = load_dataset().features.astype(np.float32)
    expected = Predictor.load(exported.onnx).predict_array(x)
    np.testing.assert_allclose(forward(x), expected, rtol=1e-5)


def test_rows_are_multiples_of_the_fastest_floor():
    rows = [
        Row(FLOOR_RUN, p50_us=10.0, houses_per_s=1_000_000.0),
        Row(FLOOR_NUMPY, p50_us=8.0, houses_per_s=2_000_000.0),
        Row(RUNTIME_ARRAY, p50_us=20.0, houses_per_s=500_000.0),
        Row("skipped row", status="skipped: torch not installed"),
    ]
    compare_to_floor(rows)
    assert (rows[2].p50_x_floor, rows[2].batch_x_floor) == (2.5, 4.0)
    assert all(
        r.p50_x_floor is None and r.batch_x_floor is None for r in (rows[0], rows[1], rows[3])
    )
