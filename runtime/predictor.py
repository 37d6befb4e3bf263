"""`Predictor`: one exported model, one onnxruntime session, houses in, prices out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from houseprice.runtime.contract import INPUT_NAME, OUTPUT_NAME, ModelInfo
from houseprice.runtime.errors import InputError, ModelError
from houseprice.runtime.validate import Schema, finite_float32, records_to_array

# onnxruntime logs to stderr at WARNING by default; a library should stay quiet unless it fails.
_ORT_LOG_ERROR = 3
_OUTPUTS = [OUTPUT_NAME]


class Predictor:
    """Prices for houses, from a houseprice ``.onnx`` file and nothing else.

    >>> p = Predictor.load("artifacts/model.onnx")   # doctest: +SKIP
    >>> p.predict({"CRIM": 0.1, ..., "LSTAT": 5.0})   # doctest: +SKIP
    """

    def __init__(self, model_bytes: bytes, *, threads: int = 1, source: str = "model"):
        if threads < 1:
            raise ValueError("threads must be >= 1")
        self._model_bytes = model_bytes
        self._threads = threads
        self.source = source
        self._session = _new_session(model_bytes, threads, source)
        self.info = ModelInfo.from_metadata(
            self._session.get_modelmeta().custom_metadata_map, source
        )
        self.schema = Schema(self.info.feature_names)
        _check_signature(self._session, self.info, source)

    @classmethod
    def load(cls, path: str | Path, *, threads: int = 1) -> Predictor:
        file = Path(path)
        try:
            data = file.read_bytes()
        except FileNotFoundError:
            raise ModelError(
                f"{file}: no model there; export one with `hp-export --format onnx`"
            ) from None
        except IsADirectoryError:
            raise ModelError(f"{file}: is a directory, not a model file") from None
        except OSError as exc:
            raise ModelError(f"{file}: cannot read ({exc.strerror})") from None
        return cls(data, threads=threads, source=str(file))

    @property
    def model_bytes(self) -> bytes:
        """The serialized ONNX model this predictor runs."""
        return self._model_bytes

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.info.feature_names

    def predict(
        self, records: Mapping[str, Any] | Sequence[Mapping[str, Any]], *, coerce: bool = False
    ) -> np.ndarray:
        """Prices, float32 (n,), for one house (a mapping) or a sequence of them.

        Feature names match case-insensitively; numbers given as strings are accepted only with
        ``coerce=True``. Raises InputError naming the record and the field.
        """
        if isinstance(records, Mapping):
            x = records_to_array([records], self.schema, lambda i: "house", coerce)
        elif isinstance(records, Sequence) and not isinstance(records, (str, bytes)):
            if not records:
                raise InputError("no houses given")
            x = records_to_array(records, self.schema, lambda i: f"house {i}", coerce)
        else:
            raise InputError(
                f"expected a mapping or a sequence of mappings, got {type(records).__name__}"
            )
        return self._run(x)

    def predict_array(self, x: Any) -> np.ndarray:
        """Prices, float32 (n,), for a 2-D array of raw features in ``feature_names`` order."""
        if type(x) is not np.ndarray or x.dtype != np.float32 or not x.flags.c_contiguous:
            x = np.ascontiguousarray(x, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.schema.width:
            raise InputError(
                f"expected an array of shape (n, {self.schema.width}) in the order "
                f"{self.schema.describe()}, got shape {x.shape}"
            )
        if not np.isfinite(x).all():
            finite_float32(x, self.schema, lambda i: f"row {i}")
        return self._run(x)

    def _run(self, x: np.ndarray) -> np.ndarray:
        return self._session.run(_OUTPUTS, {INPUT_NAME: x})[0]

    # Pickling ships the model bytes; the session is rebuilt on the other side.
    def __getstate__(self) -> dict[str, Any]:
        return {"model_bytes": self._model_bytes, "threads": self._threads, "source": self.source}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["model_bytes"], threads=state["threads"], source=state["source"])


def _new_session(model_bytes: bytes, threads: int, source: str) -> ort.InferenceSession:
    options = ort.SessionOptions()
    # A tiny MLP: one thread per predictor by default, no spinning threads burning idle cores.
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.log_severity_level = _ORT_LOG_ERROR
    try:
        return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own pybind types for a bad file
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{source}: not a loadable ONNX model ({detail[:200]})") from None


def _check_signature(session: ort.InferenceSession, info: ModelInfo, source: str) -> None:
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if [i.name for i in inputs] != [INPUT_NAME] or OUTPUT_NAME not in [o.name for o in outputs]:
        raise ModelError(
            f"{source}: expected input {INPUT_NAME!r} and output {OUTPUT_NAME!r}, found inputs "
            f"{[i.name for i in inputs]} and outputs {[o.name for o in outputs]}"
        )
    shape = inputs[0].shape
    if len(shape) != 2 or shape[1] != info.n_features:
        raise ModelError(
            f"{source}: input {INPUT_NAME!r} has shape {shape}, but its metadata lists "
            f"{info.n_features} features"
        )
