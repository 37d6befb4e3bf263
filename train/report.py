"""Plain-text tables and the progress bar of `hp-train`."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from houseprice.train.cv import CVScore
from houseprice.train.stats import PairedDifference

Advance = Callable[[int | None, int | None], None]


def format_metrics(metrics: dict[str, Any], target: str, unit: str) -> str:
    unit_note = f" ({target}, {unit})" if unit else f" ({target})"
    lines = [
        f"{'split':<14}{'rows':>6}{'RMSE':>9}{'MAE':>9}{'MSE':>10}{'R^2':>8}   errors in{unit_note}"
    ]
    for part, rows in (("train", metrics["n_train"]), ("test", metrics["n_test"])):
        m = metrics[part]
        if m is None:
            lines.append(f"{part:<14}{rows:>6}   {metrics.get('note', 'not measured')}")
            continue
        lines.append(
            f"{part:<14}{rows:>6}{m['rmse']:>9.3f}{m['mae']:>9.3f}{m['mse']:>10.3f}{m['r2']:>8.3f}"
        )
    return "\n".join(lines)


def format_cv(
    scores: list[CVScore],
    paired: list[PairedDifference],
    k: int,
    repeats: int,
    seed: int,
    unit: str,
) -> str:
    width = max(len(s.name) for s in scores) + 2
    unit_note = f" ({unit})" if unit else ""
    shuffles = (
        f"shuffled with seed {seed}" if repeats == 1 else f"{repeats} shuffles from seed {seed}"
    )
    lines = [
        f"{k}-fold cross-validation, {shuffles}: test RMSE{unit_note}",
        f"{'model':<{width}}{'mean':>8}{'std':>8}{'repeats':>9}   "
        + ("per fold" if repeats == 1 else "mean per repeat"),
    ]
    for s in scores:
        spread = "-" if s.repeat_std is None else f"{s.repeat_std:.3f}"
        each = s.fold_rmse if repeats == 1 else s.repeat_means
        lines.append(
            f"{s.name:<{width}}{s.mean:>8.3f}{s.std:>8.3f}{spread:>9}   "
            + " ".join(f"{r:.2f}" for r in each)
        )
    lines.append("std: over all folds; repeats: sample std of the per-repeat means")
    if paired:
        lines += [
            "",
            f"paired with {paired[0].model}, same {k * repeats} folds: mean difference "
            "in RMSE (negative: ours is better), 95% interval (corrected for fold overlap)",
        ]
        for d in paired:
            lines.append(
                f"  vs {d.baseline:<{width}}{d.mean:>+8.3f}   [{d.low:+.3f}, {d.high:+.3f}]   "
                + {"better": "ours better", "worse": "ours worse", "tie": "a tie"}[d.verdict]
            )
    return "\n".join(lines)


@contextmanager
def progress_bar(label: str, total: int | None = None, enabled: bool = True) -> Iterator[Advance]:
    """Yield advance(done, total): set the position when given, else step by one. rich draws it,
    on a terminal only: in a log or a pipe a progress bar is just noise."""
    if not enabled or not sys.stderr.isatty():
        yield lambda done, planned: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total)

        def advance(done: int | None, planned: int | None) -> None:
            if done is None:
                bar.advance(task)
            else:
                bar.update(task, completed=done, total=planned)

        yield advance
