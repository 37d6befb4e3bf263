"""Small hand-built ONNX files for the runtime's model-error tests (needs onnx, a dev dependency)."""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import TensorProto, helper

from houseprice.data import BOSTON_COLUMNS
from houseprice.runtime.contract import ModelInfo

NAMES = BOSTON_COLUMNS[:-1]  # the 13 features, without the MEDV target


def sum_model(
    path: Path,
    width: int,
    metadata: dict[str, str] | None,
    *,
    output: str = "sum",
) -> Path:
    """features (batch, width) -> price = row sum, with the given metadata_props.

    ``output`` bends the output contract: "sum" keeps it (float32, [batch]); "column" gives
    [batch, 1]; "int64" casts the prices to integers; "twice" returns 2 * batch prices while
    declaring [batch]; "nan" and "inf" keep the contract but price NaN or infinity every house
    whose features sum beyond 0.75 * width (the middle of ranges [0, 1] prices finite, so the file
    passes the Predictor's smoke prediction: houses of 1.0 are the ones it fails)."""
    nodes = [helper.make_node("ReduceSum", ["features", "axes"], ["s"], keepdims=0)]
    out_type, out_shape = TensorProto.FLOAT, ["batch"]
    if output == "sum":
        nodes.append(helper.make_node("Identity", ["s"], ["price"]))
    elif output == "column":
        nodes.append(helper.make_node("Unsqueeze", ["s", "axes"], ["price"]))
        out_shape = ["batch", 1]
    elif output == "int64":
        nodes.append(helper.make_node("Cast", ["s"], ["price"], to=TensorProto.INT64))
        out_type = TensorProto.INT64
    elif output == "twice":
        nodes.append(helper.make_node("Concat", ["s", "s"], ["price"], axis=0))
    elif output == "nan":  # sqrt(edge - s): NaN beyond the edge, finite in the middle
        nodes += [helper.make_node("Sub", ["edge", "s"], ["d"])]
        nodes.append(helper.make_node("Sqrt", ["d"], ["price"]))
    elif output == "inf":  # exp(1000 (s - edge)): infinite beyond the edge, 0 in the middle
        nodes += [
            helper.make_node("Sub", ["s", "edge"], ["d"]),
            helper.make_node("Mul", ["d", "thousand"], ["m"]),
            helper.make_node("Exp", ["m"], ["price"]),
        ]
    else:
        raise ValueError(output)
    graph = helper.make_graph(
        nodes,
        "sum",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", width])],
        [helper.make_tensor_value_info("price", out_type, out_shape)],
        [
            helper.make_tensor("axes", TensorProto.INT64, [1], [1]),
            helper.make_tensor("edge", TensorProto.FLOAT, [], [0.75 * width]),
            helper.make_tensor("thousand", TensorProto.FLOAT, [], [1000.0]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 10
    if metadata:
        helper.set_model_props(model, metadata)
    onnx.save(model, path)
    return path


def info(n: int = 13) -> ModelInfo:
    return ModelInfo(NAMES[:n], (0.0,) * n, (1.0,) * n, "MEDV", "$1000s", "0" * 64, "test")
