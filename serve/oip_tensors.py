"""The Open Inference Protocol's infer request and answer as bytes: the JSON form, and Triton's
binary tensor extension (`tritonclient`'s default), in which the JSON header is followed by the
raw little-endian tensors and its length travels in `Inference-Header-Content-Length`.

Decoding checks every part a client sends and raises `ProtocolError` naming what is wrong; the
feature values are checked later, by the runtime's own validation, like every other door's.
"""

from __future__ import annotations

import json
import math
import struct
from itertools import chain
from typing import Any, NamedTuple, NoReturn

import numpy as np

from houseprice.core.errors import InputError
from houseprice.runtime.contract import INPUT_NAME, OUTPUT_NAME
from houseprice.runtime.validate import Locate, Schema, finite_float32, show, show_number

HEADER_LENGTH = "inference-header-content-length"
DATATYPES = {"FP32": np.dtype("<f4"), "FP64": np.dtype("<f8")}
_FP32 = np.dtype(np.float32)
OUTPUT_DATATYPE = "FP32"
_NUMBER_TYPES = frozenset({int, float})
_INT = {int}
_COMPACT = (",", ":")  # as Starlette's JSONResponse writes every other answer
_FEW = 64  # values checked in Python rather than numpy
_SHOWN = 40  # characters of a client's shape echoed in an error
_F64 = 2**1024  # integers from here on do not fit a float64


class ProtocolError(Exception):
    """An infer request that does not follow the protocol or fit the model (answered 400)."""


class InferRequest(NamedTuple):  # (a NamedTuple: a frozen dataclass costs a microsecond)
    id: str | None
    rows: np.ndarray | list[float]  # binary: an (n, width) array; JSON: the flat values
    shape: tuple[int, int]  # (n houses, n features)
    binary_output: bool  # answer the prices as a binary tensor


def decode_request(body: bytes, header_length: str | None, schema: Schema) -> InferRequest:
    header, binary = _split(body, header_length)
    request = _parse(header)
    shape, rows = decode_features(request.get("inputs"), binary, schema)
    request_id = request.get("id")
    if request_id is not None and type(request_id) is not str:
        raise ProtocolError("id must be a string")
    return InferRequest(request_id, rows, shape, _binary_output(request))


def decode_features(
    inputs: Any, binary: bytes, schema: Schema
) -> tuple[tuple[int, int], np.ndarray | list[Any]]:
    """The shape and rows of an inputs list of the protocol's JSON form (the gRPC form is turned
    into it: serve/grpc_service.py), ``binary`` the raw tensor when it says binary_data_size.
    ProtocolError naming what does not fit; the same words whichever transport."""
    features = _features_input(inputs, schema)
    shape = _shape(features, schema)
    return shape, _rows(features, shape, binary, schema)


def float32_rows(request: InferRequest, schema: Schema, locate: Locate) -> np.ndarray:
    """The houses as float32 (n, width) rows; InputError naming the house and feature of the
    first value that is not finite, or beyond float32. A few values are checked and rounded in
    Python (numpy's per-call cost is most of the work for one house)."""
    rows = request.rows
    if type(rows) is not list:
        if (
            rows.dtype == _FP32
            and rows.size <= _FEW
            and all(map(math.isfinite, rows.ravel().tolist()))
        ):
            return rows  # float32 and finite already: nothing to cast, nothing to name
        return finite_float32(rows, schema, locate)
    if len(rows) <= _FEW:
        layout = f"{len(rows)}f"
        try:  # packing rounds to float32 as numpy's cast does (beyond its range: inf)
            packed = struct.pack(layout, *rows)
        except (OverflowError, struct.error):  # an integer beyond float64: named below
            packed = None
        if packed is not None and all(map(math.isfinite, struct.unpack(layout, packed))):
            return np.frombuffer(packed, dtype=np.float32).reshape(request.shape)
    try:
        values = np.array(rows, dtype=np.float64).reshape(request.shape)
    except OverflowError:  # an integer beyond float64
        i = next(i for i, v in enumerate(rows) if type(v) is int and not -_F64 < v < _F64)
        where = f"{locate(i // schema.width)}: {schema.names[i % schema.width]}"
        raise InputError(f"{where}: {show_number(rows[i])} is too large") from None
    return finite_float32(values, schema, locate)


