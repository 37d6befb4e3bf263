from __future__ import annotations

import numpy as np
import pytest
import torch

from houseprice.train.config import TrainConfig
from houseprice.train.fit import TrainError, fit, predict
from houseprice.train.run import train_holdout

QUICK = TrainConfig(epochs=15, members=2, batch_size=64, val_fraction=0.2, patience=5)


def _state(config: TrainConfig, data) -> dict[str, torch.Tensor]:
    return fit(data.features, data.target, config).model.state_dict()


def test_same_seed_gives_bitwise_identical_weights(boston):
    first, second = _state(QUICK, boston), _state(QUICK, boston)
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_members_in_worker_processes_give_the_same_model_bit_for_bit(boston):
    """--jobs: each member trains in a worker from its initial weights and its own seed; the
    weights, losses and best epochs are those of the one-process fit, members in their order."""
    config = TrainConfig(**{**QUICK.to_dict(), "members": 3, "drop": ()})
    here, there = (fit(boston.features, boston.target, config, jobs=j) for j in (1, 2))
    first, second = here.model.state_dict(), there.model.state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert not torch.equal(first["members.0.0.weight"], first["members.1.0.weight"])
    assert (here.train_loss, here.val_loss, here.best_epoch) == (
        there.train_loss,
        there.val_loss,
        there.best_epoch,
    )
    seen = []
    fit(boston.features, boston.target, config, lambda d, t: seen.append((d, t)), jobs=2)
    assert seen == [(15, 45), (30, 45), (45, 45), (45, 45)]  # whole members, then the end


def test_another_seed_gives_other_weights(boston):
    first = _state(QUICK, boston)
    other = _state(TrainConfig(**{**QUICK.to_dict(), "seed": 1, "drop": ()}), boston)
    assert not torch.equal(first["members.0.0.weight"], other["members.0.0.weight"])


def test_standardization_statistics_come_from_training_rows_only(boston):
    """No leakage: the buffers equal the statistics of the rows passed to fit, not of all rows."""
    rows = np.arange(200)
    model = fit(boston.features[rows], boston.target[rows], QUICK).model
    np.testing.assert_allclose(model.x_mean.numpy(), boston.features[rows].mean(0), rtol=1e-5)
    np.testing.assert_allclose(model.x_scale.numpy(), boston.features[rows].std(0), rtol=1e-4)
    assert model.y_mean.item() == pytest.approx(boston.target[rows].mean(), rel=1e-5)
    assert not np.allclose(model.x_mean.numpy(), boston.features.mean(0), rtol=1e-3)


def test_log_feature_choice_comes_from_training_rows_only(boston):
    from houseprice.train.model import skewed_columns

    config = TrainConfig(**{**QUICK.to_dict(), "log_features": True, "drop": ()})
    rows = np.arange(300, 506)
    model = fit(boston.features[rows], boston.target[rows], config).model
    train_x = torch.as_tensor(boston.features[rows], dtype=torch.float32)
    assert torch.equal(model.log_mask.bool(), skewed_columns(train_x))
    logged = [boston.feature_names[j] for j in torch.nonzero(model.log_mask).flatten()]
    assert "CRIM" in logged and "CHAS" not in logged  # skewed yes, binary never


def test_training_reduces_the_error(boston):
    config = TrainConfig(epochs=150)
    run = train_holdout(boston, config)
    baseline = np.sqrt(np.mean((boston.target - boston.target.mean()) ** 2))
    assert run.trained.info.metrics["test"]["rmse"] < 0.6 * baseline
    assert run.trained.info.metrics["train"]["r2"] > 0.8


def test_ensemble_output_is_the_mean_of_its_members(boston):
    model = fit(boston.features, boston.target, QUICK).model
    x = torch.as_tensor(boston.features[:50], dtype=torch.float32)
    with torch.no_grad():
        z = (x - model.x_mean) / model.x_scale
        each = torch.cat([m(z) for m in model.members], dim=1) * model.y_scale + model.y_mean
        np.testing.assert_allclose(model(x).numpy(), each.mean(dim=1).numpy(), rtol=1e-6)
    assert predict(model, boston.features[:50]).shape == (50,)


def test_log_target_predicts_in_the_target_unit(boston):
    config = TrainConfig(epochs=100, log_target=True)
    run = train_holdout(boston, config)
    assert 5 < run.test_pred.mean() < 50
    assert run.trained.info.metrics["test"]["r2"] > 0.6


def test_log_target_rejects_non_positive_targets(boston):
    y = boston.target.copy()
    y[3] = 0
    with pytest.raises(TrainError, match="strictly positive"):
        fit(boston.features, y, TrainConfig(log_target=True))


def test_huber_loss_trains_and_differs_from_mse(boston):
    from dataclasses import replace

    mse = fit(boston.features, boston.target, QUICK).model
    huber = fit(boston.features, boston.target, replace(QUICK, loss="huber", huber_delta=0.3)).model
    assert not torch.equal(mse.members[0][0].weight, huber.members[0][0].weight)
    rmse = np.sqrt(np.mean((predict(huber, boston.features) - boston.target) ** 2))
    assert rmse < 0.6 * boston.target.std()


def test_a_lower_skew_threshold_logs_more_columns(boston):
    from dataclasses import replace

    config = replace(QUICK, log_features=True, epochs=1)
    logged = {
        t: fit(
            boston.features, boston.target, replace(config, skew_threshold=t)
        ).model.log_mask.sum()
        for t in (1.0, 0.5)
    }
    assert logged[0.5] > logged[1.0] > 0


def test_lean_adam_matches_torch_adam_bit_for_bit():
    from houseprice.train.fit import LeanAdam

    torch.manual_seed(0)
    ours = [torch.randn(7, 5, requires_grad=True), torch.randn(5, requires_grad=True)]
    theirs = [p.detach().clone().requires_grad_(True) for p in ours]
    start = [p.detach().clone() for p in ours]
    lean = LeanAdam(ours, lr=0.01, weight_decay=1e-3)
    adam = torch.optim.Adam(theirs, lr=0.01, weight_decay=1e-3, fused=True)
    x = torch.randn(16, 7)
    for _ in range(25):
        for params, optimiser in ((ours, lean), (theirs, adam)):
            for p in params:
                p.grad = None
            ((x @ params[0] + params[1]) ** 2).mean().backward()
            optimiser.step()
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True))
    assert not any(torch.equal(p, q) for p, q in zip(ours, start, strict=True))  # they moved


def test_lean_forward_is_the_member_itself():
    from houseprice.train.fit import _lean_forward
    from houseprice.train.model import PriceMLP

    member = PriceMLP(13, 20, 1).members[0]
    z = torch.randn(9, 13)
    assert torch.equal(_lean_forward(member)(z), member(z))
