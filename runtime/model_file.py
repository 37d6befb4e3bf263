"""What kind of model file a run of bytes is, judged from its first bytes before it is read
whole: an ONNX protobuf, an ORT-format flatbuffer (``hp-export --format ort``), a numpy archive
(``--format npz``) or a TFLite flatbuffer (``--format tflite``). Standard library only."""

from __future__ import annotations

import os
from typing import Any

from houseprice.core.errors import ModelError

# protobuf cannot parse a message over 2 GiB, so no ONNX file of ours is larger, and no npz of a
# model this size comes near it: refuse before reading. Every ONNX file onnx writes starts with
# field 1 (ir_version, a varint): tag 0x08.
MAX_MODEL_BYTES = 2**31 - 1
_ONNX_FIRST_BYTE = b"\x08"
# An ORT-format file is a flatbuffer: a 4-byte root offset, then this identifier.
_ORT_FORMAT_ID = b"ORTM"
# A TFLite model (``hp-export --format tflite``) is a flatbuffer with the identifier TFL3.
_TFLITE_ID = b"TFL3"
# A .npz is a zip archive; numpy writes a local file header first.
_ZIP_MAGIC = b"PK\x03\x04"
HEAD_BYTES = 8

ONNX, ORT, NPZ, TFLITE = "onnx", "ort", "npz", "tflite"


def file_size(handle: Any) -> int:
    return os.fstat(handle.fileno()).st_size


def model_kind(head: bytes, size: int, source: str) -> str:
    """ONNX, ORT, NPZ or TFLITE, or a ModelError saying why these bytes are no model."""
    if size > MAX_MODEL_BYTES:
        raise ModelError(
            f"{source}: {size:,} bytes, more than an ONNX file can hold (2 GiB); not a model"
        )
    if head[:4] == _ZIP_MAGIC:
        return NPZ
    if head[4:8] == _ORT_FORMAT_ID:
        return ORT
    if head[4:8] == _TFLITE_ID:
        return TFLITE
    if head[:1] == _ONNX_FIRST_BYTE:
        return ONNX
    what = "empty" if not head else f"starts with byte 0x{head[0]:02x}"
    raise ModelError(f"{source}: not an ONNX model ({what})")
