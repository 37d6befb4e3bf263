"""The fused model -> ``model.tflite`` for LiteRT (``hp-export --format tflite``), converted by
litert-torch at a batch of one (the input is resized to any batch at run time), with the model
contract in the flatbuffer's metadata: an entry named ``houseprice`` whose buffer holds the same
JSON record the ONNX metadata does (runtime/tflite_engine.py reads it)."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import tempfile
from pathlib import Path

import torch

from houseprice.core.quiet import quiet_native_logs
from houseprice.export.edge_modules import ResizablePriceMLP
from houseprice.export.errors import ConversionError
from houseprice.runtime.contract import ModelInfo
from houseprice.runtime.tflite_engine import METADATA_NAME


def export_tflite(model: torch.nn.Module, info: ModelInfo) -> bytes:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up lines
    with quiet_native_logs():  # absl's and oneDNN's lines at import
        import litert_torch

    module = ResizablePriceMLP(model).eval()
    logging.getLogger("litert_torch").setLevel(logging.ERROR)
    try:
        with (
            tempfile.TemporaryDirectory(prefix="hp-export-tflite-") as folder,
            quiet_native_logs(),
            contextlib.redirect_stdout(io.StringIO()),  # its progress lines; ours is the table
        ):
            converted = litert_torch.convert(module, (torch.zeros(1, info.n_features),))
            path = Path(folder) / "model.tflite"
            converted.export(str(path))
            data = path.read_bytes()
    except Exception as exc:  # the converter raises many internal types
        raise ConversionError(f"LiteRT conversion failed: {type(exc).__name__}: {exc}") from exc
    return with_metadata(data, json.dumps(info.to_metadata(), sort_keys=True).encode())


def with_metadata(data: bytes, record: bytes) -> bytes:
    """The flatbuffer with one more metadata entry, ``houseprice``, holding ``record``."""
    import flatbuffers
    import numpy as np
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(record, dtype=np.uint8)
    model.buffers = [*(model.buffers or []), buffer]
    entry = schema.MetadataT()
    entry.name = METADATA_NAME
    entry.buffer = len(model.buffers) - 1
    model.metadata = [*(model.metadata or []), entry]
    builder = flatbuffers.Builder(len(data) + len(record) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
