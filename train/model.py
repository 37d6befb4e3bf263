"""The regressor: standardize -> mean of `members` MLPs -> de-standardize, one module end to end.

Standardization statistics are buffers, so the exported graph takes raw features and returns the
price in the target's own unit.
"""

from __future__ import annotations

import torch
from torch import nn


class PriceMLP(nn.Module):
    def __init__(
        self, n_features: int, hidden: int = 100, members: int = 1, log_target: bool = False
    ):
        super().__init__()
        self.n_features = n_features
        self.log_target = log_target
        self.register_buffer("x_mean", torch.zeros(n_features))
        self.register_buffer("x_scale", torch.ones(n_features))
        self.register_buffer("y_mean", torch.zeros(()))
        self.register_buffer("y_scale", torch.ones(()))
        self.members = nn.ModuleList(
            nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, 1))
            for _ in range(members)
        )

    def forward_scaled(self, z: torch.Tensor) -> torch.Tensor:
        """Each member's prediction in standardized target units: (batch, members)."""
        return torch.cat([member(z) for member in self.members], dim=1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        z = (features - self.x_mean) / self.x_scale  # (batch, n_features)
        y = self.forward_scaled(z).mean(dim=1)  # (batch,)
        y = y * self.y_scale + self.y_mean
        return torch.exp(y) if self.log_target else y  # (batch,) in the target's unit

    def set_scaling(self, x: torch.Tensor, y: torch.Tensor, standardize: bool) -> None:
        """Fit the buffers on training rows only; x (n, n_features), y (n,) already log'd if needed."""
        if not standardize:
            return
        x_scale = x.std(dim=0, unbiased=False)
        # A constant column would divide by zero; leave it unscaled instead.
        self.x_mean.copy_(x.mean(dim=0))
        self.x_scale.copy_(torch.where(x_scale > 0, x_scale, torch.ones_like(x_scale)))
        self.y_mean.copy_(y.mean())
        y_scale = y.std(unbiased=False)
        self.y_scale.copy_(y_scale if y_scale > 0 else torch.ones_like(y_scale))
