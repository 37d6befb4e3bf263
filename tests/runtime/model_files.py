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
    declaring [batch]; "nan" and "inf" keep the contract but price every house NaN (sqrt of a
    negative) or infinity (1 / 0)."""
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
    elif output in ("nan", "inf"):
        nodes += [
            helper.make_node("Abs", ["s"], ["a"]),
            helper.make_node("Neg", ["a"], ["n"]),
            helper.make_node("Sub", ["n", "one"], ["m"]),
        ]
        last = helper.make_node("Sqrt", ["m"], ["price"])  # sqrt(-|s| - 1): NaN
        if output == "inf":
            nodes.append(helper.make_node("Mul", ["a", "zero"], ["z"]))
            last = helper.make_node("Div", ["one", "z"], ["price"])  # 1 / (0 * |s|): +inf
        nodes.append(last)
    else:
        raise ValueError(output)
    graph = helper.make_graph(
        nodes,
        "sum",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", width])],
        [helper.make_tensor_value_info("price", out_type, out_shape)],
        [
            helper.make_tensor("axes", TensorProto.INT64, [1], [1]),
            helper.make_tensor("one", TensorProto.FLOAT, [], [1.0]),
            helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
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
