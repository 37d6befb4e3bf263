"""A checkpoint's file, found or not, before torch is imported to read it: so `hp-export` run
before `hp-train` says so in a fraction of a second (`train/checkpoint.py` reads the file)."""

from __future__ import annotations

from pathlib import Path


class CheckpointError(ValueError):
    """A checkpoint is missing, damaged, or from an incompatible version."""


def require_checkpoint_file(path: str | Path) -> Path:
    file = Path(path)
    if not file.is_file():
        raise CheckpointError(f"{file}: no checkpoint there; train one with `hp-train`")
    return file
