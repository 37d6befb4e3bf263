"""Fit a PriceMLP on numpy arrays: seeded, single-threaded, so equal inputs give equal weights.

Each ensemble member trains alone, with its own seed and its own inner validation split (when early
stopping is on); the finished members are then averaged by the one exported module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.optim.adam import adam as adam_update

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
    x: np.ndarray,
    y: np.ndarray,
    config: TrainConfig,
    progress: Progress | None = None,
    jobs: int = 1,
) -> FitResult:
    """Train on rows x (n, n_features) and targets y (n,) in the target's unit. With ``jobs`` > 1
    the members train in that many worker processes: each member is a pure function of its
    initial weights, the rows and its seed, so the weights are the same, bit for bit."""
    if config.log_target and np.any(y <= 0):
        raise TrainError("--log-target needs a strictly positive target")
    if len(x) < 2:
        raise TrainError(f"{len(x)} training rows: at least 2 are needed")
    if np.ptp(y) == 0:  # R^2 is undefined and the standardized target 0/0
        raise TrainError(f"the target is {y[0]:g} in every training row: there is nothing to learn")
    with _single_thread():
        torch.manual_seed(config.seed)
        xt = torch.as_tensor(x, dtype=torch.float32)
        yt = torch.as_tensor(np.log(y) if config.log_target else y, dtype=torch.float32)
        model = PriceMLP(x.shape[1], config.hidden, config.members, config.log_target)
        # Scaling statistics come from all training rows (never test rows), shared by members.
        model.set_scaling(xt, yt, config.standardize, config.log_features, config.skew_threshold)
        z = model.transform(xt)  # (n, n_features)
        t = ((yt - model.y_mean) / model.y_scale).unsqueeze(1)  # (n, 1)
        jobs = min(jobs, config.members)
        fits = (
            _members_in_workers(model, z, t, config, jobs)
            if jobs > 1
            else _members_here(model, z, t, config, progress)
        )
        outcomes: dict[int, MemberFit] = {}
        with closing(fits):  # a signal in this loop still stops the workers
            for i, outcome in fits:
                outcomes[i] = outcome
                if jobs > 1 and progress is not None:  # workers report whole members
                    progress(len(outcomes) * config.epochs, config.members * config.epochs)
        result = FitResult(model)
        for i in range(config.members):
            train_loss, val_loss, best = outcomes[i]
            result.train_loss.append(train_loss)
            result.val_loss.append(val_loss)
            result.best_epoch.append(best)
        if progress is not None:
            progress(config.members * config.epochs, config.members * config.epochs)
        model.eval()
        return result


MemberFit = tuple[list[float], list[float], int]  # train losses, validation losses, best epoch


def _members_here(
    model: PriceMLP,
    z: torch.Tensor,
    t: torch.Tensor,
    config: TrainConfig,
    progress: Progress | None,
) -> Iterator[tuple[int, MemberFit]]:
    for i, member in enumerate(model.members):
        done = i * config.epochs
        step = (
            (lambda e, d=done: progress(d + e, config.members * config.epochs))
            if progress
            else None
        )
        yield i, _fit_member(member, z, t, config, _member_rng(config, i), step)


def _member_rng(config: TrainConfig, i: int) -> np.random.Generator:
    return np.random.default_rng([config.seed, i])


def _members_in_workers(
    model: PriceMLP, z: torch.Tensor, t: torch.Tensor, config: TrainConfig, jobs: int
) -> Iterator[tuple[int, MemberFit]]:
    """Each member goes to a worker with its initial weights and comes back trained."""
    from houseprice.core.pools import as_completed_in_workers

    tasks = list(enumerate(model.members))
    fits = as_completed_in_workers(
        _fit_in_worker,
        tasks,
        jobs,
        _member_rows,
        (z, t, config),
        died=lambda: TrainError(_DIED.format("training")),
    )
    with closing(fits):
        for (i, member), (state, outcome) in fits:
            member.load_state_dict(state)  # the parent's own member: the task held a reference
            yield i, outcome


_DIED = "a {} worker process died (killed, or out of memory)"


def _member_rows(
    z: torch.Tensor, t: torch.Tensor, config: TrainConfig
) -> tuple[torch.Tensor, torch.Tensor, TrainConfig]:
    """A worker's state: the rows travel once per worker, not once per member."""
    return z, t, config