def _split(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    if header_length is None:
        return body, b""
    # ASCII digits only: str.isdigit() also takes '²', and int() of 5,000 digits raises
    plain = header_length.isascii() and header_length.isdigit() and len(header_length) <= 18
    if not plain or not 0 < int(header_length) <= len(body):
        raise ProtocolError(
            f"Inference-Header-Content-Length {show(header_length)} must be a whole number from "
            f"1 to the body's length ({len(body)})"
        )
    return body[: int(header_length)], body[int(header_length) :]


def _parse(header: bytes) -> dict[str, Any]:
    try:
        request = json.loads(header.decode("utf-8"))  # (from bytes, json guesses the encoding)
    except UnicodeDecodeError:
        raise ProtocolError("the request is not UTF-8 JSON") from None
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"the request is not valid JSON: {exc}") from None
    except RecursionError:
        raise ProtocolError("the request is not valid JSON: nested too deeply") from None
    except ValueError:  # Python's limit on integer digits (4,300), hit inside json.loads
        raise ProtocolError(
            "the request is not valid JSON here: it holds an integer of more than 4,300 digits"
        ) from None
    if type(request) is not dict:
        raise ProtocolError("the request must be a JSON object with an inputs list")
    return request


def _features_input(inputs: Any, schema: Schema) -> dict[str, Any]:
    if type(inputs) is not list or len(inputs) != 1:
        _refuse_inputs(inputs, schema)
    features = inputs[0]
    if type(features) is not dict or features.get("name") != INPUT_NAME:
        _refuse_inputs(inputs, schema)
    datatype = features.get("datatype")
    if type(datatype) is not str or datatype not in DATATYPES:
        shown = show(datatype) if type(datatype) is str else "missing"
        raise ProtocolError(
            f"input {INPUT_NAME}: datatype {shown} is not supported; send FP32 or FP64"
        )
    return features


def _refuse_inputs(inputs: Any, schema: Schema) -> NoReturn:
    """What is wrong with an inputs list that is not one input named features."""
    expected = f"the model takes one input, {_describe(schema)}"
    if type(inputs) is not list or not inputs:
        raise ProtocolError(f"no inputs list; {expected}")
    for given in inputs:
        if type(given) is not dict or type(given.get("name")) is not str:
            raise ProtocolError(f"every input must be an object with a name; {expected}")
        if given["name"] != INPUT_NAME:
            raise ProtocolError(f"unknown input {show(given['name'])}; {expected}")
    raise ProtocolError(f"input {INPUT_NAME} given {len(inputs)} times; {expected}")


def _shape(features: dict[str, Any], schema: Schema) -> tuple[int, int]:
    shape = features.get("shape")
    if (
        type(shape) is not list
        or len(shape) != 2
        or set(map(type, shape)) != _INT
        or shape[0] < 1
        or shape[1] != schema.width
    ):
        shown = json.dumps(shape) if type(shape) is list else "missing"
        shown = shown if len(shown) <= _SHOWN else shown[:_SHOWN] + "..."
        raise ProtocolError(
            f"input {INPUT_NAME}: shape {shown} does not fit the model, which takes "
            f"[n, {schema.width}] (n >= 1 houses of {schema.describe()})"
        )
    return shape[0], shape[1]


def _rows(
    features: dict[str, Any], shape: tuple[int, int], binary: bytes, schema: Schema
) -> np.ndarray:
    parameters = features.get("parameters")
    if parameters is not None and type(parameters) is not dict:
        raise ProtocolError(f"input {INPUT_NAME}: parameters must be an object")
    size = (parameters or {}).get("binary_data_size")
    dtype = DATATYPES[features["datatype"]]
    if size is not None:
        if "data" in features:
            raise ProtocolError(f"input {INPUT_NAME}: give data or binary_data_size, not both")
        return _binary_rows(size, binary, shape, dtype)
    if binary:
        raise ProtocolError(
            f"{len(binary)} bytes of binary data follow the header, but no input has "
            "binary_data_size"
        )
    return _json_rows(features.get("data"), shape, schema)


def _binary_rows(size: Any, binary: bytes, shape: tuple[int, int], dtype: np.dtype) -> np.ndarray:
    expected = shape[0] * shape[1] * dtype.itemsize
    if type(size) is not int or size != expected:
        raise ProtocolError(
            f"input {INPUT_NAME}: binary_data_size {show(str(size))} does not fit shape "
            f"{list(shape)} of {dtype.itemsize}-byte values ({expected} bytes)"
        )
    if len(binary) != size:
        raise ProtocolError(
            f"input {INPUT_NAME}: binary_data_size is {size} bytes, but {len(binary)} follow "
            "the header"
        )
    return np.frombuffer(binary, dtype=dtype).reshape(shape)


