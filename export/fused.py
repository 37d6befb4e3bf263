"""The exported form of a `PriceMLP`: the same arithmetic as one wide MLP, a handful of ONNX nodes
however many members the ensemble has, with no `Where` (NNAPI cannot run it) and no `Gather`
(CoreML cannot, and onnxruntime's costs ~8 ns a value along columns).

The algebra (float64, then one cast to float32):
- log1p(max(x, 0)) of every column, then [x, log1p x] (batch, 2F) times a 0/1 selection matrix
  (2F, F+1), plus a constant row (0, ..., 0, 1), picks each column's form and appends a column of
  ones: a sum of one value times 1 and zeros is that value exactly (inputs are finite). One small
  Gemm instead of masks (3 nodes, slow broadcasts) or Gathers;
- standardization folds into the first layer: W ((z - mean) / scale) + b
  = (W / scale) z + (b - W (mean / scale)); that bias becomes the weight of the ones column, so
  the wide layer is one product with no bias to broadcast into its 4 MB output first (~14% of a
  large batch, measured);
- the members' first layers stack into one (members * hidden rows), their last layers into one
  row, divided by the member count, so one dot product is their mean;
- de-standardization folds into the last layer: (w h + c) * y_scale + y_mean
  = (w * y_scale) h + (c * y_scale + y_mean); exp follows for a log target.
The last layer is computed as w (1, H) times the hidden rows transposed: onnxruntime then runs
one row against a matrix instead of a one-column product, ~3x faster on large blocks (measured).
The parity gate compares this module's export against the unfused eager module, on every export.
"""

from __future__ import annotations

import torch
from torch import nn

from houseprice.train.model import PriceMLP


class FusedPriceMLP(nn.Module):
    def __init__(self, model: PriceMLP):
        super().__init__()
        logged = model.log_mask > 0
        first = [member[0] for member in model.members]
        last = [member[2] for member in model.members]
        w1 = torch.cat([layer.weight for layer in first]).double()
        b1 = torch.cat([layer.bias for layer in first]).double()
        mean, scale = model.x_mean.double(), model.x_scale.double()
        w2 = torch.cat([layer.weight for layer in last], dim=1).double() / len(last)
        b2 = torch.stack([layer.bias for layer in last]).double().mean()
        y_scale, y_mean = model.y_scale.double(), model.y_mean.double()
        self.register_buffer("log_mask", logged.float())
        self.register_buffer("select", _selection(logged))  # (F or 2F, F + 1)
        self.register_buffer("ones_column", torch.eye(len(logged) + 1)[-1])  # (0, ..., 0, 1)
        bias = b1 - (w1 * (mean / scale)).sum(dim=1)
        # Stored as (F + 1, H), the MatMul's B as the graph wants it (no transpose node).
        self.register_buffer(
            "w1t", torch.cat([w1 / scale, bias[:, None]], dim=1).T.float().contiguous()
        )
        self.register_buffer("w2", (w2 * y_scale).float())
        self.register_buffer("b2", (b2 * y_scale + y_mean).reshape(1).float())
        self.log_target = model.log_target
        # Only the nodes a model needs: no log without logged columns, no concat if all are.
        self.any_logged, self.all_logged = bool(logged.any()), bool(logged.all())

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        z = features
        if self.any_logged:
            z = torch.log1p(torch.clamp(features, min=0.0))
            if not self.all_logged:
                z = torch.cat([features, z], dim=1)
        z = nn.functional.linear(z, self.select, self.ones_column)  # (batch, F + 1)
        hidden = torch.relu(z @ self.w1t)  # (batch, H)
        y = nn.functional.linear(self.w2, hidden, self.b2).flatten()  # (1, batch) -> (batch,)
        return torch.exp(y) if self.log_target else y


def _selection(logged: torch.Tensor) -> torch.Tensor:
    """Rows: the inputs of the selection ([x, log1p x], or one of them when every column takes the
    same form); columns: z's F columns, then the ones column (all-zero weights here)."""
    keep, log = torch.diag((~logged).float()), torch.diag(logged.float())
    rows = log if logged.all() else keep if not logged.any() else torch.cat([keep, log])
    return torch.cat([rows, torch.zeros(len(rows), 1)], dim=1).T.contiguous()  # linear(): (out, in)
