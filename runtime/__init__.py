"""The torch-free runtime: onnxruntime, numpy and the standard library only."""

from houseprice.runtime._version import __version__
from houseprice.runtime.contract import INPUT_NAME, OUTPUT_NAME, ModelInfo
from houseprice.runtime.errors import (
    InputError,
    ModelError,
    OutputError,
    RuntimeErrorBase,
    WorkerError,
)

__all__ = [
    "INPUT_NAME",
    "OUTPUT_NAME",
    "InputError",
    "ModelError",
    "ModelInfo",
    "OutputError",
    "RuntimeErrorBase",
    "WorkerError",
    "__version__",
]
