"""The C floor row prices what the runtime prices, one house or a batch, and says why when it
cannot run."""

from __future__ import annotations

import numpy as np

from houseprice.bench.c_floor import c_candidate
from houseprice.bench.records import FLOOR_C
from houseprice.data import load_dataset
from houseprice.runtime.predictor import Predictor


def test_the_c_floor_prices_as_the_runtime_does(exported, tmp_path):
    x = load_dataset().features.astype(np.float32)
    expected = Predictor.load(exported.onnx).predict_array(x)
    candidate = c_candidate(exported.checkpoint, x, tmp_path)
    assert candidate.row.name == FLOOR_C and candidate.row.status == "ok"
    np.testing.assert_allclose(candidate.batch(x), expected, rtol=1e-5)
    np.testing.assert_allclose(candidate.single(), expected[:1], rtol=1e-5)


def test_without_a_c_compiler_the_row_says_so(exported, tmp_path, monkeypatch):
    monkeypatch.setenv("CC", "no-such-cc")
    row = c_candidate(exported.checkpoint, np.zeros((4, 13), np.float32), tmp_path)
    assert row.name == FLOOR_C and row.status.startswith("skipped: the c format's parity gate")
