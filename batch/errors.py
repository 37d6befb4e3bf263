"""Errors of hp-batch beyond the runtime's own (InputError, ModelError, OutputError)."""

from houseprice.core.errors import RuntimeErrorBase


class ClusterError(RuntimeErrorBase):
    """The cluster failed: its scheduler cannot be reached, or tasks kept losing their workers."""


class OutputRefused(RuntimeErrorBase):
    """OUTPUT names a folder that replacing could destroy data in (the input, or a folder of
    someone else's files without --overwrite); nothing was touched. A usage error: exit 2."""
