"""A model file's format versions, read from its bytes without onnx or onnxruntime: an ONNX
file's IR version and default-domain opset (protobuf fields 1 and 8 of ModelProto), an ORT-format
file's format version (the flatbuffer root table's first field)."""

from __future__ import annotations

import struct

from houseprice.runtime.compat import oldest_ort_for_onnx, oldest_ort_for_ort_format

_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5
_IR_VERSION, _OPSET_IMPORT = 1, 8  # ModelProto
_DOMAIN, _VERSION = 1, 2  # OperatorSetIdProto


def oldest_onnxruntime(data: bytes) -> str | None:
    """The oldest onnxruntime release that loads this file (compat's table), or None."""
    try:
        if data[4:8] == b"ORTM":
            return oldest_ort_for_ort_format(ort_format_version(data))
        ir_version, opset = onnx_versions(data)
        return oldest_ort_for_onnx(ir_version, opset)
    except (ValueError, IndexError, struct.error):
        return None


def onnx_versions(data: bytes) -> tuple[int, int]:
    """(IR version, default-domain opset) of a serialized ModelProto."""
    ir_version, opset = 0, 0
    for number, value in _fields(data):
        if number == _IR_VERSION and isinstance(value, int):
            ir_version = value
        elif number == _OPSET_IMPORT and isinstance(value, bytes):
            fields = dict(_fields(value))
            if fields.get(_DOMAIN, b"") in (b"", b"ai.onnx"):
                opset = int(fields.get(_VERSION, 0))
    return ir_version, opset


def ort_format_version(data: bytes) -> int:
    """The ORT format version: InferenceSession.ort_version, a string such as "6"."""
    root = struct.unpack_from("<I", data, 0)[0]
    vtable = root - struct.unpack_from("<i", data, root)[0]
    offset = struct.unpack_from("<H", data, vtable + 4)[0]  # field 0
    if not offset:
        raise ValueError("no ORT format version")
    at = root + offset
    start = at + struct.unpack_from("<I", data, at)[0]
    length = struct.unpack_from("<I", data, start)[0]
    return int(data[start + 4 : start + 4 + length].decode("ascii"))


def _fields(data: bytes):
    """(field number, int or bytes) for each top-level field of a protobuf message."""
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, kind = key >> 3, key & 7
        if kind == _VARINT:
            value, at = _varint(data, at)
        elif kind == _BYTES:
            length, at = _varint(data, at)
            value, at = data[at : at + length], at + length
        elif kind in (_FIXED64, _FIXED32):
            value, at = None, at + (8 if kind == _FIXED64 else 4)
        else:
            raise ValueError(f"protobuf wire type {kind}")
        yield number, value


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if byte < 0x80:
            return value, at
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")
