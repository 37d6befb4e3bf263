"""An exported graph at an older opset, stamped with the lowest IR version that opset allows, so
the file loads in the oldest onnxruntime that can run it (runtime/compat.py's table).

torch's exporter writes opset 18; onnx's version converter has no adapter for Split below 18
(`No Adapter From Version $18 for Split`), so the lowering is ours, for the few operators the
fused graph uses: each must mean the same at the lower opset, or the export stops. The full
checker then validates the graph against the lower opset's schemas, and the parity gate runs it.
"""

from __future__ import annotations

import onnx
from onnx import defs, numpy_helper

from houseprice.export.errors import ConversionError
from houseprice.runtime.compat import LOWEST_IR_FOR_OPSET

EXPORTER_OPSET = 18


def at_opset(proto: onnx.ModelProto, opset: int) -> None:
    """Lower ``proto`` (opset 18) to ``opset`` in place and stamp its lowest IR version."""
    if opset != EXPORTER_OPSET:
        constants = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
        for node in proto.graph.node:
            _lower_node(node, opset, constants)
        for entry in proto.opset_import:
            if entry.domain in ("", "ai.onnx"):
                entry.version = opset
    proto.ir_version = LOWEST_IR_FOR_OPSET[opset]


def _lower_node(node: onnx.NodeProto, opset: int, constants: dict) -> None:
    old = defs.get_schema(node.op_type, opset).since_version
    new = defs.get_schema(node.op_type, EXPORTER_OPSET).since_version
    if old == new:
        return
    attributes = {a.name for a in node.attribute}
    if node.op_type == "Split" and "num_outputs" not in attributes and len(node.input) == 2:
        return  # Split-18 only added num_outputs; with sizes given it is Split-13
    if node.op_type == "Relu":
        return  # Relu-14 only added bfloat16
    if node.op_type == "Reshape" and _no_zero(constants.get(node.input[1])):
        # Reshape-14 added allowzero, which changes nothing when the shape has no 0
        kept = [a for a in node.attribute if a.name != "allowzero"]
        del node.attribute[:]
        node.attribute.extend(kept)
        return
    raise ConversionError(
        f"cannot lower {node.op_type}-{new} to opset {opset}; export at a higher --opset"
    )


def _no_zero(shape) -> bool:
    return shape is not None and bool((shape != 0).all())
