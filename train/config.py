"""Every hyperparameter of a training run, in one typed dataclass saved inside each checkpoint."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

from houseprice.train.split import OLD_NAMES

SplitKind = Literal["shuffle", "tutorial"]
LossKind = Literal["mse", "huber"]


class ConfigError(ValueError):
    """A configuration value is out of its allowed range."""


MAX_LR = 10.0


@dataclass(frozen=True)
class TrainConfig:
    # Model: `members` MLPs n_features -> hidden (ReLU) -> 1, exported as one graph averaging them.
    hidden: int = 100
    members: int = 1
    # Optimisation: Adam, one step per mini-batch (batch_size 0 means the full training set).
    lr: float = 0.01
    weight_decay: float = 0.0
    loss: LossKind = "mse"  # "huber": squared below huber_delta, linear above (standardized units)
    huber_delta: float = 1.0
    epochs: int = 300
    batch_size: int = 0
    loss_scale: float = 1.0  # the reference recipe multiplies its MSE by 0.001
    # Preprocessing, computed on training rows only and stored in the module as buffers.
    standardize: bool = True
    log_target: bool = False
    log_features: bool = False  # log1p of non-negative, right-skewed columns (CRIM, ZN, ...)
    skew_threshold: float = 1.0  # "right-skewed": sample skewness above this on training rows
    # Early stopping on an inner validation split carved from the training rows (0 disables it):
    # each member draws its own split and keeps the weights of its best validation epoch.
    val_fraction: float = 0.0
    patience: int = 0
    # Data split of the outer evaluation; test_fraction 0 fits on every row (no held-out test).
    split: SplitKind = "shuffle"
    test_fraction: float = 0.2
    seed: int = 0
    drop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        real = (
            "lr",
            "weight_decay",
            "loss_scale",
            "val_fraction",
            "test_fraction",
            "skew_threshold",
            "huber_delta",
        )
        for name in real:
            if not isinstance(getattr(self, name), (int, float)) or not math.isfinite(
                getattr(self, name)
            ):
                raise ConfigError(f"{name} must be a finite number, got {getattr(self, name)}")
        checks = [
            (self.hidden >= 1, "hidden must be >= 1"),
            (self.members >= 1, "members must be >= 1"),
            # Adam steps are about lr in size: beyond MAX_LR every weight leaves the float range.
            (0 < self.lr <= MAX_LR, f"lr must be in (0, {MAX_LR:g}]"),
            (self.weight_decay >= 0, "weight_decay must be >= 0"),
            (self.epochs >= 1, "epochs must be >= 1"),
            (self.batch_size >= 0, "batch_size must be >= 0 (0 = full batch)"),
            (self.loss_scale > 0, "loss_scale must be > 0"),
            (0 <= self.val_fraction < 1, "val_fraction must be in [0, 1)"),
            (self.patience >= 0, "patience must be >= 0"),
            (self.split in ("shuffle", "tutorial"), "split must be 'shuffle' or 'tutorial'"),
            (self.loss in ("mse", "huber"), "loss must be 'mse' or 'huber'"),
            (self.huber_delta > 0, "huber_delta must be > 0"),
            (0 <= self.test_fraction < 1, "test_fraction must be in [0, 1)"),
            (self.seed >= 0, "seed must be >= 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["drop"] = list(self.drop)
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Rebuild from a checkpoint; unknown keys (from a newer version) are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown config keys {unknown}")
        values = dict(values)
        values["drop"] = tuple(values.get("drop", ()))
        if "split" in values:  # a checkpoint from before the split's rename
            values["split"] = OLD_NAMES.get(values["split"], values["split"])
        return cls(**values)


# The tutorial this project starts from: raw features, MSE * 0.001, Adam lr 0.01, 10,000 full-batch
# iterations, first 496 rows for training. Kept reachable with `--recipe tutorial` for comparison.
TUTORIAL_RECIPE = TrainConfig(
    hidden=100,
    members=1,
    lr=0.01,
    epochs=10_000,
    batch_size=0,
    loss_scale=0.001,
    standardize=False,
    log_target=False,
    log_features=False,
    val_fraction=0.0,
    patience=0,
)

# The project's default, chosen on 5-fold CV repeated on 5 shuffles (25 fits per variant; README,
# "Model quality"): five early-stopped members averaged in one graph, mini-batches, weight decay,
# a small learning rate with patient early stopping, log1p of the features skewed beyond 0.5 and a
# log target. About 5 s to train on a 2-core machine (9-10 s on every row, --test-fraction 0); the
# ONNX file stays under 100 KB.
DEFAULT_RECIPE = TrainConfig(
    members=5,
    lr=0.001,
    weight_decay=1e-3,
    epochs=800,
    batch_size=32,
    log_target=True,
    log_features=True,
    skew_threshold=0.5,
    val_fraction=0.15,
    patience=80,
)

RECIPES = {"default": DEFAULT_RECIPE, "tutorial": TUTORIAL_RECIPE}


def with_overrides(config: TrainConfig, **overrides: Any) -> TrainConfig:
    """The config with every override that is not None applied."""
    return replace(config, **{k: v for k, v in overrides.items() if v is not None})
