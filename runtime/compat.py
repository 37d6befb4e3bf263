"""Which onnxruntime loads which model file: the one table the exporter stamps files by, the
manifest records and ``hp-infer --describe`` shows. Standard library only.

The first release that reads each ONNX IR version and implements each opset comes from
onnxruntime's published version matrix. From 1.15.0 on (the oldest wheel for Python 3.11) the
claims are tested: tests/export/test_old_onnxruntime.py loads the files in 1.15.0, 1.16.3 and
1.17.3 and checks each prediction of this table, loads and refusals alike.
"""

from __future__ import annotations

# ONNX opset -> the lowest IR version that may carry it (onnx's release table: an opset is first
# allowed in the IR of the onnx release that introduced it).
LOWEST_IR_FOR_OPSET = {13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10}

# First onnxruntime release implementing each opset / reading each IR version.
FIRST_ORT_FOR_OPSET = {
    13: "1.6",
    14: "1.8",
    15: "1.9",
    16: "1.12",
    17: "1.13",
    18: "1.14",
    19: "1.15",
    20: "1.17",
    21: "1.18",
}
FIRST_ORT_FOR_IR = {7: "1.6", 8: "1.9", 9: "1.15", 10: "1.18"}

# ORT format (flatbuffer) version -> the first onnxruntime that loads it: version 5 dropped
# kernel-def hashes (1.13), version 6 added float8 types (1.16).
FIRST_ORT_FOR_ORT_FORMAT = {5: "1.13", 6: "1.16"}

# hp-export's choices and the oldest opset it lowers to.
LOWEST_OPSET = 13
HIGHEST_OPSET = 18


def version_key(version: str) -> tuple[int, ...]:
    """'1.16.3' -> (1, 16, 3), for comparing release numbers."""
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def oldest_ort_for_onnx(ir_version: int, opset: int) -> str | None:
    """The oldest onnxruntime that loads an ONNX file of this IR version and default-domain
    opset, or None when the table does not know one of them."""
    by_ir, by_opset = FIRST_ORT_FOR_IR.get(ir_version), FIRST_ORT_FOR_OPSET.get(opset)
    if by_ir is None or by_opset is None:
        return None
    return max(by_ir, by_opset, key=version_key)


def oldest_ort_for_ort_format(format_version: int) -> str | None:
    return FIRST_ORT_FOR_ORT_FORMAT.get(format_version)


def loads_in(oldest: str | None, release: str) -> bool | None:
    """Whether a file whose oldest onnxruntime is ``oldest`` loads in ``release`` (None:
    unknown)."""
    if oldest is None:
        return None
    return version_key(release) >= version_key(oldest)
