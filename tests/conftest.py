"""Shared fixtures: one small trained model per test session, exported once to every format."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

# One thread for torch's and numpy's OpenMP pools in the tests and every process they start:
# the suite runs two processes per 2-core machine (xdist), and idle OpenMP threads spinning
# beside them cost CPU time; set before any test module imports torch.
for _variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

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


def loaded_by(cli: str, *args: str, modules: tuple[str, ...] = ("torch", "onnx")):
    """Run a typer command's ``main`` (module ``cli``) in a fresh interpreter; returns the
    CompletedProcess (text) and which of ``modules`` it had imported when it exited."""
    program = (
        f"import sys\nfrom {cli} import main\nsys.argv = {['hp', *args]!r}\n"
        f"try:\n    main()\nfinally:\n    print(sorted({set(modules)!r} & set(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120
    )
    loaded = result.stdout.splitlines()[-1] if result.stdout else "(nothing printed)"
    return result, loaded


# Folders a checkout accumulates that a source build must not see (where git cannot say).
LOCAL_STATE = (
    ".git",
    ".venv",
    "artifacts",
    "build",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    ".hypothesis",
    ".armhf-root",
)


def copy_source(dest: Path) -> Path:
    """The project's own files (tracked, or new and not ignored) copied to ``dest``, so a build
    never writes into the tree nor sees local state such as a qemu root with absolute symlinks."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
    )
    if listed.returncode != 0:  # not a git checkout (an unpacked sdist): copy, links as links
        shutil.copytree(REPO, dest, symlinks=True, ignore=shutil.ignore_patterns(*LOCAL_STATE))
        return dest
    for name in filter(None, listed.stdout.decode().split("\0")):
        source = REPO / name
        if source.is_file():  # a file deleted but not yet staged is still listed
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name, follow_symlinks=False)
    return dest


def run_quietly(*args, **kwargs) -> subprocess.CompletedProcess:
    """A command's CompletedProcess with text output (for tools: pip, python -c)."""
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=900, **kwargs
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Slow tests first: xdist hands tests out in this order, so the long ones start early and
    the run does not end on one of them alone while the other worker idles."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@contextmanager
def once_per_run(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Path]:
    """A folder shared by every pytest-xdist worker of this run, held under a lock while the
    caller fills it: the first worker builds (a trained model, a wheel, a toolchain's files),
    the others wait and find it built. Without xdist, a folder of this session's."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the run's folder, above each worker's own
    folder = base / f"shared-{name}"
    folder.mkdir(parents=True, exist_ok=True)
    with open(base / f"shared-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield folder
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="session", autouse=True)
def build_cache(tmp_path_factory) -> Path:
    """The programs hp-export compiles for its gates (core/build_cache.py), cached for this run
    alone: built once and shared by the workers and every command they start, never taken
    from nor left in the user's own cache."""
    from houseprice.core.build_cache import CACHE_VARIABLE

    with once_per_run(tmp_path_factory, "build-cache") as folder:
        os.environ[CACHE_VARIABLE] = str(folder)
        return folder


@pytest.fixture(scope="session")
def project_wheel(tmp_path_factory) -> Path:
    """This checkout built as a wheel (once per run), from a copy so the build never writes
    into the tree."""
    with once_per_run(tmp_path_factory, "wheel") as folder:
        found = list(folder.glob("houseprice-*.whl"))
        if found:
            return found[0]
        src = copy_source(folder / "src")
        built = run_quietly(
            sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", folder, src
        )
        assert built.returncode == 0, built.stderr[-2000:]
        return next(folder.glob("houseprice-*.whl"))


def make_venv(folder: Path, *requirements: str) -> Path:
    """A throwaway virtual environment with ``requirements`` installed; returns its bin folder.
    A requirement of the form ``--no-deps PATH`` installs PATH alone. Installed by uv with pip's
    configuration (tools/uv_install.py, as `make test`'s own venv): the same packages as pip's,
    unpacked in parallel and not byte-compiled."""
    assert run_quietly(sys.executable, "-m", "venv", "--without-pip", folder).returncode == 0
    install = [
        sys.executable,
        REPO / "tools" / "uv_install.py",
        "--python",
        folder / "bin" / "python",
    ]
    plain = [r for r in requirements if not r.startswith("--no-deps ")]
    alone = [r.removeprefix("--no-deps ") for r in requirements if r.startswith("--no-deps ")]
    for args in ([*plain], ["--no-deps", *alone]):
        if args and args != ["--no-deps"]:
            done = run_quietly(*install, *args)
            assert done.returncode == 0, done.stderr[-2000:]
    return folder / "bin"


def priced_there_as_here(bin_: Path, model: Path, reference: Path, rtol: float):
    """``bin_``'s hp-infer (another environment's) pricing examples/houses.jsonl with ``model``,
    asserted to give this environment's prices with ``reference`` within ``rtol``; its run."""
    houses = EXAMPLES / "houses.jsonl"
    there = run_quietly(bin_ / "hp-infer", houses, "--model", model)
    here = run_quietly(script("hp-infer"), houses, "--model", reference)
    assert there.returncode == 0, there.stderr
    assert here.returncode == 0, here.stderr
    np.testing.assert_allclose(printed_prices(there), printed_prices(here), rtol=rtol)
    return there


