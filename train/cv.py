"""Repeated K-fold cross-validation: every candidate model on the same folds, fits in parallel.

A fit is a pure function of (candidate, training rows): the MLP seeds itself from its config and
trains on one thread, gradient boosting has a fixed random_state, least squares has no randomness.
So a fold gives the same RMSE, bit for bit, in this process or in a worker process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from houseprice.data import Dataset
from houseprice.train.config import TUTORIAL_RECIPE, TrainConfig
from houseprice.train.fit import fit, predict
from houseprice.train.metrics import regression_metrics
from houseprice.train.split import kfold_splits

Kind = Literal["mlp", "linear", "gbr"]
# The slowest kinds go first, so the last fits to finish are short ones (better packing).
_COST_ORDER = {"mlp": 0, "gbr": 1, "linear": 2}


@dataclass(frozen=True)
class Candidate:
    """A model under comparison, as data (so it travels to a worker process)."""

    name: str
    kind: Kind
    config: TrainConfig | None = None  # for "mlp"
    seed: int = 0  # for "gbr"


OURS = "houseprice (this config)"


def comparison_candidates(config: TrainConfig, with_gbr: bool) -> list[Candidate]:
    """What `hp-train --cv` compares on the same folds; `config` is the candidate called OURS."""
    candidates = [
        Candidate(
            "tutorial recipe (--recipe tutorial)", "mlp", replace(TUTORIAL_RECIPE, seed=config.seed)
        ),
        Candidate(OURS, "mlp", config),
        Candidate("linear least squares", "linear"),
    ]
    if with_gbr:
        candidates.append(
            Candidate("GradientBoostingRegressor (sklearn default)", "gbr", seed=config.seed)
        )
    return candidates


def sklearn_available() -> bool:
    try:
        import sklearn.ensemble  # noqa: F401
    except ImportError:
        return False
    return True


def fit_predictor(
    candidate: Candidate, x: np.ndarray, y: np.ndarray
) -> Callable[[np.ndarray], np.ndarray]:
    """Fit the candidate on (x, y); return a predictor of new rows."""
    if candidate.kind == "mlp":
        assert candidate.config is not None
        model = fit(x, y, candidate.config).model
        return lambda rows: predict(model, rows)
    if candidate.kind == "linear":  # ordinary least squares with an intercept
        coef, *_ = np.linalg.lstsq(np.column_stack([x, np.ones(len(x))]), y, rcond=None)
        return lambda rows: np.column_stack([rows, np.ones(len(rows))]) @ coef
    from sklearn.ensemble import GradientBoostingRegressor

    return GradientBoostingRegressor(random_state=candidate.seed).fit(x, y).predict


@dataclass(frozen=True)
class CVScore:
    """One candidate's test RMSE on every fold, in (repeat, fold) order."""

    name: str
    folds: int
    fold_rmse: list[float] = field(default_factory=list)

    @property
    def mean(self) -> float:
        return float(np.mean(self.fold_rmse))

    @property
    def std(self) -> float:
        """Spread over folds (all repeats together)."""
        return float(np.std(self.fold_rmse))

    @property
    def repeat_means(self) -> list[float]:
        return [float(m) for m in np.reshape(self.fold_rmse, (-1, self.folds)).mean(axis=1)]

    @property
    def repeat_std(self) -> float | None:
        """Sample standard deviation of the per-repeat means (None with one repeat)."""
        means = self.repeat_means
        return float(np.std(means, ddof=1)) if len(means) > 1 else None

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "rmse_mean": self.mean,
            "rmse_std": self.std,
            "rmse_std_over_repeats": self.repeat_std,
            "repeat_mean": self.repeat_means,
            "fold_rmse": self.fold_rmse,
        }


def fold_seed(seed: int, repeat: int) -> int | tuple[int, int]:
    """The shuffle of repeat r: repeat 0 is `seed` itself (so --repeats 1 is the plain K-fold run
    of that seed), later ones are (seed, r), unrelated to any other integer seed's shuffle."""
    return seed if repeat == 0 else (seed, repeat)


@dataclass(frozen=True)
class _Fit:
    candidate: int
    slot: int  # repeat * k + fold
    train_rows: np.ndarray
    test_rows: np.ndarray


def _plan(n_rows: int, candidates: list[Candidate], k: int, repeats: int, seed: int) -> list[_Fit]:
    splits = [s for r in range(repeats) for s in kfold_splits(n_rows, k, fold_seed(seed, r))]
    fits = [
        _Fit(c, slot, train, test)
        for c in range(len(candidates))
        for slot, (train, test) in enumerate(splits)
    ]
    return sorted(fits, key=lambda f: _COST_ORDER[candidates[f.candidate].kind])


def cross_validate(
    data: Dataset,
    candidates: list[Candidate],
    k: int,
    repeats: int = 1,
    seed: int = 0,
    jobs: int = 1,
    on_fit: Callable[[], None] | None = None,
) -> list[CVScore]:
    """Test RMSE of every candidate on the same K x R seeded folds; every statistic a model uses
    (scaling, early stopping) comes from its training rows only."""
    plan = _plan(data.n_rows, candidates, k, repeats, seed)
    rmse = np.full((len(candidates), k * repeats), np.nan)
    if jobs <= 1:
        results = _in_process(data, candidates, plan)
    else:
        results = _in_workers(data, candidates, plan, jobs)
    with closing(results):  # a signal raised here, not in the generator, still stops the workers
        for job, value in results:
            rmse[job.candidate, job.slot] = value
            if on_fit is not None:
                on_fit()
    return [CVScore(c.name, k, [float(v) for v in rmse[i]]) for i, c in enumerate(candidates)]


def _score(data: Dataset, candidate: Candidate, job: _Fit) -> float:
    predictor = fit_predictor(candidate, data.features[job.train_rows], data.target[job.train_rows])
    pred = predictor(data.features[job.test_rows])
    return regression_metrics(data.target[job.test_rows], pred)["rmse"]


def _in_process(
    data: Dataset, candidates: list[Candidate], plan: list[_Fit]
) -> Iterator[tuple[_Fit, float]]:
    for job in plan:
        yield job, _score(data, candidates[job.candidate], job)


def _fold_state(data: Dataset, candidates: list[Candidate]) -> tuple[Dataset, list[Candidate]]:
    """A worker's state: the data and candidates travel once per worker, not once per fit."""
    return data, candidates


def _score_in_worker(state: tuple[Dataset, list[Candidate]], job: _Fit) -> float:
    data, candidates = state
    return _score(data, candidates[job.candidate], job)


def _in_workers(
    data: Dataset, candidates: list[Candidate], plan: list[_Fit], jobs: int
) -> Iterator[tuple[_Fit, float]]:
    """Fits in `jobs` processes, yielded as they finish."""
    from houseprice.core.pools import as_completed_in_workers
    from houseprice.train.fit import TrainError

    return as_completed_in_workers(
        _score_in_worker,
        plan,
        jobs,
        _fold_state,
        (data, candidates),
        died=lambda: TrainError(
            "a cross-validation worker process died (killed, or out of memory)"
        ),
    )
