"""The fused model -> ``model.pte`` for ExecuTorch (``hp-export --format pte``): ``torch.export``
with a batch of 1 to 65,536 houses, lowered with the XNNPACK partitioner. The model contract
rides in the program as a constant method, ``houseprice_metadata``, returning the same JSON
record the ONNX metadata holds, so the file alone is enough (docs/contract.md)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from contextlib import ExitStack
from importlib import resources
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch

from houseprice.core.build_cache import cached_build
from houseprice.core.quiet import quiet_native_logs
from houseprice.export.edge_modules import SlicedPriceMLP
from houseprice.export.errors import ConversionError, MissingToolError
from houseprice.export.parity import Forward
from houseprice.runtime.contract import ModelInfo

METADATA_METHOD = "houseprice_metadata"
MAX_BATCH = 65_536
RUN_SECONDS = 300
RUNNER = "pte_runner"


def export_pte(model: torch.nn.Module, info: ModelInfo) -> bytes:
    with quiet_native_logs():  # torchao's and torch's lines when executorch is imported
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
        from executorch.exir import to_edge_transform_and_lower

    sliced = SlicedPriceMLP(model).eval()
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    metadata = json.dumps(info.to_metadata(), sort_keys=True)
    try:
        with torch.no_grad(), quiet_native_logs():
            program = torch.export.export(
                sliced, (torch.zeros(2, info.n_features),), dynamic_shapes=({0: batch},)
            )
            lowered = to_edge_transform_and_lower(
                program,
                partitioner=[XnnpackPartitioner()],
                constant_methods={METADATA_METHOD: metadata},
            )
            return bytes(lowered.to_executorch().buffer)
    except Exception as exc:  # the exporter and the lowering raise many internal types
        raise ConversionError(f"ExecuTorch conversion failed: {type(exc).__name__}: {exc}") from exc


def pte_forward(data: bytes, stack: ExitStack, width: int) -> Forward:
    """Run ``data`` with ExecuTorch's C++ runtime, through export/pte_runner.cpp (the same
    program examples/executorch/price_houses.cpp is), built in a folder the stack removes.

    Not ExecuTorch's Python runtime: its method.execute segfaulted on this machine in 3 to 14 of
    40 fresh processes that load a program and price one house (executorch 1.5.1, torch 2.13,
    with and without XNNPACK), and beside torch's own kernels after some hundred calls; the C++
    runtime did not in 40 runs."""
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hp-export-pte-")))
    runner = build_runner(folder)
    (folder / "model.pte").write_bytes(data)

    def forward(x: np.ndarray) -> np.ndarray:
        blocks = [run(x[start : start + MAX_BATCH]) for start in range(0, len(x), MAX_BATCH)]
        return np.concatenate(blocks) if blocks else np.empty(0, np.float32)

    def run(x: np.ndarray) -> np.ndarray:
        rows = np.ascontiguousarray(x, dtype="<f4")
        done = subprocess.run(
            [str(runner), "model.pte", str(len(rows))],
            cwd=folder,
            input=rows.tobytes(),
            capture_output=True,
            timeout=RUN_SECONDS,
        )
        if done.returncode != 0:
            said = done.stderr.decode(errors="replace").strip().splitlines()
            raise ConversionError(
                f"the ExecuTorch runtime refused the program (exit {done.returncode}"
                f"{': ' + said[-1] if said else ''})"
            )
        return np.array(done.stdout.split(), dtype=np.float64).astype(np.float32)

    return forward


def build_runner(folder: Path) -> Path:
    """export/pte_runner.cpp compiled with g++ against the executorch wheel's runtime (torch's
    headers at build time only), once per source, compiler and wheel (core/build_cache.py), else
    in ``folder``; ConversionError naming g++'s first complaint."""
    compiler = shutil.which("g++")
    if compiler is None:
        raise MissingToolError(
            "the pte format's parity gate needs g++ (not found): apt-get install g++"
        )
    import executorch

    et = Path(next(iter(executorch.__path__)))  # a namespace package: no __file__
    th = Path(torch.__file__).parent
    source = resources.files("houseprice.export").joinpath("pte_runner.cpp").read_text()
    flags = [
        "-std=c++17", "-O2", "-Wno-deprecated-declarations",
        f"-I{et / 'include'}", f"-I{et / 'include/executorch/runtime/core/portable_type/c10'}",
        f"-I{th / 'include'}", f"-L{et / 'lib'}", f"-Wl,-rpath,{et / 'lib'}", "-Wl,--no-as-needed",
        "-lexecutorch", "-lexecutorch_backend_xnnpack", "-lexecutorch_kernels_optimized",
    ]  # fmt: skip
    compiler_says = subprocess.run([compiler, "--version"], capture_output=True, text=True).stdout
    key = [source, compiler, compiler_says, torch.__version__, version("executorch"), *flags]

    def compile_into(into: Path) -> None:
        (into / "pte_runner.cpp").write_text(source)
        command = [compiler, str(into / "pte_runner.cpp"), *flags, "-o", str(into / RUNNER)]
        built = subprocess.run(command, capture_output=True, text=True, timeout=RUN_SECONDS)
        if built.returncode != 0:
            errors = [line for line in built.stderr.splitlines() if "error" in line] or ["?"]
            raise ConversionError(f"the ExecuTorch runner does not build: {errors[0]}")

    return cached_build("pte-runner", RUNNER, key, compile_into, folder)


def pte_metadata(data: bytes) -> dict[str, str]:
    """The contract record the program carries (its constant method), read by the C++ runner."""
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hp-pte-")))
        (folder / "model.pte").write_bytes(data)
        done = subprocess.run(
            [str(build_runner(folder)), "model.pte", "--metadata"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=RUN_SECONDS,
        )
    if done.returncode != 0:
        raise ConversionError(f"the .pte carries no houseprice metadata (exit {done.returncode})")
    return json.loads(done.stdout)
