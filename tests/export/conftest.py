"""What the source-export tests share: the C and JS files of the shared model, and onnxruntime's
prices for the data set's houses to hold them to."""

from __future__ import annotations

import numpy as np
import pytest

BOUND = 1e-5  # relative, against onnxruntime: float32 rounding, summed in another order


@pytest.fixture(scope="session")
def sources(exported, tmp_path_factory):
    """A folder with the shared model exported as C and as an ES module."""
    from houseprice.export.api import export_model

    folder = tmp_path_factory.mktemp("sources")
    export_model(exported.checkpoint, folder, ["c", "js"])
    return folder


@pytest.fixture(scope="session")
def expected(exported):
    """The data set's houses and onnxruntime's prices for them."""
    from houseprice.data import load_dataset
    from houseprice.runtime.predictor import Predictor

    rows = load_dataset().features.astype(np.float32)
    return rows, Predictor.load(exported.onnx).predict_array(rows)


def relative_diff(found: np.ndarray, wanted: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(found) - wanted) / np.abs(wanted)))
