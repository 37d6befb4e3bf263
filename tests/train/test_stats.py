from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from houseprice.train.stats import paired_difference, t_quantile

scipy_stats = pytest.importorskip("scipy.stats")  # in the dev extra, through scikit-learn


@pytest.mark.parametrize("df", [1, 2, 3, 4, 5, 9, 24, 49, 124])
def test_t_quantile_matches_scipy(df: int):
    exact = scipy_stats.t.ppf(0.975, df)
    tolerance = 1.3e-3 if df < 9 else 1e-5  # the bounds the docstring states
    assert t_quantile(0.975, df) == pytest.approx(exact, rel=tolerance)


def test_interval_is_the_corrected_t_interval():
    ours, theirs = [3.0, 2.8, 3.4, 3.1, 2.9], [3.2, 3.1, 3.3, 3.4, 3.0]
    d = np.subtract(ours, theirs)
    got = paired_difference("a", ours, "b", theirs, test_to_train=0.25)
    half = scipy_stats.t.ppf(0.975, 4) * math.sqrt(d.var(ddof=1) * (1 / 5 + 0.25))
    assert got.mean == pytest.approx(d.mean())
    assert got.high - got.mean == pytest.approx(half, rel=1e-3)
    # The correction widens the naive interval (which would treat folds as independent).
    naive = scipy_stats.t.ppf(0.975, 4) * math.sqrt(d.var(ddof=1) / 5)
    assert got.high - got.mean > 1.4 * naive


def test_verdicts():
    base = [3.0, 3.2, 2.9, 3.1, 3.3, 3.0]
    noisy = [b - 0.5 + 0.01 * (i % 2) for i, b in enumerate(base)]
    assert paired_difference("a", noisy, "b", base, 0.25).verdict == "better"
    worse = [b + 0.5 + 0.01 * (i % 2) for i, b in enumerate(base)]
    assert paired_difference("a", worse, "b", base, 0.25).verdict == "worse"
    mixed = [b + (0.3 if i % 2 else -0.3) for i, b in enumerate(base)]
    assert paired_difference("a", mixed, "b", base, 0.25).verdict == "tie"


def test_one_fold_is_not_enough():
    with pytest.raises(ValueError, match="at least 2 folds"):
        paired_difference("a", [1.0], "b", [2.0], 0.25)


rmse = st.floats(0.5, 10, allow_nan=False)


@given(st.lists(st.tuples(rmse, rmse), min_size=2, max_size=30), st.floats(-2, 2))
def test_interval_holds_the_mean_and_moves_with_a_shift(pairs, shift):
    ours, theirs = [a for a, _ in pairs], [b for _, b in pairs]
    got = paired_difference("a", ours, "b", theirs, 0.25)
    assert got.low <= got.mean <= got.high
    moved = paired_difference("a", [a + shift for a in ours], "b", theirs, 0.25)
    assert moved.mean == pytest.approx(got.mean + shift, abs=1e-9)
    assert moved.high - moved.low == pytest.approx(got.high - got.low, abs=1e-9)
