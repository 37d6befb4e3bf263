"""The model a server answers with, and its replacement without downtime.

A request takes `ModelHolder.current` once and uses that `LoadedModel` to the end; a reload builds
a new one completely (file read, contract checked, the Predictor's smoke prediction) and then swaps the single
reference, so a request in flight never sees half of each model and a bad file never replaces a
good one.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from houseprice.core import defaults
from houseprice.core.errors import ModelError
from houseprice.runtime.one_house import OneHouseJson
from houseprice.runtime.predictor import Predictor
from houseprice.runtime.validate import RangeCheck

log = logging.getLogger("houseprice.serve")
MARGIN = defaults.MARGIN  # hp-serve warns as hp-infer does by default


@dataclass(frozen=True)
class LoadedModel:
    predictor: Predictor
    sha256: str
    path: Path
    one_house: OneHouseJson  # the hot path of a single-object request, built once per model
    ranges: RangeCheck  # the extrapolation bounds; `fresh()` gives a request its own counts

    def describe(self) -> dict[str, Any]:
        """What `hp-infer --describe` shows, as JSON."""
        info = self.predictor.info
        return {
            "file": str(self.path.name),  # the name only: no server paths in responses
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
    return _prove(Predictor.load(path, threads=threads), path)


def fresh_copy(model: LoadedModel) -> LoadedModel:
    """The same model with a session of its own (for a forked worker: an onnxruntime session is
    never shared across fork)."""
    predictor = model.predictor
    return _prove(
        Predictor(predictor.model_bytes, threads=predictor.threads, source=predictor.source),
        model.path,
    )


def _prove(predictor: Predictor, path: Path) -> LoadedModel:
    info = predictor.info
    ranges = RangeCheck(predictor.schema, info.feature_min, info.feature_max, MARGIN)
    return LoadedModel(
        predictor,
        hashlib.sha256(predictor.model_bytes).hexdigest(),
        path,
        OneHouseJson(predictor, ranges.lower, ranges.upper),
        ranges,
    )


class ModelHolder:
    def __init__(self, model: LoadedModel, threads: int = 1):
        self.current = model
        self._threads = threads
        self._lock = threading.Lock()  # one reload at a time; readers never wait

    def reload(self, *, wait: bool = True) -> tuple[LoadedModel, bool]:
        """Load the file again and swap it in, unless it holds the model already serving (then
        the second value is False); on ModelError the current model stays. ``wait=False``
        raises ReloadInProgress instead of waiting for a reload under way (a signal handler
        must not wait for a reload it interrupted: that lock would never be released)."""
        if not self._lock.acquire(blocking=wait):
            raise ReloadInProgress("a reload is already under way")
        try:
            fresh = _load_for_reload(self.current.path, self._threads)
            if fresh.sha256 == self.current.sha256:
                return self.current, False
            self.current = fresh
            return fresh, True
        finally:
            self._lock.release()


def _load_for_reload(path: Path, threads: int) -> LoadedModel:
    """load_model, with any failure a ModelError: a damaged file must never end a running server,
    even one whose damage a loader does not foresee (that bug is logged with its traceback)."""
    try:
        return load_model(path, threads)
    except ModelError:
        raise
    except Exception as exc:
        log.exception("loading %s failed unexpectedly", path)
        raise ModelError(f"{path}: cannot be loaded ({type(exc).__name__})") from None


class ReloadInProgress(Exception):
    """Another reload holds the model holder."""
