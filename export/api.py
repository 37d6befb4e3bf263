"""`export_model`: checkpoint -> exported graphs that passed the parity gate -> files + manifest."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from houseprice.core.errors import OutputError
from houseprice.core.files import atomic_write_many, sweep_leftovers
from houseprice.core.version import __version__
from houseprice.data import DataError, bundled_data_path, load_dataset
from houseprice.export.config import ExportConfig
from houseprice.export.errors import (
    ExportOutputError,
    ExportUsageError,
    MissingToolError,
    ParityError,
)
from houseprice.export.formats import FORMATS, ExportFormat, Job
from houseprice.export.fused import FusedPriceMLP
from houseprice.export.parity import (
    ParityResult,
    check_parity,
    dump_failure,
    eager_forward,
    failure_message,
    parity_inputs,
    rmse_problem,
)
from houseprice.runtime.contract import ModelInfo
from houseprice.train.checkpoint import TrainedModel, load_checkpoint

MANIFEST = "manifest.json"
FAILURE_FOLDER = "parity-failure"


@dataclass(frozen=True)
class Artifact:
    format: str
    path: Path
    data: bytes
    parity: ParityResult
    companions: dict[str, bytes] = field(default_factory=dict)  # file name -> bytes
    facts: dict[str, object] = field(default_factory=dict)  # the format's own manifest keys

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
            **self.facts,
            "parity": self.parity.to_dict(),
        }
        return entry


def export_model(
    checkpoint: Path, out: Path, formats: Sequence[str], config: ExportConfig = ExportConfig()
) -> list[Artifact]:
    """Export, gate, then write every format and the manifest as one set: on any failure nothing
    but a failure dump is written, and the files already in ``out`` stay as they were."""
    chosen = [_format(name) for name in formats]
    for fmt in chosen:  # a missing package or tool fails before any work
        missing = fmt.missing_package()
        if missing:
            raise MissingToolError(
                f"the {fmt.name} format needs {missing}, which is not installed: "
                f"{fmt.install_hint()}"
            )
        fmt.check_tools(config)
    trained = load_checkpoint(checkpoint)
    check_writable(out)
    sweep_leftovers(out, own_file_names())  # a killed export's temp files, never a live one's
    info = model_info(trained)
    data = training_data(trained)
    rows, targets = data if data is not None else (None, None)
    inputs = parity_inputs(info, config, rows)
    job = Job(trained.model, FusedPriceMLP(trained.model).eval(), info, config, rows, targets)
    artifacts: list[Artifact] = []
    for fmt in chosen:
        artifacts.append(_gated(fmt, job, inputs, out, [a.parity for a in artifacts]))
    files = {path: data for a in artifacts for path, data in a.files.items()}
    files[out / MANIFEST] = manifest_bytes(out, checkpoint, artifacts, config)
    try:
        atomic_write_many(files)
    except OutputError as exc:
        raise ExportOutputError(str(exc)) from None
    return artifacts


def installed_formats() -> tuple[list[str], list[ExportFormat]]:
    """(names of the formats `--format all` builds here, the formats it skips for a missing
    package)."""
    skipped = [f for f in FORMATS.values() if f.missing_package()]
    return [name for name, f in FORMATS.items() if f not in skipped], skipped


def own_file_names() -> set[str]:
    """Every file name hp-export writes into OUT."""
    names = {MANIFEST}
    for fmt in FORMATS.values():
        names.update((fmt.file_name, *fmt.companions))
    return names


def _format(name: str) -> ExportFormat:
    if name not in FORMATS:
        raise ExportUsageError(f"unknown format {name!r}; choose from {', '.join(FORMATS)} or all")
    return FORMATS[name]


def model_info(trained: TrainedModel) -> ModelInfo:
    """The checkpoint's facts, stamped by this exporter."""
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return replace(trained.info, package_version=__version__, exported_at=now)


def training_data(trained: TrainedModel) -> tuple[np.ndarray, np.ndarray] | None:
    """The rows and targets of the file the model was trained on (or the bundled copy of it),
    if still there."""
    info = trained.info
    for path in (Path(trained.data_source), bundled_data_path()):
        if not path.is_file() or _sha256(path) != info.data_sha256:
            continue
        try:
            data = load_dataset(path, info.target_name)
            return data.feature_matrix(info.feature_names), data.target
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
    fmt: ExportFormat, job: Job, inputs: np.ndarray, out: Path, passed: list[ParityResult]
) -> Artifact:
    reference = eager_forward(job.model)
    with ExitStack() as stack:  # the C and JS gates build in temp folders
        built = fmt.build(job, stack)
        config, name = job.config, fmt.name
        if built.gate is not None:  # a format held to a bound of its own (integer arithmetic)
            gate = built.gate
            config = replace(config, atol=gate.atol, rtol=gate.rtol, random_span=gate.span)
            inputs, name = parity_inputs(job.info, config, job.rows), gate.label
        result = check_parity(name, reference, built.forward, inputs, config)
        problem = None if result.passed else failure_message(result, job.info, config)
        if problem is None and built.gate is not None and built.gate.rmse_ratio is not None:
            problem = rmse_problem(name, reference, built.forward, job, built.gate.rmse_ratio)
    if problem is not None:
        suffix = Path(fmt.file_name).suffix
        try:
            dump = dump_failure(
                out / FAILURE_FOLDER / name.replace("/", "-"),
                result,
                inputs,
                reference(inputs),
                built.data,
                suffix,
            )
            where = f"inputs in {dump}"
        except OSError as exc:
            where = f"could not save the inputs ({exc.strerror or exc})"
        failed = replace(result, passed=False)
        raise ParityError(f"{problem}; nothing written{_kept(out)}, {where}", [*passed, failed])
    path = out / fmt.file_name
    return Artifact(fmt.name, path, built.data, result, built.companions, built.facts)


def _kept(out: Path) -> str:
    """What a failed export leaves in OUT: the previous export's files, if any, not this one's."""
    if not (out / MANIFEST).is_file():
        return ""
    return f" ({out} still holds the previous export, from the checkpoint its manifest.json names)"


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
