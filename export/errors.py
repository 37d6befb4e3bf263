"""Typed errors of the exporter; the CLI maps each type to its exit code."""

from __future__ import annotations


class ExportError(Exception):
    """An export cannot be produced."""


class ExportUsageError(ExportError):
    """The request itself is wrong (an unknown format)."""


class ConversionError(ExportError):
    """The exporter failed, or produced a graph that is invalid or does not load in the runtime."""


class ParityError(ExportError):
    """An exported graph disagrees with the eager PyTorch module; nothing was written.
    ``results``: the gate's rows so far, the failing one last (hp-export prints them)."""

    def __init__(self, message: str, results: list | None = None):
        super().__init__(message)
        self.results = list(results or [])


class ExportOutputError(ExportError):
    """The output folder cannot be written; the previous files there are unchanged."""


class MissingToolError(ExportError):
    """A format's parity gate needs a program that is not installed (a C compiler, node)."""
