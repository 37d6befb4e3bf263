"""Errors of hp-batch beyond the runtime's own (InputError, ModelError, OutputError)."""

from houseprice.runtime.errors import RuntimeErrorBase


class ClusterError(RuntimeErrorBase):
    """The cluster failed: its scheduler cannot be reached, or tasks kept losing their workers."""