def printed_prices(result: subprocess.CompletedProcess) -> list[float]:
    """The prices in hp-infer's JSON Lines output (text or bytes)."""
    return [json.loads(line)["price"] for line in result.stdout.splitlines()]


@pytest.fixture
def immutable(tmp_path):
    """Files and folders made immutable (chattr +i, as root), made mutable again afterwards:
    everything under tmp_path, since the code under test may have moved them."""
    made = []

    def make(path):
        subprocess.run(["chattr", "+i", str(path)], check=True)
        made.append(path)

    yield make
    if made:  # -f: links and sockets take no attributes
        subprocess.run(["chattr", "-R", "-f", "-i", str(tmp_path)], check=False)


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


@pytest.fixture(scope="session")
def boston():
    """The bundled data set."""
    from houseprice.data import load_dataset

    return load_dataset()


@dataclass(frozen=True)
class Exported:
    folder: Path
    checkpoint: Path
    onnx: Path
    torchscript: Path
    npz: Path


# A short training run keeps the session fast; parity does not depend on how well it fits.
FAST_EPOCHS = 40


@pytest.fixture(scope="session")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    # HP_TEST_EXPORTED names a folder built once by `build_exported` and shared by many pytest
    # runs (the mutation runner starts one per mutant); otherwise each session trains its own.
    shared = os.environ.get("HP_TEST_EXPORTED")
    if shared:
        return build_exported(Path(shared))
    with once_per_run(tmp_path_factory, "exported") as folder:
        return build_exported(folder)


@pytest.fixture(scope="session")
def opset_exports(exported, tmp_path_factory) -> dict[int, Path]:
    """The shared checkpoint exported to ONNX at every opset hp-export offers (13-18), once per
    run."""
    from houseprice.export.api import export_model
    from houseprice.export.config import ExportConfig
    from houseprice.runtime.compat import HIGHEST_OPSET, LOWEST_OPSET

    files = {}
    with once_per_run(tmp_path_factory, "opset-exports") as folder:
        for opset in range(LOWEST_OPSET, HIGHEST_OPSET + 1):
            files[opset] = folder / f"opset{opset}" / "model.onnx"
            if not files[opset].is_file():
                export_model(
                    exported.checkpoint, files[opset].parent, ["onnx"], ExportConfig(opset=opset)
                )
    return files


def build_exported(folder: Path) -> Exported:
    """A short training run exported to ONNX, TorchScript and npz in ``folder`` (kept if there)."""
    found = Exported(
        folder,
        folder / "checkpoint.pt",
        folder / "model.onnx",
        folder / "model.torchscript.pt",
        folder / "model.npz",
    )
    if all(p.is_file() for p in (found.checkpoint, found.onnx, found.torchscript, found.npz)):
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
    export_model(found.checkpoint, folder, ["onnx", "torchscript", "npz"])
    return found


@pytest.fixture(scope="session")
def default_checkpoint(tmp_path_factory) -> Path:
    """The default recipe as `hp-train` runs it (5 members of 100 units, the hold-out split,
    seed 0), trained once per run: the board tests' model and the ship path's hold-out case."""
    from houseprice.data import load_dataset
    from houseprice.train.checkpoint import save_checkpoint
    from houseprice.train.config import DEFAULT_RECIPE
    from houseprice.train.run import train_holdout

    with once_per_run(tmp_path_factory, "default-model") as folder:
        checkpoint = folder / "checkpoint.pt"
        if not checkpoint.is_file():
            save_checkpoint(train_holdout(load_dataset(), DEFAULT_RECIPE).trained, checkpoint)
        return checkpoint


# What the source-export and board tests share: the C and JS files of the shared model, and
# onnxruntime's prices for the data set's houses to hold them to.
BOUND = 1e-5  # relative, against onnxruntime: float32 rounding, summed in another order


@pytest.fixture(scope="session")
def sources(exported, tmp_path_factory):
    """A folder with the shared model exported as C and as an ES module: exported once per run,
    copied for each worker (tests build and write beside the files)."""
    from houseprice.export.api import export_model

    with once_per_run(tmp_path_factory, "sources") as folder:
        if not (folder / "manifest.json").is_file():
            export_model(exported.checkpoint, folder, ["c", "js"])
        mine = tmp_path_factory.mktemp("sources")
        shutil.copytree(folder, mine, dirs_exist_ok=True)
    return mine


@pytest.fixture(scope="session")
def onnx_prices(exported):
    """The data set's houses and onnxruntime's prices for them."""
    from houseprice.data import load_dataset
    from houseprice.runtime.predictor import Predictor

    rows = load_dataset().features.astype(np.float32)
    return rows, Predictor.load(exported.onnx).predict_array(rows)


def relative_diff(found: np.ndarray, wanted: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(found) - wanted) / np.abs(wanted)))


@pytest.fixture(scope="session")
def edge_exports(exported, tmp_path_factory) -> Path:
    """The shared model as model.pte and model.tflite (with model.onnx beside), once per run."""
    from houseprice.export.api import export_model

    with once_per_run(tmp_path_factory, "edge-exports") as folder:
        if not (folder / "manifest.json").is_file():
            export_model(exported.checkpoint, folder, ["onnx", "pte", "tflite"])
        return folder
