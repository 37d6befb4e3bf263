"""The LiteRT engine of a `Predictor`: ``model.tflite`` (``hp-export --format tflite``) through
ai-edge-litert's interpreter, the torch-free side of PyTorch's mobile path. The file is exported
at a batch of one and resized here to each batch; its price comes out (batch, 1). The model
contract rides in the flatbuffer's metadata, an entry named ``houseprice``."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from houseprice.core.errors import ModelError
from houseprice.core.quiet import quiet_native_logs
from houseprice.runtime.contract import INPUT_NAME, OUTPUT_NAME, ModelInfo

METADATA_NAME = "houseprice"
# LiteRT's ReLU (XNNPACK's clamp) turns a NaN into 0 where onnxruntime and numpy keep it: a house
# whose hidden sums overflow (inf - inf, features near float32's limit) would get a finite price
# instead of none. Features beyond this size cannot overflow a hidden sum of this model's size
# (1e30 times weights below 1e7, summed over the features, stays below float32's 3.4e38): rows
# with one are given NaN here, and the Predictor refuses them as it does onnxruntime's.
OVERFLOW_FREE = 1e30


def metadata_of(data: bytes, source: str) -> dict[str, str]:
    """The contract record in the flatbuffer's metadata; ModelError if it has none."""
    from ai_edge_litert import schema_py_generated as schema

    try:
        model = schema.Model.GetRootAs(data, 0)
        for i in range(model.MetadataLength()):
            entry = model.Metadata(i)
            if entry.Name() == METADATA_NAME.encode():
                record = bytes(model.Buffers(entry.Buffer()).DataAsNumpy())
                break
        else:
            record = None
    except Exception as exc:  # a damaged flatbuffer: flatbuffers raises whatever it meets
        raise ModelError(f"{source}: damaged TFLite file ({type(exc).__name__})") from None
    if record is None:
        raise ModelError(
            f"{source}: a TFLite file without houseprice metadata; export one with "
            "`hp-export --format tflite`"
        )
    try:
        metadata = json.loads(record)
    except (ValueError, RecursionError):
        raise ModelError(f"{source}: damaged houseprice metadata (not JSON)") from None
    if not isinstance(metadata, dict):
        raise ModelError(f"{source}: damaged houseprice metadata (not a mapping)")
    return metadata


def open_tflite(
    data: bytes, threads: int, source: str
) -> tuple[ModelInfo, dict[str, Any], Callable[[np.ndarray], np.ndarray]]:
    """(facts, signature, run) of a TFLite file."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    info = ModelInfo.from_metadata(metadata_of(data, source), source)
    try:
        # LiteRT's builtin kernels, not its default XNNPACK delegate: the delegate's sums strayed
        # 1.08e-5 from PyTorch on houses ten times outside the ranges (the README's ship model),
        # past the gate's bound; the builtin kernels 2.2e-6. The delegate is 2.8x faster on large
        # batches (measured): docs/design.md.
        with quiet_native_logs():
            interpreter = Interpreter(
                model_content=data,
                num_threads=threads,
                experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
            )
            interpreter.allocate_tensors()
    except Exception as exc:  # the interpreter raises ValueError or RuntimeError
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise ModelError(f"{source}: not a loadable TFLite model ({detail})") from None
    inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
    width = info.n_features
    if (
        len(inputs) != 1
        or list(inputs[0]["shape"][1:]) != [width]
        or inputs[0]["dtype"] != np.float32
        or len(outputs) != 1
        or outputs[0]["dtype"] != np.float32
    ):
        raise ModelError(
            f"{source}: expected one float32 input of [batch, {width}] and one float32 output"
        )
    signature = {
        "inputs": [{"name": INPUT_NAME, "type": "tensor(float)", "shape": ["batch", width]}],
        "outputs": [{"name": OUTPUT_NAME, "type": "tensor(float)", "shape": ["batch", 1]}],
    }
    return info, signature, _runner(interpreter, inputs[0]["index"], outputs[0]["index"], width)


def _runner(
    interpreter: Any, input_index: int, output_index: int, width: int
) -> Callable[[np.ndarray], np.ndarray]:
    lock = threading.Lock()  # an interpreter is not thread-safe; hp-serve prices in threads
    rows = [1]

    def run(x: np.ndarray) -> np.ndarray:
        with lock:
            if len(x) != rows[0]:  # resizing re-plans the graph: only when the batch changes
                interpreter.resize_tensor_input(input_index, [len(x), width])
                interpreter.allocate_tensors()
                rows[0] = len(x)
            interpreter.set_tensor(input_index, np.ascontiguousarray(x, dtype=np.float32))
            interpreter.invoke()
            prices = interpreter.get_tensor(output_index).reshape(-1).copy()
        too_large = np.abs(x).max(axis=1) > OVERFLOW_FREE
        if too_large.any():
            prices[too_large] = np.nan
        return prices

    return run