def _json_rows(data: Any, shape: tuple[int, int], schema: Schema) -> list[Any]:
    n, width = shape
    if type(data) is not list:
        raise ProtocolError(f"input {INPUT_NAME}: no data (a list of numbers, flat or nested)")
    if data and type(data[0]) is list:  # nested: one list per house
        if len(data) != n or any(type(row) is not list or len(row) != width for row in data):
            raise ProtocolError(
                f"input {INPUT_NAME}: nested data does not match shape [{n}, {width}]"
            )
        flat = list(chain.from_iterable(data))
    elif len(data) != n * width:
        raise ProtocolError(
            f"input {INPUT_NAME}: {len(data)} values do not match shape [{n}, {width}] "
            f"({n * width} values, row-major)"
        )
    else:
        flat = data
    if not set(map(type, flat)) <= _NUMBER_TYPES:
        raise ProtocolError(_not_a_number(flat, schema))
    return flat


def _not_a_number(flat: list[Any], schema: Schema) -> str:
    i = next(i for i, v in enumerate(flat) if type(v) not in _NUMBER_TYPES)
    kinds = {
        bool: "a boolean",
        str: "a string",
        type(None): "null",
        dict: "an object",
        list: "an array",
    }
    return (
        f"{_where(i, schema)}: expected a number, got {kinds.get(type(flat[i]), 'something else')}"
    )


def _where(i: int, schema: Schema) -> str:
    """The house and feature of the i-th value of row-major data."""
    return f"input {INPUT_NAME}: house {i // schema.width}: {schema.names[i % schema.width]}"


def _binary_output(request: dict[str, Any]) -> bool:
    """Whether the prices go back as a binary tensor: the output's own binary_data if it asks,
    else the request's binary_data_output (Triton's precedence)."""
    parameters = request.get("parameters")
    if parameters is not None and type(parameters) is not dict:
        raise ProtocolError("parameters must be an object")
    default = (parameters or {}).get("binary_data_output", False)
    outputs = request.get("outputs")
    if outputs is None:
        return _flag(default, "binary_data_output")
    if type(outputs) is not list:
        raise ProtocolError(f"outputs must be a list; the model gives one output, {OUTPUT_NAME}")
    chosen = default
    for output in outputs:
        if type(output) is not dict or output.get("name") != OUTPUT_NAME:
            name = output.get("name") if type(output) is dict else None
            shown = show(name) if type(name) is str else "without a name"
            raise ProtocolError(
                f"unknown output {shown}; the model gives one output, {OUTPUT_NAME}"
            )
        own = output.get("parameters") or {}
        if type(own) is not dict:
            raise ProtocolError(f"output {OUTPUT_NAME}: parameters must be an object")
        if own.get("classification") or own.get("class_count"):
            raise ProtocolError(f"output {OUTPUT_NAME}: classification is not supported")
        chosen = own.get("binary_data", chosen)
    return _flag(chosen, "binary_data")


def _flag(value: Any, name: str) -> bool:
    if type(value) is not bool:
        raise ProtocolError(f"{name} must be true or false")
    return value


def _describe(schema: Schema) -> str:
    return f"{INPUT_NAME} (FP32, shape [-1, {schema.width}]: {schema.describe()})"


def encode_answer(
    head: str, parameters: dict[str, Any] | None, prices: np.ndarray, binary: bool
) -> tuple[bytes, dict[str, str]]:
    """The answer's body and extra headers. ``head``: the answer's first members as JSON text
    ('"model_name":...,"model_version":...,"id":...'). JSON data gives each price as the
    shortest text that reads back as the same float32."""
    prices = prices.astype("<f4", copy=False)
    if parameters:
        head += f',"parameters":{json.dumps(parameters, separators=_COMPACT)}'
    output = f'{{"name":"{OUTPUT_NAME}","datatype":"{OUTPUT_DATATYPE}","shape":[{len(prices)}]'
    if not binary:
        data = ",".join(map(str, prices))  # np.float32's str: the shortest exact text
        return f'{{{head},"outputs":[{output},"data":[{data}]}}]}}'.encode(), {}
    size = f',"parameters":{{"binary_data_size":{prices.nbytes}}}'
    header = f'{{{head},"outputs":[{output}{size}}}]}}'.encode()
    return header + prices.tobytes(), {"Inference-Header-Content-Length": str(len(header))}


def answer_head(model_name: str, version: str, request_id: str | None) -> str:
    """The first members of an answer, as `encode_answer` takes them."""
    head = f'"model_name":{json.dumps(model_name)},"model_version":{json.dumps(version)}'
    return head if request_id is None else f"{head},{answer_head_id(request_id)}"


def answer_head_id(request_id: str) -> str:
    return f'"id":{json.dumps(request_id)}'
