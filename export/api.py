"""`export_model`: checkpoint -> exported graphs that passed the parity gate -> files + manifest."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from houseprice.core.errors import ModelError, OutputError
from houseprice.core.files import atomic_write_many
from houseprice.core.version import __version__
from houseprice.data import DataError, bundled_data_path, load_dataset
from houseprice.export.c_source import HEADER_NAME, export_c
from houseprice.export.config import ExportConfig
from houseprice.export.errors import (
    ConversionError,
    ExportOutputError,
    ExportUsageError,
    ParityError,
)
from houseprice.export.fused import FusedPriceMLP
from houseprice.export.js_source import export_js
from houseprice.export.npz_export import export_npz, fused_arrays
from houseprice.export.onnx_export import export_onnx
from houseprice.export.ort_export import CONFIG_NAME, export_ort
from houseprice.export.parity import (
    ParityResult,
    check_parity,
    dump_failure,
    failure_message,
    parity_inputs,
)
from houseprice.export.source_gate import c_compiler, c_forward, js_forward, node
from houseprice.export.torchscript_export import export_torchscript, load_torchscript
from houseprice.runtime.contract import ModelInfo
from houseprice.runtime.file_versions import oldest_onnxruntime
from houseprice.runtime.predictor import Predictor
from houseprice.train.checkpoint import TrainedModel, load_checkpoint
from houseprice.train.model import PriceMLP

FILE_NAMES = {
    "onnx": "model.onnx",
    "torchscript": "model.torchscript.pt",
    "ort": "model.ort",
    "npz": "model.npz",
    "c": "houseprice_model.c",
    "js": "houseprice_model.mjs",
}
# Files written beside a format's own, and their key in its manifest entry.
COMPANION_KEYS = {CONFIG_NAME: "operators_config", HEADER_NAME: "header"}
FORMATS = tuple(FILE_NAMES)
MANIFEST = "manifest.json"
FAILURE_FOLDER = "parity-failure"


@dataclass(frozen=True)
class Artifact:
    format: str
    path: Path
    data: bytes
    parity: ParityResult
    opset: int | None
    # ort: the ops a reduced onnxruntime build needs; c: the header. File name -> bytes.
    companions: dict[str, bytes] = field(default_factory=dict)

    @property
    def files(self) -> dict[Path, bytes]:
        files = {self.path: self.data}
        files.update({self.path.with_name(name): data for name, data in self.companions.items()})
        return files

    def manifest_entry(self) -> dict[str, object]:
        entry: dict[str, object] = {
            "file": self.path.name,
            "format": self.format,
            "size": len(self.data),
            "sha256": hashlib.sha256(self.data).hexdigest(),
            "opset": self.opset,
            "parity": self.parity.to_dict(),
        }
        if self.format in ("onnx", "ort"):
            entry["oldest_onnxruntime"] = oldest_onnxruntime(self.data)
        for name, data in self.companions.items():
            entry[COMPANION_KEYS[name]] = {"file": name, "sha256": hashlib.sha256(data).hexdigest()}
        return entry


def export_model(
    checkpoint: Path, out: Path, formats: Sequence[str], config: ExportConfig = ExportConfig()
) -> list[Artifact]:
    """Export, gate, then write every format and the manifest as one set: on any failure nothing
    but a failure dump is written, and the files already in ``out`` stay as they were."""
    unknown = [f for f in formats if f not in FILE_NAMES]
    if unknown:
        raise ExportUsageError(
            f"unknown format {unknown[0]!r}; choose from {', '.join(FORMATS)} or all"
        )
    if "c" in formats:  # a missing tool fails before any work
        c_compiler()
    if "js" in formats:
        node()
    trained = load_checkpoint(checkpoint)
    check_writable(out)
    info = model_info(trained)
    inputs = parity_inputs(info, config, training_rows(trained))
    onnx_once: dict[str, bytes] = {}  # the ONNX export feeds the ORT conversion too
    artifacts = [_gated(fmt, trained, info, inputs, out, config, onnx_once) for fmt in formats]
    files = {path: data for a in artifacts for path, data in a.files.items()}
    files[out / MANIFEST] = manifest_bytes(out, checkpoint, artifacts, config)
    try:
        atomic_write_many(files)
    except OutputError as exc:
        raise ExportOutputError(str(exc)) from None
    return artifacts


def model_info(trained: TrainedModel) -> ModelInfo:
    """The checkpoint's facts, stamped by this exporter."""
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return replace(trained.info, package_version=__version__, exported_at=now)


