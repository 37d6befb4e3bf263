"""The exported form of a `PriceMLP`: the same arithmetic as one wide MLP, a handful of ONNX nodes
however many members the ensemble has, and no `Where` (which NNAPI cannot run).

The algebra (float64, then one cast to float32):
- the skewed columns are gathered, log1p'd and put first; the others follow. The first layer's
  weight columns are permuted the same way, so nothing else changes;
- standardization folds into the first layer: W ((z - mean) / scale) + b
  = (W / scale) z + (b - W (mean / scale));
- the members' first layers stack into one (members * hidden rows), their last layers into one
  row, divided by the member count, so one dot product is their mean;
- de-standardization folds into the last layer: (w h + c) * y_scale + y_mean
  = (w * y_scale) h + (c * y_scale + y_mean); exp follows for a log target.
The parity gate compares this module's export against the unfused eager module, on every export.
"""

from __future__ import annotations

import torch
from torch import nn

from houseprice.train.model import PriceMLP


class FusedPriceMLP(nn.Module):
    def __init__(self, model: PriceMLP):
        super().__init__()
        logged = torch.nonzero(model.log_mask > 0).flatten()
        plain = torch.nonzero(model.log_mask <= 0).flatten()
        order = torch.cat([logged, plain])
        first = [member[0] for member in model.members]
        last = [member[2] for member in model.members]
        w1 = torch.cat([layer.weight for layer in first]).double()[:, order]
        b1 = torch.cat([layer.bias for layer in first]).double()
        mean, scale = model.x_mean.double()[order], model.x_scale.double()[order]
        w2 = torch.cat([layer.weight for layer in last], dim=1).double() / len(last)
        b2 = torch.stack([layer.bias for layer in last]).double().mean()
        y_scale, y_mean = model.y_scale.double(), model.y_mean.double()
        self.register_buffer("logged", logged)
        self.register_buffer("plain", plain)
        self.register_buffer("w1", (w1 / scale).float())
        self.register_buffer("b1", (b1 - (w1 * (mean / scale)).sum(dim=1)).float())
        self.register_buffer("w2", (w2 * y_scale).float())
        self.register_buffer("b2", (b2 * y_scale + y_mean).reshape(1).float())
        self.log_target = model.log_target
        self.has_logged, self.has_plain = len(logged) > 0, len(plain) > 0

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        parts = []
        if self.has_logged:
            skewed = torch.index_select(features, 1, self.logged)
            parts.append(torch.log1p(torch.clamp(skewed, min=0.0)))
        if self.has_plain:
            parts.append(torch.index_select(features, 1, self.plain))
        z = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        hidden = torch.relu(nn.functional.linear(z, self.w1, self.b1))
        y = nn.functional.linear(hidden, self.w2, self.b2).flatten()  # (batch,)
        return torch.exp(y) if self.log_target else y
