from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from houseprice.train.split import SplitError, holdout_split, kfold_splits


def test_seed_split_is_the_reference_split():
    train, test = holdout_split(506, "tutorial", 0.2, seed=123)
    np.testing.assert_array_equal(train, np.arange(496))
    np.testing.assert_array_equal(test, np.arange(496, 506))


def test_shuffle_split_is_seeded_and_disjoint():
    a_train, a_test = holdout_split(506, "shuffle", 0.2, seed=1)
    _, b_test = holdout_split(506, "shuffle", 0.2, seed=1)
    c_train, _ = holdout_split(506, "shuffle", 0.2, seed=2)
    np.testing.assert_array_equal(a_test, b_test)
    assert not np.array_equal(a_train, c_train)
    assert len(a_test) == 101 and not set(a_train) & set(a_test)
    assert sorted([*a_train, *a_test]) == list(range(506))


@given(n=st.integers(10, 600), k=st.integers(2, 5), seed=st.integers(0, 2**32 - 1))
def test_cv_folds_never_share_rows_and_cover_all(n: int, k: int, seed: int):
    folds = kfold_splits(n, k, seed)
    tests = [set(test.tolist()) for _, test in folds]
    for i, (train, test) in enumerate(folds):
        assert not set(train.tolist()) & set(test.tolist())
        assert len(train) + len(test) == n
        for j in range(i):
            assert not tests[i] & tests[j]
    assert set().union(*tests) == set(range(n))


def test_too_small_data_is_a_split_error():
    with pytest.raises(SplitError):
        holdout_split(10, "tutorial", 0.2, 0)
    with pytest.raises(SplitError):
        kfold_splits(5, 5, 0)
    with pytest.raises(SplitError):
        kfold_splits(100, 1, 0)
