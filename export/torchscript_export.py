"""PyTorch module -> TorchScript file with the same metadata in ``_extra_files``."""

from __future__ import annotations

import io
import json
import warnings

import torch

from houseprice.runtime.contract import ModelInfo

METADATA_FILE = "houseprice.json"


def export_torchscript(model: torch.nn.Module, info: ModelInfo) -> bytes:
    # TorchScript is deprecated upstream in favour of torch.export; users still ask for it, so
    # silence exactly that deprecation here, where it is expected.
    with warnings.catch_warnings():
        _ignore_jit_deprecation()
        scripted = torch.jit.script(model.eval())
        buffer = io.BytesIO()
        torch.jit.save(
            scripted, buffer, _extra_files={METADATA_FILE: json.dumps(info.to_metadata())}
        )
    return buffer.getvalue()


def load_torchscript(data: bytes) -> tuple[torch.jit.ScriptModule, dict[str, str]]:
    """The scripted module and its metadata dict (the same keys as the ONNX metadata_props)."""
    extra = {METADATA_FILE: ""}
    with warnings.catch_warnings():
        _ignore_jit_deprecation()
        module = torch.jit.load(io.BytesIO(data), map_location="cpu", _extra_files=extra)
    return module, json.loads(extra[METADATA_FILE])


def _ignore_jit_deprecation() -> None:
    """Inside a catch_warnings block: drop torch 2.13's "`torch.jit.X` is deprecated" warnings."""
    warnings.filterwarnings(
        "ignore", category=DeprecationWarning, message=r"`torch\.jit\.\w+` is deprecated"
    )
