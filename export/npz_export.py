"""The fused module -> ``model.npz`` for the numpy backend (runtime/npz_model.py): the same
weights the ONNX graph holds, the same metadata record, no pickle. The same arrays feed the C
and JavaScript source exports."""

from __future__ import annotations

import numpy as np

from houseprice.export.fused import FusedPriceMLP
from houseprice.runtime.contract import ModelInfo
from houseprice.runtime.npz_model import NpzModel, to_bytes


def export_npz(fused: FusedPriceMLP, info: ModelInfo) -> bytes:
    return to_bytes(fused_arrays(fused, info))


def fused_arrays(fused: FusedPriceMLP, info: ModelInfo) -> NpzModel:
    """The fused module's weights as plain arrays: what the npz, C and JS exports are made of."""
    width = info.n_features
    select = fused.select.detach().numpy()  # (F + 1, F): row j picks z's column j from the input
    order = select[:width].argmax(axis=1)
    return NpzModel(
        metadata=info.to_metadata(),
        order=order.astype(np.int64),
        n_logged=fused.n_logged,
        log_target=bool(fused.log_target),
        w1=fused.w1t.detach().numpy(),
        w2=fused.w2.detach().numpy().reshape(-1),
        b2=fused.b2.detach().numpy().reshape(1),
    )
