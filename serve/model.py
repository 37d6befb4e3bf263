"""The model a server answers with, and its replacement without downtime.

A request takes `ModelHolder.current` once and uses that `LoadedModel` to the end; a reload builds
a new one completely (file read, signature checked, smoke prediction) and then swaps the single
reference, so a request in flight never sees half of each model and a bad file never replaces a
good one.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from houseprice.runtime.errors import InputError, ModelError
from houseprice.runtime.predictor import Predictor


@dataclass(frozen=True)
class LoadedModel:
    predictor: Predictor
    sha256: str
    path: Path

    def describe(self) -> dict[str, Any]:
        """What `hp-infer --describe` shows, as JSON."""
        info = self.predictor.info
        return {
            "path": str(self.path.name),  # the name only: no server paths in responses
            "sha256": self.sha256,
            "target": {"name": info.target_name, "unit": info.target_unit},
            "features": [
                {"name": n, "training_min": lo, "training_max": hi}
                for n, lo, hi in zip(
                    info.feature_names, info.feature_min, info.feature_max, strict=True
                )
            ],
            "metrics": info.metrics,
            "exported_at": info.exported_at,
            "signature": self.predictor.signature(),
        }


def load_model(path: Path, threads: int = 1) -> LoadedModel:
    """Load and prove a model: ModelError if the file is not one, or cannot price a house."""
    predictor = Predictor.load(path, threads=threads)
    smoke_test(predictor)
    return LoadedModel(predictor, hashlib.sha256(predictor.model_bytes).hexdigest(), path)


def smoke_test(predictor: Predictor) -> None:
    """One prediction for the house in the middle of every training range."""
    info = predictor.info
    middle = (np.asarray(info.feature_min) + np.asarray(info.feature_max)) / 2
    try:
        predictor.predict_array(middle[None, :].astype(np.float32))
    except (InputError, ModelError) as exc:
        raise ModelError(f"{predictor.source}: fails its smoke prediction ({exc})") from None


class ModelHolder:
    def __init__(self, model: LoadedModel, threads: int = 1):
        self.current = model
        self._threads = threads
        self._lock = threading.Lock()  # one reload at a time; readers never wait

    def reload(self) -> LoadedModel:
        """Load the file again and swap it in; on ModelError the current model stays."""
        with self._lock:
            fresh = load_model(self.current.path, self._threads)
            self.current = fresh
            return fresh
