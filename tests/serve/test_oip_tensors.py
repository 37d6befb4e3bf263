"""serve/oip_tensors.py alone: every way an infer request can be wrong is one ProtocolError that
names it, and the answer's bytes are exactly what the protocol and tritonclient expect."""

from __future__ import annotations

import json

import numpy as np
import pytest

from houseprice.runtime.validate import Schema
from houseprice.serve.oip_tensors import (
    ProtocolError,
    decode_request,
)

SCHEMA = Schema(("A", "B", "C"))
ROWS = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.5]]


def _body(**fields) -> bytes:
    features = {"name": "features", "datatype": "FP32", "shape": [2, 3], "data": ROWS}
    features |= fields.pop("features", {})
    return json.dumps({"inputs": [features], **fields}).encode()


def _decode(body: bytes, header_length: str | None = None):
    return decode_request(body, header_length, SCHEMA)


@pytest.mark.parametrize(
    "data",
    [ROWS, [v for row in ROWS for v in row], [[1, 2, 3], [4, 5, 6.5]]],
    ids=["nested", "flat", "integers"],
)
def test_json_data_flat_or_nested_gives_the_rows(data):
    request = _decode(_body(id="r7", features={"data": data}))
    assert request.id == "r7" and request.binary_output is False
    assert request.rows == [v for row in ROWS for v in row] and request.shape == (2, 3)


@pytest.mark.parametrize("datatype", ["FP32", "FP64"])
def test_binary_data_follows_the_header(datatype):
    dtype = "<f4" if datatype == "FP32" else "<f8"
    raw = np.array(ROWS, dtype=dtype).tobytes()
    fields = {"datatype": datatype, "parameters": {"binary_data_size": len(raw)}}
    header = _body(features=fields)
    header = header.replace(b', "data": ' + json.dumps(ROWS).encode(), b"")
    request = _decode(header + raw, str(len(header)))
    assert request.rows.tolist() == ROWS and request.rows.dtype == np.dtype(dtype)


def test_a_request_without_id_has_none():
    assert _decode(_body()).id is None


@pytest.mark.parametrize(
    ("parameters", "outputs", "binary"),
    [
        (None, None, False),
        ({"binary_data_output": True}, None, True),
        ({"binary_data_output": True}, [{"name": "price"}], True),
        (
            {"binary_data_output": True},
            [{"name": "price", "parameters": {"binary_data": False}}],
            False,
        ),
        (None, [{"name": "price", "parameters": {"binary_data": True}}], True),
        (None, [{"name": "price"}], False),
    ],
)
def test_the_output_is_binary_when_asked_the_outputs_own_flag_first(parameters, outputs, binary):
    fields = {} if parameters is None else {"parameters": parameters}
    if outputs is not None:
        fields["outputs"] = outputs
    assert _decode(_body(**fields)).binary_output is binary


FEATURES = "the model takes one input, features (FP32, shape [-1, 3]: A, B, C)"
SHAPE = "does not fit the model, which takes [n, 3] (n >= 1 houses of A, B, C)"
DATATYPE = "is not supported; send FP32 or FP64"
OUTPUT = "the model gives one output, price"
LENGTH = "must be a whole number from 1 to the body's length (115)"  # _body() is 115 bytes
F = "input features"


