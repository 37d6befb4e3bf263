"""What an export format is: its file, the files beside it, how it is built, and the forward
pass the parity gate runs on what was built (the way a user would run the file). One object per
format, one module each, listed in one table (`houseprice.export.formats`). A format module
imports its heavy packages inside ``build``, so the table is cheap to import (hp-export's flags
come from it)."""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from houseprice.export.config import ExportConfig
    from houseprice.export.fused import FusedPriceMLP
    from houseprice.runtime.contract import ModelInfo
    from houseprice.train.model import PriceMLP

Forward = Callable[[np.ndarray], np.ndarray]  # (batch, n_features) float32 -> (batch,) float32


@dataclass(frozen=True)
class Job:
    """One export run, as every format's build sees it."""

    model: PriceMLP  # the trained, unfused module (the gate's reference)
    fused: FusedPriceMLP  # what every format exports
    info: ModelInfo
    config: ExportConfig
    rows: np.ndarray | None = None  # the training rows, when the data file is still there
    targets: np.ndarray | None = None  # and their targets
    shared: dict[str, bytes] = field(default_factory=dict)  # bytes one format makes for another


@dataclass(frozen=True)
class Gate:
    """A format held to a bound of its own instead of ExportConfig's (integer arithmetic)."""

    label: str  # its row in the gate table
    rtol: float
    atol: float
    span: float  # random houses over this many training ranges (1: within them)
    rmse_ratio: float | None = None  # and on the training rows at most this times PyTorch's RMSE


@dataclass(frozen=True)
class Built:
    data: bytes
    forward: Forward  # runs ``data`` as a user would: the runtime, a compiled harness, node
    companions: dict[str, bytes] = field(default_factory=dict)  # files written beside it
    facts: dict[str, object] = field(default_factory=dict)  # its own keys in manifest.json
    gate: Gate | None = None


def companion_fact(name: str, data: bytes) -> dict[str, str]:
    """A companion file as its manifest entry records it."""
    return {"file": name, "sha256": hashlib.sha256(data).hexdigest()}


@dataclass(frozen=True)
class ExportFormat:
    name: str
    file_name: str
    help: str
    build: Callable[[Job, ExitStack], Built]  # builds in folders the stack removes
    companions: tuple[str, ...] = ()  # the names of the files written beside file_name
    # Python packages it needs beyond the `export` extra, and the extra that adds them:
    # `--format all` skips a format whose packages are missing, naming the extra.
    packages: tuple[str, ...] = ()
    extra: str | None = None
    # Programs its gate runs (a C compiler, node): MissingToolError (exit 6) if absent.
    check_tools: Callable[[ExportConfig], None] = lambda config: None

    def missing_package(self) -> str | None:
        """The first package this format needs that is not installed, or None."""
        for package in self.packages:
            if importlib.util.find_spec(package) is None:
                return package
        return None

    def install_hint(self) -> str:
        from houseprice.core.cli import install_command

        return f"{install_command('export', self.extra or 'export')} in the houseprice checkout"
