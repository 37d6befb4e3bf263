"""The exported form of a `PriceMLP`: the same arithmetic as one wide MLP, a handful of ONNX nodes
however many members the ensemble has, with no `Where` (NNAPI cannot run it) and no `Gather`
(CoreML cannot, and onnxruntime's costs ~8 ns a value along columns).

The algebra (float64, then one cast to float32):
- one small Gemm, x S + c, reorders the columns (the k logged ones first, then the raw ones),
  adds 1 to the logged ones and appends a column of ones: a sum of one value times 1 and zeros is
  that value exactly (inputs are finite), so it is exactly [x_logged + 1, x_raw, 1]. A Split then
  takes log(max(x + 1, 1)) = log(max(x, 0) + 1) of the first k columns only, which is the
  Clip-Add-Log the graph computed before, bit for bit, at k/13 of the Log's cost; the first
  layer's weight rows follow the new column order. (Selecting from [x, log1p x] with a 0/1
  matrix, before, took the Log of every column and a 26-wide concat: 126 against 97 us a
  2,048-row block, measured.)
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
        with torch.no_grad():  # buffers, not graph nodes: torch.export deep-copies the module
            self._fuse(model)

    def _fuse(self, model: PriceMLP) -> None:
        logged = model.log_mask > 0
        # z's column order: the logged columns, then the raw ones (then the ones column).
        order = torch.cat([torch.nonzero(logged).flatten(), torch.nonzero(~logged).flatten()])
        first = [member[0] for member in model.members]
        last = [member[2] for member in model.members]
        w1 = torch.cat([layer.weight for layer in first]).double()
        b1 = torch.cat([layer.bias for layer in first]).double()
        mean, scale = model.x_mean.double(), model.x_scale.double()
        w2 = torch.cat([layer.weight for layer in last], dim=1).double() / len(last)
        b2 = torch.stack([layer.bias for layer in last]).double().mean()
        y_scale, y_mean = model.y_scale.double(), model.y_mean.double()
        self.n_logged = int(logged.sum())
        self.register_buffer("select", _selection(order))  # (F + 1, F): linear()'s (out, in)
        self.register_buffer("offset", _offset(self.n_logged, len(order)))  # (F + 1,)
        bias = b1 - (w1 * (mean / scale)).sum(dim=1)
        # Stored as (F + 1, H), the MatMul's B as the graph wants it (no transpose node).
        w1z = torch.cat([(w1 / scale)[:, order], bias[:, None]], dim=1)
        self.register_buffer("w1t", w1z.T.float().contiguous())
        self.register_buffer("w2", (w2 * y_scale).float())
        self.register_buffer("b2", (b2 * y_scale + y_mean).reshape(1).float())
        self.log_target = model.log_target

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        z = nn.functional.linear(features, self.select, self.offset)  # [x_log + 1, x_raw, 1]
        if self.n_logged:  # no Split, Clip, Log or Concat without logged columns
            shifted, rest = torch.split(z, [self.n_logged, z.shape[1] - self.n_logged], dim=1)
            z = torch.cat([torch.log(torch.clamp(shifted, min=1.0)), rest], dim=1)
        hidden = torch.relu(z @ self.w1t)  # (batch, H)
        y = nn.functional.linear(self.w2, hidden, self.b2).flatten()  # (1, batch) -> (batch,)
        return torch.exp(y) if self.log_target else y


def _selection(order: torch.Tensor) -> torch.Tensor:
    """0/1 rows, one per z column, picking its input column; the last row (ones column) is 0."""
    rows = torch.eye(len(order))[order]
    return torch.cat([rows, torch.zeros(1, len(order))]).contiguous()


def _offset(n_logged: int, n_features: int) -> torch.Tensor:
    """The Gemm's bias: 1 for the logged columns (log(x + 1) follows) and the ones column."""
    offset = torch.zeros(n_features + 1)
    offset[:n_logged] = 1.0
    offset[-1] = 1.0
    return offset
