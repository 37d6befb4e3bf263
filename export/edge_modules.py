"""The fused model written for the exporters of PyTorch's edge formats: the same weights and the
same arithmetic as `FusedPriceMLP` (export/fused.py), in operators those exporters keep
batch-agnostic. Each difference was found by exporting and running (2026-12-04, torch 2.13,
executorch 1.5.1, litert-torch 0.10)."""

from __future__ import annotations

import torch
from torch import nn

from houseprice.export.fused import FusedPriceMLP


class SlicedPriceMLP(FusedPriceMLP):
    """For ExecuTorch: slices instead of ``torch.split``, whose decomposition in ``to_edge``
    specialized the batch to the example's size (a .pte that priced two houses at a time)."""

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        z = nn.functional.linear(features, self.select, self.offset)  # [x_log + 1, x_raw, 1]
        k = self.n_logged
        if k:
            z = torch.cat([torch.log(torch.clamp(z[:, :k], min=1.0)), z[:, k:]], dim=1)
        hidden = torch.relu(z @ self.w1t)  # (batch, H)
        y = nn.functional.linear(self.w2, hidden, self.b2).flatten()  # (batch,)
        return torch.exp(y) if self.log_target else y


class ResizablePriceMLP(FusedPriceMLP):
    """For LiteRT, exported at a batch of one and resized at run time (litert-torch 0.10 fails
    on this graph's broadcast adds with a dynamic batch): no slice and no final reshape, each of
    which bakes the batch of one into the flatbuffer. The logged columns are chosen with a 0/1
    mask (z * (1 - m) + log z * m is exactly z or log z), and the price comes out (batch, 1)."""

    def __init__(self, model):
        super().__init__(model)
        width = self.select.shape[0]  # the model's columns and the ones column
        self.register_buffer("logged", (torch.arange(width) < self.n_logged).float())

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        z = nn.functional.linear(features, self.select, self.offset)  # (batch, F + 1)
        logs = torch.log(torch.clamp(z, min=1.0))
        z = z * (1.0 - self.logged) + logs * self.logged
        hidden = torch.relu(nn.functional.linear(z, self.w1t.T))  # (batch, H)
        y = nn.functional.linear(hidden, self.w2, self.b2)  # (batch, 1)
        return torch.exp(y) if self.log_target else y