def _fit_in_worker(
    rows: tuple[torch.Tensor, torch.Tensor, TrainConfig], task: tuple[int, nn.Module]
) -> tuple[dict[str, torch.Tensor], MemberFit]:
    z, t, config = rows
    i, member = task
    with _single_thread():
        outcome = _fit_member(member, z, t, config, _member_rng(config, i), None)
    return member.state_dict(), outcome


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
    params = list(member.parameters())
    optimiser = LeanAdam(params, lr=config.lr, weight_decay=config.weight_decay)
    criterion = nn.HuberLoss(delta=config.huber_delta) if config.loss == "huber" else nn.MSELoss()
    forward = _lean_forward(member)
    n = len(fit_rows)
    batch = config.batch_size if 0 < config.batch_size < n else n
    train_loss: list[float] = []
    val_loss: list[float] = []
    best, best_epoch, best_state = float("inf"), 0, None
    for epoch in range(config.epochs):
        # The epoch's rows shuffled once; its batches are then slices (views, no copy each).
        z_epoch, t_epoch = z_fit, t_fit
        if batch < n:
            order = torch.as_tensor(rng.permutation(n))
            z_epoch, t_epoch = z_fit[order], t_fit[order]
        total = 0.0
        for start in range(0, n, batch):
            z_batch, t_batch = z_epoch[start : start + batch], t_epoch[start : start + batch]
            loss = criterion(forward(z_batch), t_batch)
            # Not the optimiser's zero_grad (a dynamo guard on every call) nor the module's (it
            # walks the module tree): the parameters are known.
            for param in params:
                param.grad = None
            # x * 1.0 is x exactly: skipping it changes no gradient, only saves a graph node.
            (loss if config.loss_scale == 1.0 else loss * config.loss_scale).backward()
            optimiser.step()
            total += loss.item() * (min(start + batch, n) - start)
        train_loss.append(total / n)  # mean over the epoch's batches, before each step
        if len(val_rows):
            with torch.no_grad():
                val = ((forward(z_val) - t_val) ** 2).mean().item()
            val_loss.append(val)
            if val < best:
                best, best_epoch = val, epoch
                best_state = {k: v.detach().clone() for k, v in member.state_dict().items()}
            elif config.patience and epoch - best_epoch >= config.patience:
                break
        if progress is not None:
            progress(epoch + 1)
    if best_state is not None:
        member.load_state_dict(best_state)
    else:
        best_epoch = len(train_loss) - 1
    return train_loss, val_loss, best_epoch


class LeanAdam:
    """torch.optim.Adam(fused=True), betas (0.9, 0.999), eps 1e-8: the same state and the same
    update call (torch.optim.adam.adam, the functional form Adam.step itself ends in), without
    Adam.step's per-call bookkeeping (hooks, profiler records, state lookups), which costs more
    than the update itself on a 1,500-weight member. Bit-identical to Adam (tested)."""

    def __init__(self, params: list[torch.Tensor], lr: float, weight_decay: float):
        self.params, self.lr, self.weight_decay = params, lr, weight_decay
        self.exp_avgs = [torch.zeros_like(p) for p in params]
        self.exp_avg_sqs = [torch.zeros_like(p) for p in params]
        self.steps = [torch.zeros((), dtype=torch.float32) for _ in params]  # fused: float32

    @torch.no_grad()
    def step(self) -> None:
        grads = [p.grad for p in self.params]
        adam_update(
            self.params,
            grads,
            self.exp_avgs,
            self.exp_avg_sqs,
            [],
            self.steps,
            fused=True,
            amsgrad=False,
            beta1=0.9,
            beta2=0.999,
            lr=self.lr,
            weight_decay=self.weight_decay,
            eps=1e-8,
            maximize=False,
        )


def _lean_forward(member: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """The member's Linear -> ReLU -> Linear as three calls, without nn.Module's per-call hooks
    (a third of a training step's time at these sizes); the same operations, the same bits."""
    first, last = member[0], member[2]
    assert (
        isinstance(first, nn.Linear)
        and isinstance(member[1], nn.ReLU)
        and isinstance(last, nn.Linear)
    )
    return lambda z: F.linear(F.relu(F.linear(z, first.weight, first.bias)), last.weight, last.bias)


def predict(model: PriceMLP, x: np.ndarray) -> np.ndarray:
    """Prices for rows x (n, n_features), float64 (n,)."""
    with torch.no_grad(), _single_thread():
        return model(torch.as_tensor(x, dtype=torch.float32)).double().numpy()
