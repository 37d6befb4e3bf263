"""hp-export --opset: each opset from 13 to 18 is a correct graph, stamped with the lowest IR
version it allows, and prices as the default export does."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper

from houseprice.data import load_dataset
from houseprice.export.errors import ConversionError
from houseprice.export.opset import at_opset
from houseprice.runtime.compat import LOWEST_IR_FOR_OPSET, oldest_ort_for_onnx
from houseprice.runtime.file_versions import oldest_onnxruntime, onnx_versions
from houseprice.runtime.predictor import Predictor
from tests.conftest import assert_one_line_error, run_cli


def test_the_ir_table_is_onnx_own_release_table():
    # An opset's lowest IR: the IR of the first onnx release that shipped the opset.
    for opset, ir_version in LOWEST_IR_FOR_OPSET.items():
        first = min(row[1] for row in helper.VERSION_TABLE if row[2] >= opset)
        assert ir_version == first, opset


def test_every_opset_is_stamped_with_its_lowest_ir_and_prices_alike(opset_exports):
    x = load_dataset().features.astype(np.float32)
    reference = Predictor.load(opset_exports[18]).predict_array(x)
    for opset, path in opset_exports.items():
        proto = onnx.load(path)
        onnx.checker.check_model(proto, full_check=True)
        assert proto.ir_version == LOWEST_IR_FOR_OPSET[opset]
        assert [(o.domain, o.version) for o in proto.opset_import] == [("", opset)]
        assert onnx_versions(path.read_bytes()) == (proto.ir_version, opset)
        assert oldest_onnxruntime(path.read_bytes()) == oldest_ort_for_onnx(proto.ir_version, opset)
        np.testing.assert_allclose(
            Predictor.load(path).predict_array(x), reference, rtol=1e-6, atol=0
        )


def test_the_default_export_loads_from_onnxruntime_1_14(exported):
    assert onnx_versions(exported.onnx.read_bytes()) == (8, 18)
    assert oldest_onnxruntime(exported.onnx.read_bytes()) == "1.14"


def test_an_operator_that_changed_meaning_is_refused_not_mislabelled():
    # Pad-18 added `axes`: lowering it by relabelling could change what it computes.
    node = helper.make_node("Pad", ["x", "pads"], ["y"])
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [4])],
        [helper.make_tensor("pads", onnx.TensorProto.INT64, [2], [1, 1])],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    with pytest.raises(ConversionError, match="cannot lower Pad-18 to opset 17"):
        at_opset(proto, 17)


def test_a_reshape_whose_shape_holds_zero_is_not_lowered():
    node = helper.make_node("Reshape", ["x", "shape"], ["y"], allowzero=1)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [0, 2])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [0, 2])],
        [helper.make_tensor("shape", onnx.TensorProto.INT64, [2], [0, 2])],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    with pytest.raises(ConversionError, match="cannot lower Reshape-14 to opset 13"):
        at_opset(proto, 13)


@pytest.mark.parametrize("opset", ["12", "19", "x"])
def test_an_opset_out_of_range_is_a_usage_error(exported, tmp_path, opset):
    result = run_cli(
        "hp-export", "--checkpoint", exported.checkpoint, "--out", tmp_path, "--opset", opset
    )
    assert_one_line_error(result, 2, "--opset", "hp-export")
    assert list(tmp_path.iterdir()) == []
