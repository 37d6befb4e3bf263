"""`hp-train`: parse flags, run one training or a cross-validation, report, save. Nothing more."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import typer

from houseprice.core import cli as common
from houseprice.core import defaults

PROG = "hp-train"
app = common.typer_app()


class Recipe(str, Enum):
    default = "default"
    tutorial = "tutorial"
    seed = "seed"  # the old name of tutorial


class Split(str, Enum):
    shuffle = "shuffle"
    tutorial = "tutorial"
    seed = "seed"  # the old name of tutorial


@app.command(help="Train the house-price MLP and save OUT/checkpoint.pt and OUT/metrics.json.")
def train(
    data: Path = typer.Option(
        None,
        "--data",
        help="Data file (UCI layout or CSV with header); default: the bundled Boston data.",
    ),
    target: str = typer.Option("MEDV", "--target", help="Target column."),
    drop: list[str] = typer.Option(
        [], "--drop", help="Feature to leave out (repeatable), e.g. --drop B."
    ),
    recipe: Recipe = typer.Option(
        Recipe.default,
        "--recipe",
        help="'tutorial' reproduces the tutorial this project starts from, exactly ('seed', its old name, still works).",
    ),
    split: Split = typer.Option(
        None,
        "--split",
        help="'shuffle' (seeded 80/20, default) or 'tutorial' (first rows train, last 10 test; 'seed', its old name, still works).",
    ),
    test_fraction: float = typer.Option(
        None,
        "--test-fraction",
        help="Share of rows held out by --split shuffle [0.2]; 0 trains on every row (the model "
        "to ship; estimate its error with --cv).",
    ),
    cv: int = typer.Option(
        0,
        "--cv",
        help="Run K-fold cross-validation and compare against baselines instead of saving a model.",
    ),
    repeats: int = typer.Option(
        1, "--repeats", help="With --cv: R different shuffles (fold seeds from --seed) [1]."
    ),
    jobs: int = typer.Option(
        0,
        "--jobs",
        "-j",
        help="Processes for the fits (the members of one model; the folds with --cv); "
        "0: one per CPU. Same weights whatever the count [0].",
    ),
    seed: int = typer.Option(
        0, "--seed", help="Seed of every random choice: same seed, same weights."
    ),
    epochs: int = typer.Option(None, "--epochs", help="Override the recipe's number of epochs."),
    lr: float = typer.Option(None, "--lr", help="Override the recipe's learning rate."),
    members: int = typer.Option(None, "--members", help="Override the number of ensembled MLPs."),
    out: Path = typer.Option(defaults.ARTIFACTS, "--out", help="Output folder."),
    plot: bool = typer.Option(
        False,
        "--plot",
        help="Also write loss and predicted-vs-actual PNGs (needs the `plot` extra).",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    from houseprice.train.config import RECIPES, ConfigError, with_overrides

    # Flags first: a usage error needs no torch (seconds of import).
    _check_cv_flags(cv, repeats, jobs)
    recipe_name = _current_name("--recipe", recipe.value)
    split_name = _current_name("--split", split.value) if split else None
    try:
        config = with_overrides(
            RECIPES[recipe_name],
            split=split_name or ("tutorial" if recipe_name == "tutorial" else None),
            test_fraction=test_fraction,
            seed=seed,
            epochs=epochs,
            lr=lr,
            members=members,
            drop=tuple(drop) or None,
        )
    except ConfigError as exc:
        common.usage_fail(PROG, str(exc))
    common.require_installed(PROG, "train", "torch")  # named first, found without its import
    from houseprice.data import DataError, load_dataset

    try:  # the data next: numpy reads it, so its errors need no torch either
        dataset = load_dataset(data, target=target).drop(config.drop)
    except DataError as exc:
        common.fail(PROG, str(exc), common.EXIT_INPUT)
    common.require_extra(PROG, "train", "torch")
    from houseprice.core.errors import OutputError
    from houseprice.train.checkpoint import CheckpointError
    from houseprice.train.fit import TrainError
    from houseprice.train.split import SplitError

    try:
        if cv:
            _run_cv(dataset, config, CVPlan(cv, repeats, jobs or common.cpu_count()), out, quiet)
        else:
            _run_holdout(dataset, config, out, plot, quiet, jobs or common.cpu_count())
    except SplitError as exc:  # the flags asked for a split this data cannot give
        common.fail(PROG, str(exc), common.EXIT_USAGE)
    except (DataError, TrainError, CheckpointError) as exc:
        common.fail(PROG, str(exc), common.EXIT_INPUT)
    except OutputError as exc:
        common.fail(PROG, str(exc), common.EXIT_OUTPUT)
    except OSError as exc:  # making the output folder
        common.fail(PROG, f"cannot write to {out}: {exc.strerror or exc}", common.EXIT_OUTPUT)


def _current_name(flag: str, value: str) -> str:
    """The name a recipe or split goes by now; an old name works, with a one-line common.note."""
    from houseprice.train.split import OLD_NAMES

    if value not in OLD_NAMES:
        return value
    common.note(PROG, f"{flag} {value} is now {flag} {OLD_NAMES[value]}")
    return OLD_NAMES[value]


@contextmanager
def output_folder(out: Path) -> Iterator[None]:
    """``out`` made (with its parents) before the work, so an unwritable place fails at once, and
    removed again, those made here and still empty, if the work fails or is interrupted."""
    made = [p for p in (out, *out.parents) if not p.exists()]
    out.mkdir(parents=True, exist_ok=True)
    try:
        yield
    except BaseException:
        for folder in made:  # deepest first
            with suppress(OSError):
                folder.rmdir()
        raise


def _run_holdout(dataset, config, out: Path, plot: bool, quiet: bool, jobs: int) -> None:
    from houseprice.core.files import atomic_write_bytes
    from houseprice.train.checkpoint import save_checkpoint
    from houseprice.train.report import format_metrics
    from houseprice.train.run import train_holdout

    if plot:
        _require_matplotlib()
    with output_folder(out), _progress(quiet, "training") as advance:
        run = train_holdout(dataset, config, advance, jobs)
        save_checkpoint(run.trained, out / "checkpoint.pt")
    metrics = {
        **run.trained.info.metrics,
        "features": list(dataset.feature_names),
        "target": dataset.target_name,
        "unit": dataset.target_unit,
        "data_sha256": dataset.sha256,
        "config": config.to_dict(),
    }
    atomic_write_bytes(out / "metrics.json", (json.dumps(metrics, indent=2) + "\n").encode())
    common.echo(
        PROG, format_metrics(run.trained.info.metrics, dataset.target_name, dataset.target_unit)
    )
    written = [out / "checkpoint.pt", out / "metrics.json"]
    if plot:
        from houseprice.train.plot import write_plots

        written += write_plots(run, dataset, out)
    common.echo(PROG, "wrote " + ", ".join(str(p) for p in written))


@dataclass(frozen=True)
class CVPlan:
    folds: int
    repeats: int
    jobs: int


def _check_cv_flags(cv: int, repeats: int, jobs: int) -> None:
    if cv == 1 or cv < 0:
        common.fail(PROG, f"--cv needs at least 2 folds, got {cv}", common.EXIT_USAGE)
    if repeats < 1:
        common.fail(PROG, f"--repeats needs at least 1, got {repeats}", common.EXIT_USAGE)
    if jobs < 0:
        common.fail(PROG, f"--jobs needs 0 (one per CPU) or more, got {jobs}", common.EXIT_USAGE)
    if not cv and repeats != 1:
        common.fail(PROG, "--repeats applies to cross-validation: add --cv K", common.EXIT_USAGE)


def _run_cv(dataset, config, plan: CVPlan, out: Path, quiet: bool) -> None:
    from houseprice.core.files import atomic_write_bytes
    from houseprice.train.cv import OURS, comparison_candidates, cross_validate, sklearn_available
    from houseprice.train.cv import fold_seed as seed_of
    from houseprice.train.report import format_cv
    from houseprice.train.stats import paired_difference

    k, repeats = plan.folds, plan.repeats
    candidates = comparison_candidates(config, with_gbr=sklearn_available())
    total = k * repeats * len(candidates)
    with output_folder(out), _progress(quiet, f"{k}-fold CV x {repeats}", total=total) as advance:
        step = lambda: advance(None, None)  # noqa: E731
        scores = cross_validate(
            dataset, candidates, k, repeats, config.seed, jobs=min(plan.jobs, total), on_fit=step
        )
    ours = next(s for s in scores if s.name == OURS)
    paired = [
        paired_difference(OURS, ours.fold_rmse, s.name, s.fold_rmse, test_to_train=1 / (k - 1))
        for s in scores
        if s is not ours
    ]
    report = {
        "folds": k,
        "repeats": repeats,
        "seed": config.seed,
        "fold_seeds": [seed_of(config.seed, r) for r in range(repeats)],
        "config": config.to_dict(),
        "scores": [s.to_dict() for s in scores],
        "paired": [d.to_dict() for d in paired],
    }
    atomic_write_bytes(out / "cv.json", (json.dumps(report, indent=2) + "\n").encode())
    common.echo(PROG, format_cv(scores, paired, k, repeats, config.seed, dataset.target_unit))
    common.echo(PROG, f"wrote {out / 'cv.json'}")


def _require_matplotlib() -> None:
    common.require_extra(PROG, "plot", "matplotlib")


def _progress(quiet: bool, label: str, total: int | None = None):
    from houseprice.train.report import progress_bar

    return progress_bar(label, total=total, enabled=not quiet)


def main() -> None:
    common.run_app(app, PROG)
