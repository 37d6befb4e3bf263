"""Shared fixtures: one small trained model per test session, exported once to every format."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
EXAMPLES = REPO / "examples"


def script(name: str) -> str:
    """Path of an installed console script of this environment."""
    return str(BIN / name)


def run_cli(*args: str, input: bytes | None = None, cwd: Path | None = None, timeout: float = 120):
    """Run a console script in a real subprocess; returns CompletedProcess with bytes output."""
    return subprocess.run(
        [script(args[0]), *args[1:]], input=input, capture_output=True, cwd=cwd, timeout=timeout
    )


@pytest.fixture
def immutable(tmp_path):
    """Files and folders made immutable (chattr +i, as root), made mutable again afterwards."""
    made = []

    def make(path):
        subprocess.run(["chattr", "+i", str(path)], check=True)
        made.append(path)

    yield make
    for path in made:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def assert_one_line_error(result, code: int, message: str, prog: str | None = None) -> str:
    """What every command promises for bad input: exit ``code`` and exactly one line on stderr,
    ``PROG: error: ...`` holding ``message``, no traceback. ``result``: a CompletedProcess of
    `run_cli`, or a CliRunner result. Returns the line."""
    code_found = getattr(result, "returncode", getattr(result, "exit_code", None))
    err = result.stderr.decode() if isinstance(result.stderr, bytes) else result.stderr
    assert code_found == code, (code_found, err)
    assert err.count("\n") == 1 and err.endswith("\n") and "Traceback" not in err, err
    assert message in err, err
    if prog is not None:
        assert err.startswith(f"{prog}: error: "), err
    return err.rstrip("\n")


@dataclass(frozen=True)
class Exported:
    folder: Path
    checkpoint: Path
    onnx: Path
    torchscript: Path


# A short training run keeps the session fast; parity does not depend on how well it fits.
FAST_EPOCHS = 40


@pytest.fixture(scope="session")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    # HP_TEST_EXPORTED names a folder built once by `build_exported` and shared by many pytest
    # runs (the mutation runner starts one per mutant); otherwise each session trains its own.
    shared = os.environ.get("HP_TEST_EXPORTED")
    return build_exported(Path(shared) if shared else tmp_path_factory.mktemp("exported"))


def build_exported(folder: Path) -> Exported:
    """A short training run exported to ONNX and TorchScript in ``folder`` (kept if there)."""
    found = Exported(
        folder, folder / "checkpoint.pt", folder / "model.onnx", folder / "model.torchscript.pt"
    )
    if all(p.is_file() for p in (found.checkpoint, found.onnx, found.torchscript)):
        return found
    from houseprice.data import load_dataset
    from houseprice.export.api import export_model
    from houseprice.train.checkpoint import save_checkpoint
    from houseprice.train.config import TrainConfig
    from houseprice.train.run import train_holdout

    config = TrainConfig(
        epochs=FAST_EPOCHS,
        members=2,
        val_fraction=0.15,
        patience=20,
        log_features=True,
        log_target=True,
    )
    run = train_holdout(load_dataset(), config)
    folder.mkdir(parents=True, exist_ok=True)
    save_checkpoint(run.trained, found.checkpoint)
    export_model(found.checkpoint, folder, ["onnx", "torchscript"])
    return found
