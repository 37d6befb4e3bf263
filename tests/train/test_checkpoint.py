from __future__ import annotations

from pathlib import Path

import pytest
import torch

from houseprice.data import load_dataset
from houseprice.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from houseprice.train.config import TrainConfig
from houseprice.train.run import train_holdout


@pytest.fixture(scope="module")
def run():
    return train_holdout(load_dataset().drop(["B"]), TrainConfig(epochs=10, members=2))


def test_round_trip_with_weights_only(run, tmp_path: Path):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(run.trained, path)
    raw = torch.load(path, weights_only=True)  # no pickled classes inside
    assert raw["feature_names"] == list(run.trained.feature_names)
    loaded = load_checkpoint(path)
    assert loaded.config == run.trained.config
    assert loaded.feature_names == run.trained.feature_names and "B" not in loaded.feature_names
    assert loaded.metrics == run.trained.metrics
    assert loaded.data_sha256 == run.trained.data_sha256
    x = torch.randn(9, len(loaded.feature_names)) * 10 + 5
    with torch.no_grad():
        assert torch.equal(loaded.model(x), run.trained.model(x))


def test_missing_corrupt_and_foreign_checkpoints(run, tmp_path: Path):
    with pytest.raises(CheckpointError, match="no checkpoint there"):
        load_checkpoint(tmp_path / "nope.pt")
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "garbage.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a houseprice checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")


def test_checkpoint_from_an_incompatible_version(run, tmp_path: Path):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(run.trained, path)
    payload = torch.load(path, weights_only=True)
    payload["format"] = 99
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match=r"format 99.*retrain"):
        load_checkpoint(path)
    payload["format"] = 1
    payload["config"]["future_knob"] = 1
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="damaged checkpoint"):
        load_checkpoint(path)


def test_a_checkpoint_with_non_finite_weights_or_metrics_is_refused(run, tmp_path: Path):
    import dataclasses

    path = tmp_path / "checkpoint.pt"
    broken = dataclasses.replace(
        run.trained, metrics={**run.trained.metrics, "test": {"rmse": float("nan")}}
    )
    with pytest.raises(CheckpointError, match=r"non-finite metrics test\.rmse"):
        save_checkpoint(broken, path)
    model = load_checkpoint_model_copy(run)
    with torch.no_grad():
        next(model.parameters())[0, 0] = float("inf")
    with pytest.raises(CheckpointError, match=r"non-finite values in members\.0"):
        save_checkpoint(dataclasses.replace(run.trained, model=model), path)
    assert not path.exists() and list(tmp_path.iterdir()) == []


def load_checkpoint_model_copy(run):
    import copy

    return copy.deepcopy(run.trained.model)
