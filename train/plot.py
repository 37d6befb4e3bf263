"""`hp-train --plot`: loss curves and predicted vs. actual, as PNG files (needs the `plot` extra)."""

from __future__ import annotations

from pathlib import Path

from houseprice.core.files import atomic_write_with
from houseprice.data import Dataset
from houseprice.train.fit import predict
from houseprice.train.run import HoldoutRun


def write_plots(run: HoldoutRun, data: Dataset, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    from matplotlib import pyplot as plt

    paths = [out / "loss.png", out / "pred_vs_actual.png"]
    for path, draw in zip(paths, (_draw_loss, _draw_pred_vs_actual), strict=True):
        figure, axes = plt.subplots(figsize=(6, 4.5), dpi=100)
        draw(axes, run, data)
        figure.tight_layout()
        atomic_write_with(path, lambda handle, f=figure: f.savefig(handle, format="png"))
        plt.close(figure)
    return paths


def _draw_loss(axes, run: HoldoutRun, data: Dataset) -> None:
    for i, (train, val) in enumerate(zip(run.fit.train_loss, run.fit.val_loss, strict=True)):
        label = len(run.fit.train_loss) == 1 or i == 0
        axes.plot(train, color="tab:blue", alpha=0.6, label="training" if label else None)
        if val:
            axes.plot(val, color="tab:orange", alpha=0.6, label="validation" if label else None)
    axes.set_yscale("log")
    axes.set_xlabel("epoch")
    axes.set_ylabel("MSE (standardized target)")
    axes.set_title(f"Loss per epoch, {len(run.fit.train_loss)} member(s)")
    axes.legend()


def _draw_pred_vs_actual(axes, run: HoldoutRun, data: Dataset) -> None:
    if len(run.test_rows):
        actual, predicted = data.target[run.test_rows], run.test_pred
        title = (
            f"Test split: {len(actual)} rows, RMSE {run.trained.info.metrics['test']['rmse']:.2f}"
        )
    else:  # --test-fraction 0: only the rows it trained on exist, and the title says so
        actual, predicted = data.target, predict(run.trained.model, data.features)
        rmse = run.trained.info.metrics["train"]["rmse"]
        title = f"Training rows (no held-out test): {len(actual)} rows, RMSE {rmse:.2f}"
    axes.scatter(actual, predicted, s=14, alpha=0.7)
    low, high = (
        float(min(actual.min(), predicted.min())),
        float(max(actual.max(), predicted.max())),
    )
    axes.plot([low, high], [low, high], color="grey", linestyle="--", linewidth=1, label="perfect")
    unit = f" ({data.target_unit})" if data.target_unit else ""
    axes.set_xlabel(f"actual {data.target_name}{unit}")
    axes.set_ylabel(f"predicted {data.target_name}{unit}")
    axes.set_title(title)
    axes.legend()
