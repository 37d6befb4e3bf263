"""Typed errors of the exporter."""

from __future__ import annotations


class ExportError(Exception):
    """An export cannot be produced (bad checkpoint, failed conversion, invalid graph)."""


class ParityError(ExportError):
    """An exported graph disagrees with the eager PyTorch module; nothing was written."""
