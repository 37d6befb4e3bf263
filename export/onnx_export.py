"""PyTorch module -> one self-contained ONNX file (weights inline) carrying the model contract."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import onnx
import torch

from houseprice.core.signals import raise_if_signalled
from houseprice.export.config import ExportConfig
from houseprice.export.errors import ConversionError
from houseprice.export.opset import EXPORTER_OPSET, at_opset
from houseprice.runtime.contract import ModelInfo


@contextmanager
def quiet_exporter() -> Iterator[None]:
    """Hide the exporter's noise that says nothing about this model.

    torch 2.13 logs one line per torchvision operator it cannot register (torchvision is not a
    dependency) and warns about its own internal pytree API.
    """
    logger = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*LeafSpec.*is deprecated")
            yield
    finally:
        logger.setLevel(level)


def export_onnx(model: torch.nn.Module, info: ModelInfo, config: ExportConfig) -> bytes:
    """Serialized ModelProto: input (batch, n_features) float32, output (batch,) float32."""
    # A batch of 2: a batch-1 example lets the dynamo exporter specialise the dimension to 1.
    example = torch.zeros(2, info.n_features)
    batch = torch.export.Dim(config.batch_dim)
    try:
        with quiet_exporter(), torch.no_grad():
            program = torch.onnx.export(
                model.eval(),
                (example,),
                None,
                dynamo=True,
                external_data=False,
                input_names=[config.input_name],
                output_names=[config.output_name],
                dynamic_shapes=({0: batch},),
                opset_version=EXPORTER_OPSET,
                verbose=False,
            )
    except Exception as exc:  # the exporter raises many internal types
        raise_if_signalled()  # it caught our Interrupted and raised its own error instead
        raise ConversionError(f"ONNX conversion failed: {type(exc).__name__}: {exc}") from exc
    raise_if_signalled()  # or it landed in a finalizer, where Python prints it and goes on
    proto = program.model_proto
    strip_debug_metadata(proto)
    at_opset(proto, config.opset)
    proto.doc_string = f"houseprice model: {info.target_name} from {info.n_features} features"
    onnx.helper.set_model_props(proto, info.to_metadata())
    check_onnx(proto)
    return proto.SerializeToString()


def strip_debug_metadata(proto: onnx.ModelProto) -> None:
    """Drop the exporter's per-node debug records (stack traces with this machine's file paths,
    FX node names, module hierarchy): a third of a small model's bytes, and nothing a runtime
    reads. Shapes (value_info) stay."""
    for node in proto.graph.node:
        del node.metadata_props[:]
    for value in proto.graph.value_info:
        del value.metadata_props[:]


def check_onnx(proto: onnx.ModelProto) -> None:
    """onnx's full checker plus the contract's shape promise (symbolic batch, fixed width)."""
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ConversionError(f"the exported ONNX graph is invalid: {exc}") from exc
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    if len(dims) != 2 or not dims[0].dim_param or dims[0].dim_value:
        raise ConversionError(f"the exported input's batch dimension is not symbolic: {dims}")
