"""`Predictor`: one exported model, one engine (onnxruntime, or numpy for ``model.npz``), houses
in, prices out."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from houseprice.core.errors import InputError, ModelError
from houseprice.core.files import unreadable
from houseprice.core.reading import open_regular
from houseprice.runtime.contract import OUTPUT_NAME, ModelInfo
from houseprice.runtime.engines import open_engine
from houseprice.runtime.file_versions import oldest_onnxruntime
from houseprice.runtime.model_file import HEAD_BYTES, NPZ, TFLITE, file_size, model_kind
from houseprice.runtime.one_house import OneHouse
from houseprice.runtime.validate import (
    Locate,
    Schema,
    finite_float32,
    nonfinite_price_error,
    records_to_array,
)


class Predictor:
    """Prices for houses, from a houseprice model file (``.onnx``, ``.ort`` or ``.npz``) and
    nothing else.

    >>> p = Predictor.load("artifacts/model.onnx")   # doctest: +SKIP
    >>> p.predict({"CRIM": 0.1, ..., "LSTAT": 5.0})   # doctest: +SKIP

    A price is never NaN or infinite: a house for which the model gives one (a feature far outside
    the training range) is an InputError naming the house and the features to blame.
    """

    def __init__(self, model_bytes: bytes, *, threads: int = 1, source: str = "model"):
        if threads < 1:
            raise ValueError("threads must be >= 1")
        self.kind = model_kind(model_bytes[:HEAD_BYTES], len(model_bytes), source)
        self._model_bytes = model_bytes
        self._threads = threads
        self.source = source
        engine = open_engine(self.kind, model_bytes, threads, source)
        self.engine = engine.name
        self.info: ModelInfo = engine.info
        self._signature = engine.signature
        self._run = engine.run
        self._block_rows = engine.block_rows
        self.schema = Schema(self.info.feature_names)
        self._one_house = OneHouse(self.schema)
        self._smoke_test()

    def _smoke_test(self) -> None:
        """Refuse at load a model that cannot price the house in the middle of every training
        range (weights of 3e38 load as finite, then fail every house as if it were the input's
        fault)."""
        low, high = np.asarray(self.info.feature_min), np.asarray(self.info.feature_max)
        middle = ((low + high) / 2).astype(np.float32)[None, :]
        prices = self._checked(self._run(middle), 1)
        if not _all_finite(prices):
            raise ModelError(
                f"{self.source}: gives no finite price for the house in the middle of its "
                "training ranges (damaged weights?)"
            )

    @classmethod
    def load(cls, path: str | Path, *, threads: int = 1) -> Predictor:
        file = Path(path)
        try:
            with open_regular(file) as handle:  # a FIFO or device would block or never end
                size = file_size(handle)
                # Look before reading it all: a 2 GB file of zeros fails here, in microseconds.
                head = handle.read(HEAD_BYTES)
                model_kind(head, size, str(file))
                data = head + handle.read()
        except OSError as exc:
            missing = "no model there; export one with `hp-export`"
            raise ModelError(unreadable(file, exc, missing=missing, kind="a model file")) from None
        return cls(data, threads=threads, source=str(file))

    @property
    def model_bytes(self) -> bytes:
        """The model file's bytes, as this predictor runs them."""
        return self._model_bytes

    @property
    def threads(self) -> int:
        return self._threads

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.info.feature_names

    def signature(self) -> dict[str, list[dict[str, Any]]]:
        """Inputs and outputs as the file declares them: name, element type, shape."""
        return self._signature

    def runs_on(self) -> str:
        """Which engines load this file: numpy alone for an npz, LiteRT for a .tflite, else the
        oldest onnxruntime."""
        if self.kind == NPZ:
            return "numpy alone (no onnxruntime needed)"
        if self.kind == TFLITE:
            return "LiteRT (ai-edge-litert; no onnxruntime, no torch)"
        oldest = oldest_onnxruntime(self._model_bytes)
        return f"onnxruntime >= {oldest}" if oldest else "onnxruntime (oldest release unknown)"

    def predict(
        self, records: Mapping[str, Any] | Sequence[Mapping[str, Any]], *, coerce: bool = False
    ) -> np.ndarray:
        """Prices, float32 (n,), for one house (a mapping) or a sequence of them.

        Feature names match case-insensitively; values may be Python or numpy numbers; numbers
        given as strings are accepted only with ``coerce=True``. Raises InputError naming the
        record and the field.
        """
        if isinstance(records, Mapping):
            locate: Locate = _HOUSE
            x = self._one_house.row(records)  # None unless plainly valid: then the full checks
            if x is None:
                x = records_to_array([records], self.schema, locate, coerce)
        elif isinstance(records, Sequence) and not isinstance(records, (str, bytes)):
            if not records:
                raise InputError("no houses given")
            locate = _house_i
            x = records_to_array(records, self.schema, locate, coerce)
        else:
            raise InputError(
                f"expected a mapping or a sequence of mappings, got {type(records).__name__}"
            )
        return self.price_rows(x, locate)

    def predict_array(self, x: Any) -> np.ndarray:
        """Prices, float32 (n,), for a 2-D array of raw features in ``feature_names`` order."""
        if type(x) is not np.ndarray or x.dtype != np.float32 or not x.flags.c_contiguous:
            x = _as_float32(x, self.schema)
        if x.ndim != 2 or x.shape[1] != self.schema.width:
            raise InputError(
                f"expected an array of shape (n, {self.schema.width}) in the order "
                f"{self.schema.describe()}, got shape {x.shape}"
            )
        if not _all_finite(x):
            finite_float32(x, self.schema, _row_i)
        return self.price_rows(x, _row_i)

    def price_rows(self, x: np.ndarray, locate: Locate) -> np.ndarray:
        """Prices of validated float32 rows; InputError (``locate`` naming the house) if the model
        gives a non-finite price for any of them."""
        prices = self._run_blocks(x)
        if not _all_finite(prices):
            raise nonfinite_price_error(x, prices, self.info, locate)
        return prices

    def predict_unchecked(self, x: np.ndarray) -> np.ndarray:
        """The graph's raw output for float32 rows, infinities and NaN included: for the parity
        gate and benchmarks, which compare it as it is. Not for pricing houses."""
        return self._run(x)

    def _run_blocks(self, x: np.ndarray) -> np.ndarray:
        """One price per row, run the engine's block of rows at a time into one output array: a
        block's hidden activations stay in cache (and memory stays bounded) however many come."""
        rows = self._block_rows
        if len(x) <= rows:
            return self._checked(self._run(x), len(x))
        prices = np.empty(len(x), dtype=np.float32)
        for start in range(0, len(x), rows):
            block = x[start : start + rows]
            prices[start : start + len(block)] = self._checked(self._run(block), len(block))
        return prices

    def _checked(self, prices: np.ndarray, rows: int) -> np.ndarray:
        if prices.shape != (rows,):  # the declared shape was checked; this is what it gave
            raise ModelError(
                f"{self.source}: output {OUTPUT_NAME!r} has shape {prices.shape} for {rows} "
                "houses, expected one price per house"
            )
        return prices

    # Pickling ships the model bytes; the session is rebuilt on the other side.
    def __getstate__(self) -> dict[str, Any]:
        return {"model_bytes": self._model_bytes, "threads": self._threads, "source": self.source}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["model_bytes"], threads=state["threads"], source=state["source"])


def _all_finite(a: np.ndarray) -> bool:
    """No NaN or infinity in ``a``. A few values are checked in Python: numpy's two calls
    (isfinite, then all) cost more than the check itself for one house."""
    if a.size <= _FEW:
        return all(map(math.isfinite, a.ravel().tolist()))
    return bool(np.isfinite(a).all())


_FEW = 64


def _HOUSE(i: int) -> str:
    return "house"


def _house_i(i: int) -> str:
    return f"house {i}"


def _row_i(i: int) -> str:
    return f"row {i}"


def _as_float32(x: Any, schema: Schema) -> np.ndarray:
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            return np.ascontiguousarray(x, dtype=np.float32)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InputError(
            f"expected a numeric array of shape (n, {schema.width}): {str(exc)[:100]}"
        ) from None
