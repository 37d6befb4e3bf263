from __future__ import annotations

import json
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
    assert raw["info"] == run.trained.info.to_metadata()  # the facts an export carries, as such
    loaded = load_checkpoint(path)
    assert loaded.config == run.trained.config and loaded.info == run.trained.info
    assert "B" not in loaded.info.feature_names
    x = torch.randn(9, loaded.info.n_features) * 10 + 5
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
    payload["format"] = 2
    config = json.loads(payload["info"]["houseprice.config"])
    payload["info"]["houseprice.config"] = json.dumps({**config, "future_knob": 1})
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match=r"damaged checkpoint.*future_knob"):
        load_checkpoint(path)


def test_a_format_1_checkpoint_still_loads(run, tmp_path: Path):
    """Format 1 kept the same facts as separate keys; such a checkpoint still exports."""
    info = run.trained.info
    payload = {
        "format": 1,
        "state_dict": run.trained.model.state_dict(),
        "config": info.config,
        "feature_names": list(info.feature_names),
        "feature_min": list(info.feature_min),
        "feature_max": list(info.feature_max),
        "target_name": info.target_name,
        "target_unit": info.target_unit,
        "data_sha256": info.data_sha256,
        "data_source": run.trained.data_source,
        "metrics_json": json.dumps(info.metrics),
        "package_version": info.package_version,
    }
    torch.save(payload, tmp_path / "old.pt")
    loaded = load_checkpoint(tmp_path / "old.pt")
    assert loaded.info == info and loaded.data_source == run.trained.data_source


def test_a_checkpoint_with_non_finite_weights_or_metrics_is_refused(run, tmp_path: Path):
    import dataclasses

    path = tmp_path / "checkpoint.pt"
    metrics = {**run.trained.info.metrics, "test": {"rmse": float("nan")}}
    broken = dataclasses.replace(
        run.trained, info=dataclasses.replace(run.trained.info, metrics=metrics)
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
