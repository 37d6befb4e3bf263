"""The training run behind `hp-train`: one fit that yields a checkpointable model (K-fold
comparisons are in `houseprice.train.cv`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from houseprice.core.version import __version__
from houseprice.data import Dataset
from houseprice.runtime.contract import ModelInfo
from houseprice.train.checkpoint import TrainedModel, nonfinite_problem
from houseprice.train.config import TrainConfig
from houseprice.train.fit import FitResult, Progress, TrainError, fit, predict
from houseprice.train.metrics import regression_metrics
from houseprice.train.split import holdout_split

NO_TEST_NOTE = (
    "no held-out test set: every row trained this model (--test-fraction 0); "
    "estimate its error with hp-train --cv"
)


@dataclass(frozen=True)
class HoldoutRun:
    trained: TrainedModel
    fit: FitResult
    test_rows: np.ndarray
    test_pred: np.ndarray


def train_holdout(
    data: Dataset, config: TrainConfig, progress: Progress | None = None, jobs: int = 1
) -> HoldoutRun:
    """Fit on the training split (members in ``jobs`` processes), score train and test, and
    package the model with its facts."""
    train_rows, test_rows = holdout_split(
        data.n_rows, config.split, config.test_fraction, config.seed
    )
    x_train, y_train = data.features[train_rows], data.target[train_rows]
    result = fit(x_train, y_train, config, progress, jobs)
    test_pred = predict(result.model, data.features[test_rows])
    metrics = {
        "split": config.split,
        "n_train": len(train_rows),
        "n_test": len(test_rows),
        "best_epoch": result.best_epoch,
        "train": regression_metrics(y_train, predict(result.model, x_train)),
        # None, not an empty score, when every row trained: nothing was held out to test on.
        "test": regression_metrics(data.target[test_rows], test_pred) if len(test_rows) else None,
    }
    if not len(test_rows):
        metrics["note"] = NO_TEST_NOTE
    problem = nonfinite_problem(result.model, metrics)
    if problem:
        raise TrainError(
            f"training diverged ({problem}); nothing saved. Lower --lr, or check the data for "
            "values far larger than the rest"
        )
    info = ModelInfo(
        feature_names=data.feature_names,
        # Ranges of the rows the model saw: the runtime warns when a house falls far outside them.
        feature_min=tuple(float(v) for v in x_train.min(axis=0)),
        feature_max=tuple(float(v) for v in x_train.max(axis=0)),
        target_name=data.target_name,
        target_unit=data.target_unit,
        data_sha256=data.sha256,
        package_version=__version__,
        metrics=metrics,
        config=config.to_dict(),
    )
    trained = TrainedModel(result.model, info, data.source)
    return HoldoutRun(trained, result, test_rows, test_pred)
