from __future__ import annotations

import re

import pytest

from houseprice.train.config import TUTORIAL_RECIPE, ConfigError, TrainConfig, with_overrides


def test_round_trip_through_dict():
    config = TrainConfig(members=3, drop=("B",), log_target=True)
    assert TrainConfig.from_dict(config.to_dict()) == config


def test_unknown_keys_are_rejected():
    with pytest.raises(ConfigError, match="unknown config keys"):
        TrainConfig.from_dict({**TrainConfig().to_dict(), "dropout": 0.5})


@pytest.mark.parametrize("field", ["hidden", "members", "lr", "epochs"])
def test_out_of_range_values_are_rejected(field: str):
    with pytest.raises(ConfigError, match=field):
        TrainConfig(**{field: 0})


def test_seed_recipe_is_the_reference_tutorial():
    assert (TUTORIAL_RECIPE.hidden, TUTORIAL_RECIPE.lr, TUTORIAL_RECIPE.epochs) == (
        100,
        0.01,
        10_000,
    )
    assert TUTORIAL_RECIPE.loss_scale == 0.001 and not TUTORIAL_RECIPE.standardize
    assert TUTORIAL_RECIPE.batch_size == 0 and TUTORIAL_RECIPE.members == 1


def test_overrides_skip_none():
    assert with_overrides(TUTORIAL_RECIPE, lr=None, seed=7) == TrainConfig(
        **{**TUTORIAL_RECIPE.to_dict(), "seed": 7, "drop": ()}
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"loss": "l1"}, "loss must be 'mse' or 'huber'"),
        ({"huber_delta": 0.0}, "huber_delta must be > 0"),
        ({"skew_threshold": float("nan")}, "skew_threshold must be a finite number"),
        ({"test_fraction": 1.0}, "test_fraction must be in [0, 1)"),
    ],
)
def test_the_newer_fields_are_checked(values: dict, message: str):
    with pytest.raises(ConfigError, match=re.escape(message)):
        TrainConfig(**values)
    TrainConfig(test_fraction=0.0, loss="huber", huber_delta=0.5, skew_threshold=-1.0)
