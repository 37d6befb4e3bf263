"""Regression metrics in the target's unit (numpy only)."""

from __future__ import annotations

import numpy as np


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """RMSE, MAE, MSE and R^2 of predictions against the truth, both shape (n,)."""
    err = np.asarray(y_pred, dtype=np.float64) - np.asarray(y_true, dtype=np.float64)
    mse = float(np.mean(err**2))
    total = float(np.sum((y_true - np.mean(y_true)) ** 2))
    r2 = 1.0 - float(np.sum(err**2)) / total if total > 0 else float("nan")
    return {"rmse": mse**0.5, "mae": float(np.mean(np.abs(err))), "mse": mse, "r2": r2}
