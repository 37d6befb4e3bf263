"""An engine runs one model file: onnxruntime for ONNX and ORT files, numpy for ``model.npz``,
LiteRT (ai-edge-litert) for ``model.tflite``.
Each gives the `Predictor` the same four things: the model's facts, its signature, the call
from float32 rows to prices, and the rows per call that suit it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from houseprice.core.errors import MissingDependencyError, ModelError
from houseprice.runtime.contract import ModelInfo
from houseprice.runtime.model_file import NPZ, TFLITE

# Rows per call for large inputs, so that a block's hidden activations stay in the CPU's cache:
# measured per CPU with `python -m houseprice.bench.blocks` (docs/design.md, "Cache-sized blocks").
ONNX_BLOCK_ROWS = 512
LITERT_BLOCK_ROWS = 512
NUMPY_BLOCK_ROWS = 1024


@dataclass(frozen=True)
class Engine:
    name: str  # "onnxruntime" or "numpy"
    info: ModelInfo
    signature: dict[str, list[dict[str, Any]]]
    run: Callable[[np.ndarray], np.ndarray]
    block_rows: int


def open_engine(kind: str, model_bytes: bytes, threads: int, source: str) -> Engine:
    if kind == NPZ:
        return _numpy_engine(model_bytes, source)
    if kind == TFLITE:
        return _litert_engine(model_bytes, threads, source)
    with _installed(
        "onnxruntime",
        f"{source}: onnxruntime is not installed, and an ONNX file needs it; install it "
        "with `pip install onnxruntime`, or run model.npz (`hp-export --format npz`), "
        "which needs numpy alone",
    ):
        from houseprice.runtime import onnx_session
    session = onnx_session.new_session(model_bytes, threads, source)
    info = ModelInfo.from_metadata(session.get_modelmeta().custom_metadata_map, source)
    onnx_session.check_signature(session, info, source)
    return Engine(
        "onnxruntime",
        info,
        onnx_session.signature(session),
        onnx_session.session_runner(session),
        block_rows=ONNX_BLOCK_ROWS,
    )


def _numpy_engine(model_bytes: bytes, source: str) -> Engine:
    from houseprice.runtime import npz_model

    model = npz_model.from_bytes(model_bytes, source)
    info = ModelInfo.from_metadata(model.metadata, source)
    if info.n_features != model.n_features:
        raise ModelError(
            f"{source}: weights for {model.n_features} features, but its metadata lists "
            f"{info.n_features}"
        )
    return Engine(
        "numpy",
        info,
        model.signature(),
        model.runner(NUMPY_BLOCK_ROWS),
        block_rows=NUMPY_BLOCK_ROWS,
    )


def _litert_engine(model_bytes: bytes, threads: int, source: str) -> Engine:
    with _installed(
        "ai_edge_litert",
        f"{source}: ai-edge-litert is not installed, and a TFLite file needs it; install it "
        "with `pip install '.[litert-runtime]'` in the houseprice checkout",
    ):
        import ai_edge_litert.interpreter  # noqa: F401

        from houseprice.runtime import tflite_engine
    info, signature, run = tflite_engine.open_tflite(model_bytes, threads, source)
    return Engine("litert", info, signature, run, block_rows=LITERT_BLOCK_ROWS)


@contextmanager
def _installed(package: str, message: str) -> Iterator[None]:
    """The imports of the block, with ``package`` itself missing turned into
    MissingDependencyError(``message``); any other import error (a broken install of something
    it imports) goes on as it is."""
    try:
        yield
    except ImportError as exc:
        if exc.name is None or exc.name.split(".")[0] != package:
            raise
        raise MissingDependencyError(message) from None
