"""Typed errors of the runtime. The CLI turns each into one line on stderr and an exit code."""


class RuntimeErrorBase(Exception):
    """Base of every error the runtime raises on purpose."""


class ModelError(RuntimeErrorBase):
    """The model file is missing, unreadable, not ONNX, or not an export of this project."""


class InputError(RuntimeErrorBase):
    """The houses given to predict are malformed; the message names the record and the field.
    Also raised when the model gives a non-finite price for a house (one far outside the training
    range): that price is never returned."""


class MalformedInputError(InputError):
    """No house can be read from the input at all: it is empty, not UTF-8, or not well-formed JSON,
    JSON Lines or CSV. (hp-serve answers it with 400, other InputErrors with 422: a typed
    distinction, since a message quotes the client's own text.)"""


class OutputError(RuntimeErrorBase):
    """The output (a file, stdout, or the temporary spool) cannot be written; nothing was
    committed."""


class WorkerError(RuntimeErrorBase):
    """A worker process pricing part of the input died (killed, out of memory)."""


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived. A BaseException, so ``except Exception`` does not swallow it
    and every ``finally`` and context manager on the way out cleans up."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # the shell's convention: 130 for SIGINT, 143 for SIGTERM


class MissingDependencyError(ModelError):
    """The model needs a library that is not installed (onnxruntime for an ONNX file); the message
    says what to install or which file runs without it. Exit 6, like a missing extra."""
