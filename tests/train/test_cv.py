from __future__ import annotations

import numpy as np
import pytest

from houseprice.train.config import TrainConfig
from houseprice.train.cv import (
    Candidate,
    CVScore,
    cross_validate,
    fold_seed,
    sklearn_available,
)
from houseprice.train.split import kfold_splits

QUICK = TrainConfig(epochs=8, members=2, batch_size=64, val_fraction=0.2, patience=3)


def _candidates() -> list[Candidate]:
    found = [Candidate("mlp", "mlp", QUICK), Candidate("linear", "linear")]
    if sklearn_available():
        found.append(Candidate("gbr", "gbr", seed=0))
    return found


def test_repeat_zero_is_the_plain_run_of_the_seed_and_later_repeats_differ():
    assert fold_seed(7, 0) == 7
    plain = kfold_splits(506, 5, 7)
    again = kfold_splits(506, 5, fold_seed(7, 0))
    later = [kfold_splits(506, 5, fold_seed(7, r)) for r in (1, 2)]
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(plain, again, strict=True))
    tests = [{tuple(t) for _, t in folds} for folds in (plain, *later)]
    assert tests[0] != tests[1] and tests[1] != tests[2] and tests[0] != tests[2]


def test_one_repeat_gives_todays_folds(boston):
    [score] = cross_validate(boston, [Candidate("linear", "linear")], 3, 1, seed=4)
    expected = []
    for train, test in kfold_splits(boston.n_rows, 3, 4):
        design = np.column_stack([boston.features[train], np.ones(len(train))])
        coef, *_ = np.linalg.lstsq(design, boston.target[train], rcond=None)
        pred = np.column_stack([boston.features[test], np.ones(len(test))]) @ coef
        expected.append(float(np.sqrt(np.mean((pred - boston.target[test]) ** 2))))
    assert score.fold_rmse == pytest.approx(expected, rel=1e-12)


@pytest.mark.slow
def test_worker_processes_give_bit_identical_folds(boston):
    candidates = _candidates()
    here = cross_validate(boston, candidates, 3, 2, seed=0, jobs=1)
    there = cross_validate(boston, candidates, 3, 2, seed=0, jobs=2)
    assert [s.name for s in there] == [c.name for c in candidates]
    for a, b in zip(here, there, strict=True):
        assert a.fold_rmse == b.fold_rmse  # exact, not approximate
        assert len(a.fold_rmse) == 6 and all(np.isfinite(a.fold_rmse))


def test_progress_is_called_once_per_fit(boston):
    calls = []
    cross_validate(boston, [Candidate("linear", "linear")], 4, 3, on_fit=lambda: calls.append(1))
    assert len(calls) == 12


def test_score_statistics_over_repeats():
    score = CVScore("m", 2, [1.0, 3.0, 2.0, 2.0, 4.0, 6.0])
    assert score.mean == pytest.approx(3.0)
    assert score.repeat_means == [2.0, 2.0, 5.0]
    assert score.repeat_std == pytest.approx(np.std([2.0, 2.0, 5.0], ddof=1))
    assert CVScore("m", 3, [1.0, 2.0, 3.0]).repeat_std is None
    assert CVScore("m", 3, [1.0, 2.0, 3.0]).to_dict()["rmse_std_over_repeats"] is None
