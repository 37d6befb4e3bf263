"""The board tests' models: the default recipe's shape (5 members of 100 hidden units), trained
once per run, exported as C in each arithmetic; the targets of the issues are for this shape."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import once_per_run


@pytest.fixture(scope="session")
def default_sources(tmp_path_factory) -> dict[str, Path]:
    """arith -> a folder holding houseprice_model.c and .h of the default recipe's model."""
    from houseprice.data import load_dataset
    from houseprice.export.api import export_model
    from houseprice.export.config import ARITHMETIC, ExportConfig
    from houseprice.train.checkpoint import save_checkpoint
    from houseprice.train.config import DEFAULT_RECIPE
    from houseprice.train.run import train_holdout

    with once_per_run(tmp_path_factory, "default-model") as folder:
        folders = {arith: folder / arith for arith in ARITHMETIC}
        if all((f / "houseprice_model.c").is_file() for f in folders.values()):
            return folders
        checkpoint = folder / "checkpoint.pt"
        if not checkpoint.is_file():
            run = train_holdout(load_dataset(), replace(DEFAULT_RECIPE, seed=0))
            save_checkpoint(run.trained, checkpoint)
        for arith, out in folders.items():
            export_model(checkpoint, out, ["c", "onnx"], ExportConfig(arith=arith))
        return folders
