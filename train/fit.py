"""Fit a PriceMLP on numpy arrays: seeded, single-threaded, so equal inputs give equal weights.

Each ensemble member trains alone, with its own seed and its own inner validation split (when early
stopping is on); the finished members are then averaged by the one exported module.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from houseprice.train.config import TrainConfig
from houseprice.train.model import PriceMLP

Progress = Callable[[int, int], None]  # (epochs done, epochs planned) over all members


class TrainError(ValueError):
    """The data cannot be trained on with this configuration."""


@dataclass
class FitResult:
    model: PriceMLP
    # Per member, per epoch: MSE in standardized target units (val empty without early stopping).
    train_loss: list[list[float]] = field(default_factory=list)
    val_loss: list[list[float]] = field(default_factory=list)
    best_epoch: list[int] = field(default_factory=list)


@contextmanager
def _single_thread() -> Iterator[None]:
    # One thread is both faster for a model this small and needed for bitwise-repeatable sums.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def fit(
    x: np.ndarray, y: np.ndarray, config: TrainConfig, progress: Progress | None = None
) -> FitResult:
    """Train on rows x (n, n_features) and targets y (n,) in the target's unit."""
    if config.log_target and np.any(y <= 0):
        raise TrainError("--log-target needs a strictly positive target")
    if len(x) < 2:
        raise TrainError(f"{len(x)} training rows: at least 2 are needed")
    with _single_thread():
        torch.manual_seed(config.seed)
        xt = torch.as_tensor(x, dtype=torch.float32)
        yt = torch.as_tensor(np.log(y) if config.log_target else y, dtype=torch.float32)
        model = PriceMLP(x.shape[1], config.hidden, config.members, config.log_target)
        # Scaling statistics come from all training rows (never test rows), shared by members.
        model.set_scaling(xt, yt, config.standardize, config.log_features, config.skew_threshold)
        z = model.transform(xt)  # (n, n_features)
        t = ((yt - model.y_mean) / model.y_scale).unsqueeze(1)  # (n, 1)
        result = FitResult(model)
        for i, member in enumerate(model.members):
            rng = np.random.default_rng([config.seed, i])
            done = i * config.epochs
            step = (
                (lambda e, d=done: progress(d + e, config.members * config.epochs))
                if progress
                else None
            )
            train_loss, val_loss, best = _fit_member(member, z, t, config, rng, step)
            result.train_loss.append(train_loss)
            result.val_loss.append(val_loss)
            result.best_epoch.append(best)
        if progress is not None:
            progress(config.members * config.epochs, config.members * config.epochs)
        model.eval()
        return result


def _inner_split(
    n: int, config: TrainConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Rows a member fits on, and rows it early-stops on (none without early stopping)."""
    if config.val_fraction == 0:
        return np.arange(n), np.arange(0)
    n_val = max(1, round(n * config.val_fraction))
    if n - n_val < 2:
        raise TrainError(f"{n} training rows are too few for a validation split")
    order = rng.permutation(n)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _fit_member(
    member: nn.Module,
    z: torch.Tensor,
    t: torch.Tensor,
    config: TrainConfig,
    rng: np.random.Generator,
    progress: Callable[[int], None] | None,
) -> tuple[list[float], list[float], int]:
    """Adam on one member; with a validation split, keep its best epoch's weights."""
    fit_rows, val_rows = _inner_split(len(z), config, rng)
    z_fit, t_fit, z_val, t_val = z[fit_rows], t[fit_rows], z[val_rows], t[val_rows]
    optimiser = torch.optim.Adam(
        member.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=True
    )
    criterion = nn.HuberLoss(delta=config.huber_delta) if config.loss == "huber" else nn.MSELoss()
    n = len(fit_rows)
    batch = config.batch_size if 0 < config.batch_size < n else n
    train_loss: list[float] = []
    val_loss: list[float] = []
    best, best_epoch, best_state = float("inf"), 0, None
    for epoch in range(config.epochs):
        order = torch.as_tensor(rng.permutation(n)) if batch < n else None
        total = 0.0
        for start in range(0, n, batch):
            rows = order[start : start + batch] if order is not None else slice(None)
            loss = criterion(member(z_fit[rows]), t_fit[rows])
            # Module.zero_grad: the optimiser's zero_grad pays a dynamo guard on every call.
            member.zero_grad(set_to_none=True)
            (loss * config.loss_scale).backward()
            optimiser.step()
            total += loss.item() * (min(start + batch, n) - start)
        train_loss.append(total / n)  # mean over the epoch's batches, before each step
        if len(val_rows):
            with torch.no_grad():
                val = ((member(z_val) - t_val) ** 2).mean().item()
            val_loss.append(val)
            if val < best:
                best, best_epoch, best_state = val, epoch, copy.deepcopy(member.state_dict())
            elif config.patience and epoch - best_epoch >= config.patience:
                break
        if progress is not None:
            progress(epoch + 1)
    if best_state is not None:
        member.load_state_dict(best_state)
    else:
        best_epoch = len(train_loss) - 1
    return train_loss, val_loss, best_epoch


def predict(model: PriceMLP, x: np.ndarray) -> np.ndarray:
    """Prices for rows x (n, n_features), float64 (n,)."""
    with torch.no_grad(), _single_thread():
        return model(torch.as_tensor(x, dtype=torch.float32)).double().numpy()
