"""The regressor, one module end to end: log1p of skewed features -> standardize -> mean of
`members` MLPs -> de-standardize (-> exp for a log target).

Every preprocessing statistic is a buffer, so the exported graph takes raw features and returns the
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
        # 1.0 where a feature is replaced by log1p(max(x, 0)); chosen on training rows only.
        self.register_buffer("log_mask", torch.zeros(n_features))
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

    def transform(self, features: torch.Tensor) -> torch.Tensor:
        """Raw features (batch, n_features) -> the standardized inputs the members see."""
        return (self._log_skewed(features) - self.x_mean) / self.x_scale

    def _log_skewed(self, x: torch.Tensor) -> torch.Tensor:
        """log1p(max(x, 0)) in the columns of log_mask, x elsewhere: (batch, n_features)."""
        return torch.where(self.log_mask > 0, torch.log1p(torch.clamp(x, min=0.0)), x)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        z = self.transform(features)  # (batch, n_features)
        y = self.forward_scaled(z).mean(dim=1)  # (batch,)
        y = y * self.y_scale + self.y_mean
        return torch.exp(y) if self.log_target else y  # (batch,) in the target's unit

    def set_scaling(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        standardize: bool,
        log_skewed: bool = False,
        skew_threshold: float = 1.0,
    ) -> None:
        """Fit the buffers on training rows only; x (n, n_features), y (n,) already log'd if needed."""
        if log_skewed:
            self.log_mask.copy_(skewed_columns(x, skew_threshold).float())
            x = self._log_skewed(x)
        if not standardize:
            return
        x_scale = x.std(dim=0, unbiased=False)
        # A constant column would divide by zero; leave it unscaled instead.
        self.x_mean.copy_(x.mean(dim=0))
        self.x_scale.copy_(torch.where(x_scale > 0, x_scale, torch.ones_like(x_scale)))
        self.y_mean.copy_(y.mean())
        y_scale = y.std(unbiased=False)
        self.y_scale.copy_(y_scale if y_scale > 0 else torch.ones_like(y_scale))


def skewed_columns(x: torch.Tensor, threshold: float = 1.0) -> torch.Tensor:
    """Bool (n_features,): columns with min >= 0, more than two values, and skewness > threshold."""
    centred = x - x.mean(dim=0)
    spread = centred.pow(2).mean(dim=0)
    skew = centred.pow(3).mean(dim=0) / spread.clamp(min=1e-12).pow(1.5)
    many_values = torch.tensor([len(torch.unique(col)) > 2 for col in x.T])
    return (x.min(dim=0).values >= 0) & many_values & (skew > threshold)