def training_rows(trained: TrainedModel) -> np.ndarray | None:
    """The rows of the file the model was trained on (or the bundled copy of it), if still there."""
    info = trained.info
    for path in (Path(trained.data_source), bundled_data_path()):
        if not path.is_file() or _sha256(path) != info.data_sha256:
            continue
        try:
            return load_dataset(path, info.target_name).feature_matrix(info.feature_names)
        except DataError:
            continue
    return None


def check_writable(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=out).close()
    except OSError as exc:
        raise ExportOutputError(f"cannot write to {out}: {exc.strerror or exc}") from None


def _gated(
    fmt: str,
    trained: TrainedModel,
    info: ModelInfo,
    inputs: np.ndarray,
    out: Path,
    config: ExportConfig,
    onnx_once: dict[str, bytes],
) -> Artifact:
    reference = _eager(trained.model)
    with ExitStack() as stack:  # the C and JS gates build in temp folders
        data, candidate, companions = _build(fmt, trained.model, info, config, onnx_once, stack)
        result = check_parity(fmt, reference, candidate, inputs, config)
    if not result.passed:
        suffix = Path(FILE_NAMES[fmt]).suffix
        try:
            dump = dump_failure(
                out / FAILURE_FOLDER / fmt, result, inputs, reference(inputs), data, suffix
            )
            where = f"inputs in {dump}"
        except OSError as exc:
            where = f"could not save the inputs ({exc.strerror or exc})"
        raise ParityError(f"{failure_message(result, info, config)}; nothing written, {where}")
    opset = config.opset if fmt in ("onnx", "ort") else None
    return Artifact(fmt, out / FILE_NAMES[fmt], data, result, opset, companions)


def _build(
    fmt: str,
    model: PriceMLP,
    info: ModelInfo,
    config: ExportConfig,
    onnx_once: dict[str, bytes],
    stack: ExitStack,
) -> tuple[bytes, Callable[[np.ndarray], np.ndarray], dict[str, bytes]]:
    """The exported bytes, a forward pass that runs them the way a user would (the runtime's
    Predictor, torch for TorchScript, the compiled C, node), and the files written beside them.
    Every format exports the fused module (export/fused.py); the gate holds them to the unfused
    one."""
    fused = FusedPriceMLP(model).eval()
    if fmt == "torchscript":
        data = export_torchscript(fused, info)
        module, _ = load_torchscript(data)
        return data, _eager(module), {}
    if fmt == "c":
        header, source = export_c(fused_arrays(fused, info), info)
        return source, c_forward(stack, header, source), {HEADER_NAME: header}
    if fmt == "js":
        data = export_js(fused_arrays(fused, info), info)
        return data, js_forward(stack, data), {}
    companions = {}
    if fmt == "npz":
        data = export_npz(fused, info)
    else:
        if "onnx" not in onnx_once:
            onnx_once["onnx"] = export_onnx(fused, info, config)
        data = onnx_once["onnx"]
    if fmt == "ort":
        data, companions[CONFIG_NAME] = export_ort(data)
    try:
        runtime = Predictor(data, source=f"the exported {fmt.upper()} graph")  # the real runtime
    except ModelError as exc:
        raise ConversionError(f"the runtime cannot load the exported graph: {exc}") from None
    # Raw outputs: the gate compares infinities and NaN as they are, the Predictor's pricing
    # methods would refuse them.
    return data, runtime.predict_unchecked, companions


def _eager(module: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[np.ndarray], np.ndarray]:
    def forward(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return module(torch.from_numpy(x)).numpy()

    return forward


def manifest_bytes(
    out: Path, checkpoint: Path, artifacts: list[Artifact], config: ExportConfig
) -> bytes:
    """OUT/manifest.json: this run's artifacts, plus earlier entries whose files are unchanged."""
    entries = {a.format: a.manifest_entry() for a in artifacts}
    for entry in _previous_entries(out / MANIFEST):
        fmt, file = entry.get("format"), out / str(entry.get("file"))
        if fmt not in entries and file.is_file() and _sha256(file) == entry.get("sha256"):
            entries[fmt] = entry
    manifest = {
        "package_version": __version__,
        "checkpoint": {"file": os.fspath(checkpoint), "sha256": _sha256(checkpoint)},
        "tolerance": {"atol": config.atol, "rtol": config.rtol},
        "artifacts": [entries[f] for f in FORMATS if f in entries],
    }
    return (json.dumps(manifest, indent=2) + "\n").encode()


def _previous_entries(path: Path) -> list[dict[str, object]]:
    try:
        entries = json.loads(path.read_text())["artifacts"]
        return [e for e in entries if isinstance(e, dict)]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
