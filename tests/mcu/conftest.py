"""The board tests' models: the default recipe's shape (5 members of 100 hidden units), trained
once per run, exported as C in each arithmetic; the targets of the issues are for this shape."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import once_per_run


@pytest.fixture(scope="session")
def default_sources(default_checkpoint, tmp_path_factory) -> dict[str, Path]:
    """arith -> a folder holding houseprice_model.c and .h of the default recipe's model."""
    from houseprice.export.api import export_model
    from houseprice.export.config import ARITHMETIC, ExportConfig

    with once_per_run(tmp_path_factory, "default-sources") as folder:
        folders = {arith: folder / arith for arith in ARITHMETIC}
        if all((f / "houseprice_model.c").is_file() for f in folders.values()):
            return folders
        for arith, out in folders.items():
            export_model(default_checkpoint, out, ["c", "onnx"], ExportConfig(arith=arith))
        return folders
