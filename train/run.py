"""Training runs: one hold-out fit that yields a checkpointable model, and K-fold comparisons."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from houseprice.data import Dataset
from houseprice.train.checkpoint import TrainedModel, nonfinite_problem
from houseprice.train.config import SEED_RECIPE, TrainConfig
from houseprice.train.fit import FitResult, Progress, TrainError, fit, predict
from houseprice.train.metrics import regression_metrics
from houseprice.train.split import holdout_split, kfold_splits


@dataclass(frozen=True)
class HoldoutRun:
    trained: TrainedModel
    fit: FitResult
    test_rows: np.ndarray
    test_pred: np.ndarray


def train_holdout(
    data: Dataset, config: TrainConfig, progress: Progress | None = None
) -> HoldoutRun:
    """Fit on the training split, score train and test, and package the model with its facts."""
    train_rows, test_rows = holdout_split(
        data.n_rows, config.split, config.test_fraction, config.seed
    )
    x_train, y_train = data.features[train_rows], data.target[train_rows]
    result = fit(x_train, y_train, config, progress)
    test_pred = predict(result.model, data.features[test_rows])
    metrics = {
        "split": config.split,
        "n_train": len(train_rows),
        "n_test": len(test_rows),
        "best_epoch": result.best_epoch,
        "train": regression_metrics(y_train, predict(result.model, x_train)),
        "test": regression_metrics(data.target[test_rows], test_pred),
    }
    problem = nonfinite_problem(result.model, metrics)
    if problem:
        raise TrainError(
            f"training diverged ({problem}); nothing saved. Lower --lr, or check the data for "
            "values far larger than the rest"
        )
    trained = TrainedModel(
        model=result.model,
        config=config,
        feature_names=data.feature_names,
        # Ranges of the rows the model saw: the runtime warns when a house falls far outside them.
        feature_min=tuple(float(v) for v in x_train.min(axis=0)),
        feature_max=tuple(float(v) for v in x_train.max(axis=0)),
        target_name=data.target_name,
        target_unit=data.target_unit,
        data_sha256=data.sha256,
        data_source=data.source,
        metrics=metrics,
    )
    return HoldoutRun(trained, result, test_rows, test_pred)


# A model under comparison: fit on (x, y), return a predictor of new rows.
Fitter = Callable[[np.ndarray, np.ndarray], Callable[[np.ndarray], np.ndarray]]


@dataclass(frozen=True)
class CVScore:
    name: str
    fold_rmse: list[float] = field(default_factory=list)

    @property
    def mean(self) -> float:
        return float(np.mean(self.fold_rmse))

    @property
    def std(self) -> float:
        return float(np.std(self.fold_rmse))

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "rmse_mean": self.mean,
            "rmse_std": self.std,
            "fold_rmse": self.fold_rmse,
        }


def mlp_fitter(config: TrainConfig) -> Fitter:
    def fit_mlp(x: np.ndarray, y: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        model = fit(x, y, config).model
        return lambda rows: predict(model, rows)

    return fit_mlp


def linear_fitter(x: np.ndarray, y: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Ordinary least squares with an intercept."""
    design = np.column_stack([x, np.ones(len(x))])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return lambda rows: np.column_stack([rows, np.ones(len(rows))]) @ coef


def gradient_boosting_fitter(seed: int) -> Fitter | None:
    """scikit-learn's default GradientBoostingRegressor, or None when sklearn is not installed."""
    try:
        from sklearn.ensemble import GradientBoostingRegressor
    except ImportError:
        return None

    def fit_gbr(x: np.ndarray, y: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        return GradientBoostingRegressor(random_state=seed).fit(x, y).predict

    return fit_gbr


def comparison_fitters(config: TrainConfig) -> dict[str, Fitter]:
    """What `hp-train --cv` compares on the same folds."""
    fitters: dict[str, Fitter] = {
        "reference recipe (--recipe seed)": mlp_fitter(replace(SEED_RECIPE, seed=config.seed)),
        "houseprice (this config)": mlp_fitter(config),
        "linear least squares": linear_fitter,
    }
    gbr = gradient_boosting_fitter(config.seed)
    if gbr is not None:
        fitters["GradientBoostingRegressor (sklearn default)"] = gbr
    return fitters


def cross_validate(
    data: Dataset,
    fitters: dict[str, Fitter],
    k: int,
    seed: int,
    on_fold: Callable[[str, int], None] | None = None,
) -> list[CVScore]:
    """RMSE of each fitter on the same K seeded folds; statistics come from training folds only."""
    folds = kfold_splits(data.n_rows, k, seed)
    scores = []
    for name, fitter in fitters.items():
        score = CVScore(name)
        for i, (train_rows, test_rows) in enumerate(folds):
            predictor = fitter(data.features[train_rows], data.target[train_rows])
            pred = predictor(data.features[test_rows])
            score.fold_rmse.append(regression_metrics(data.target[test_rows], pred)["rmse"])
            if on_fold is not None:
                on_fold(name, i)
        scores.append(score)
    return scores
