"""Mutation testing of the runtime core: `make mutation` (see docs/mutation.md)."""
