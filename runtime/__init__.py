"""The torch-free runtime: onnxruntime, numpy and the standard library only.

``from houseprice.runtime import Predictor`` works; `Predictor` is imported on first use, so that
``import houseprice.runtime`` (the errors, the contract, ``hp-infer --help``) does not pay for
importing onnxruntime.
"""

from typing import TYPE_CHECKING, Any

from houseprice.core.errors import (
    InputError,
    MalformedInputError,
    ModelError,
    OutputError,
    RuntimeErrorBase,
    WorkerError,
)
from houseprice.core.version import __version__
from houseprice.runtime.contract import INPUT_NAME, OUTPUT_NAME, ModelInfo

if TYPE_CHECKING:
    from houseprice.runtime.predictor import Predictor

__all__ = [
    "INPUT_NAME",
    "OUTPUT_NAME",
    "InputError",
    "MalformedInputError",
    "ModelError",
    "ModelInfo",
    "OutputError",
    "Predictor",
    "RuntimeErrorBase",
    "WorkerError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name == "Predictor":
        from houseprice.runtime.predictor import Predictor

        return Predictor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