@pytest.mark.parametrize(
    ("body", "header_length", "message"),
    [
        (b"{", None, "the request is not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
        (b"\xff\xfe\x00", None, "the request is not UTF-8 JSON"),
        (b"[" * 100_000 + b"]" * 100_000, None, "the request is not valid JSON: nested too deeply"),
        (b"[]", None, "the request must be a JSON object with an inputs list"),
        (b"{}", None, f"no inputs list; {FEATURES}"),
        (b'{"inputs": []}', None, f"no inputs list; {FEATURES}"),
        (b'{"inputs": [1]}', None, f"every input must be an object with a name; {FEATURES}"),
        (b'{"inputs": [{"name": "features"}, 1]}', None, f"every input must be an object with a name; {FEATURES}"),
        (b'{"inputs": [{"name": "x"}]}', None, f"unknown input 'x'; {FEATURES}"),
        (_body(features={"datatype": "INT64"}), None, f"{F}: datatype 'INT64' {DATATYPE}"),
        (_body(features={"datatype": None}), None, f"{F}: datatype missing {DATATYPE}"),
        (_body(features={"datatype": ["FP32"]}), None, f"{F}: datatype missing {DATATYPE}"),
        (_body(features={"shape": [2, 4]}), None, f"{F}: shape [2, 4] {SHAPE}"),
        (_body(features={"shape": [0, 3], "data": []}), None, f"{F}: shape [0, 3] {SHAPE}"),
        (_body(features={"shape": [6]}), None, f"{F}: shape [6] {SHAPE}"),
        (_body(features={"shape": [2, True]}), None, f"{F}: shape [2, true] {SHAPE}"),
        (_body(features={"shape": "2x3"}), None, f"{F}: shape missing {SHAPE}"),
        (_body(features={"shape": [10**34, 4]}), None, f"{F}: shape [{10**34}, 4] {SHAPE}"),  # 40 characters
        (_body(features={"shape": [10**35, 4]}), None, f"{F}: shape [{10**35}, 4... {SHAPE}"),  # 41: cut to 40
        (_body(features={"data": None}), None, f"{F}: no data (a list of numbers, flat or nested)"),
        (_body(features={"data": [1, 2, 3]}), None, f"{F}: 3 values do not match shape [2, 3] (6 values, row-major)"),
        (_body(features={"data": [[1, 2, 3], [4, 5]]}), None, f"{F}: nested data does not match shape [2, 3]"),
        (_body(features={"data": [[1, 2, 3]]}), None, f"{F}: nested data does not match shape [2, 3]"),
        (_body(features={"data": [[1, 2, 3], 4]}), None, f"{F}: nested data does not match shape [2, 3]"),
        (_body(features={"data": [1, 2, 3, 4, "5", None]}), None, f"{F}: house 1: B: expected a number, got a string"),
        (_body(features={"data": [1, 2, 3, 4, 5, None]}), None, f"{F}: house 1: C: expected a number, got null"),
        (_body(features={"data": [1, True, 3, 4, 5, 6]}), None, f"{F}: house 0: B: expected a number, got a boolean"),
        (_body(features={"data": [[1, 2, [3]], [4, 5, 6]]}), None, f"{F}: house 0: C: expected a number, got an array"),
        (_body(features={"data": [1, 2, 3, {}, 5, 6]}), None, f"{F}: house 1: A: expected a number, got an object"),
        (_body(id=7), None, "id must be a string"),
        (_body(parameters=[]), None, "parameters must be an object"),
        (_body(parameters={"binary_data_output": "yes"}), None, "binary_data_output must be true or false"),
        (_body(outputs={}), None, f"outputs must be a list; {OUTPUT}"),
        (_body(outputs=[{"name": "cost"}]), None, f"unknown output 'cost'; {OUTPUT}"),
        (_body(outputs=[{}]), None, f"unknown output without a name; {OUTPUT}"),
        (_body(outputs=[{"name": "price", "parameters": 1}]), None, "output price: parameters must be an object"),
        (_body(outputs=[{"name": "price", "parameters": {"class_count": 2}}]), None, "output price: classification is not supported"),
        (_body(outputs=[{"name": "price", "parameters": {"binary_data": 1}}]), None, "binary_data must be true or false"),
        (_body(features={"parameters": 5}), None, f"{F}: parameters must be an object"),
        (_body(), "x", f"Inference-Header-Content-Length 'x' {LENGTH}"),
        (_body(), "0", f"Inference-Header-Content-Length '0' {LENGTH}"),
        (_body(), "116", f"Inference-Header-Content-Length '116' {LENGTH}"),
        (_body() + b"\0" * 4, None, "the request is not valid JSON: Extra data: line 1 column 116 (char 115)"),
        (b"1" + _body(), "1", "the request must be a JSON object with an inputs list"),
    ],
)  # fmt: skip
def test_every_protocol_mistake_is_named(body, header_length, message):
    with pytest.raises(ProtocolError) as caught:
        _decode(body, header_length)
    assert str(caught.value) == message


def test_a_header_length_of_the_whole_body_is_json_alone():
    assert _decode(_body(), "115").rows == [v for row in ROWS for v in row]


def test_a_header_length_has_at_most_18_digits():
    assert _decode(_body(), "115".zfill(18)).rows == [v for row in ROWS for v in row]
    with pytest.raises(ProtocolError, match=r"^Inference-Header-Content-Length '0+115' must be"):
        _decode(_body(), "115".zfill(19))


def test_two_features_inputs_are_refused():
    body = json.loads(_body())
    body["inputs"] *= 2
    with pytest.raises(ProtocolError, match="input features given 2 times"):
        _decode(json.dumps(body).encode())


@pytest.mark.parametrize(
    ("size", "extra", "message"),
    [
        (
            24,
            b"\0" * 24,
            "binary_data_size '24' does not fit shape [2, 3] of 4-byte values (24 bytes)",
        ),
        ("24", b"\0" * 24, "binary_data_size '24' does not fit"),
        (23, b"\0" * 24, "binary_data_size '23' does not fit"),
        (24, b"\0" * 20, "binary_data_size is 24 bytes, but 20 follow the header"),
    ],
)
def test_binary_sizes_must_agree(size, extra, message):
    raw = np.array(ROWS, dtype="<f4").tobytes()
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "features",
                    "datatype": "FP32",
                    "shape": [2, 3],
                    "parameters": {"binary_data_size": size},
                }
            ]
        }
    ).encode()
    if size == 24 and len(extra) == 24:  # the only case that fits: no error expected
        assert _decode(header + raw, str(len(header))).rows.tolist() == ROWS
        header = header.replace(b"FP32", b"FP64")  # now 48 bytes are needed
        message = message.replace("4-byte values (24", "8-byte values (48")
    with pytest.raises(ProtocolError) as caught:
        _decode(header + extra, str(len(header)))
    assert message in str(caught.value)


def test_binary_data_and_json_data_together_are_refused():
    body = _body(features={"parameters": {"binary_data_size": 24}})
    with pytest.raises(ProtocolError, match="give data or binary_data_size, not both"):
        _decode(body + b"\0" * 24, str(len(body)))


def test_binary_bytes_without_a_binary_input_are_refused():
    body = _body()
    with pytest.raises(
        ProtocolError, match="4 bytes of binary data follow the header, but no input"
    ):
        _decode(body + b"\0" * 4, str(len(body)))
