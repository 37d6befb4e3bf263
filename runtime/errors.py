"""Typed errors of the runtime. The CLI turns each into one line on stderr and an exit code."""


class RuntimeErrorBase(Exception):
    """Base of every error the runtime raises on purpose."""


class ModelError(RuntimeErrorBase):
    """The model file is missing, unreadable, not ONNX, or not an export of this project."""


class InputError(RuntimeErrorBase):
    """The houses given to predict are malformed; the message names the record and the field."""
