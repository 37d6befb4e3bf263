"""Row splits: the tutorial's fixed split, a seeded hold-out, and K folds (numpy only)."""

from __future__ import annotations

import numpy as np

# The tutorial trains on the first 496 rows and tests on the last 10.
TUTORIAL_TEST_ROWS = 10
# Earlier names of the tutorial's recipe and split, still accepted (checkpoints, scripts).
OLD_NAMES = {"seed": "tutorial"}


class SplitError(ValueError):
    """The data set is too small for the requested split: a usage error (exit 2), since the
    flags asked for it."""


def holdout_split(
    n_rows: int, kind: str, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Train and test row indices. 'tutorial': the last 10 rows are the test set; 'shuffle':
    seeded."""
    kind = OLD_NAMES.get(kind, kind)  # a model trained before the rename
    if kind == "tutorial":
        if n_rows <= TUTORIAL_TEST_ROWS:
            raise SplitError(
                f"--split tutorial needs more than {TUTORIAL_TEST_ROWS} rows, got {n_rows}"
            )
        rows = np.arange(n_rows)
        return rows[:-TUTORIAL_TEST_ROWS], rows[-TUTORIAL_TEST_ROWS:]
    if test_fraction == 0:  # the model to ship: every row trains, the estimate comes from --cv
        return np.arange(n_rows), np.arange(0)
    n_test = round(n_rows * test_fraction)
    if n_test < 1 or n_rows - n_test < 2:
        raise SplitError(
            f"--test-fraction {test_fraction:g} leaves {n_test} test and "
            f"{n_rows - n_test} training rows of {n_rows}: at least 1 and 2 are needed"
        )
    order = np.random.default_rng(seed).permutation(n_rows)
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def kfold_splits(
    n_rows: int, k: int, seed: int | tuple[int, ...]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """K disjoint test folds covering every row once, from one seeded shuffle."""
    if k < 2:
        raise SplitError(f"--cv needs at least 2 folds, got {k}")
    if n_rows < 2 * k:
        raise SplitError(f"{n_rows} rows are too few for {k}-fold cross-validation")
    order = np.random.default_rng(seed).permutation(n_rows)
    folds = np.array_split(order, k)
    rows = np.arange(n_rows)
    return [(np.setdiff1d(rows, fold), np.sort(fold)) for fold in folds]
