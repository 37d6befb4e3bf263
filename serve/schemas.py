"""JSON Schemas of hp-serve's bodies, for the OpenAPI document. The house and tensor schemas
depend on the model being served (its features, their ranges), so they are built from it."""

from __future__ import annotations

from typing import Any

from houseprice.runtime.contract import INPUT_NAME, OUTPUT_NAME, ModelInfo

_STRING = {"type": "string"}
_NUMBER = {"type": "number"}
_FLOAT32 = {"type": "number", "minimum": -3.4028234e38, "maximum": 3.4028234e38}
_BOOLEAN = {"type": "boolean"}


def _object(properties: dict[str, Any], required: tuple[str, ...] | None = None) -> dict:
    """An object with these properties, all required unless ``required`` names some."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties if required is None else required),
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def components(info: ModelInfo) -> dict[str, Any]:
    """Every schema the routes name, for the model ``info`` describes."""
    return {**_common(), **_v1(info), **_v2(info)}


def _common() -> dict[str, Any]:
    return {
        "Error": _object({"error": _STRING}),
        "Text": _STRING,
        "Document": {"type": "object"},
    }


def _v1(info: ModelInfo) -> dict[str, Any]:
    house = {
        "type": "object",
        "description": "One house: every feature once, in raw units (names match in any case)",
        "properties": {name: _FLOAT32 for name in info.feature_names},
        "required": list(info.feature_names),
        "additionalProperties": False,
    }
    example = dict(zip(info.feature_names, _middle(info), strict=True))
    lowest = dict(zip(info.feature_names, info.feature_min, strict=True))
    price = _object({"price": _NUMBER}) | {"additionalProperties": False}
    feature = _object({"name": _STRING, "training_min": _NUMBER, "training_max": _NUMBER})
    return {
        "House": house,
        "Houses": {
            "oneOf": [_ref("House"), {"type": "array", "items": _ref("House")}],
            "examples": [example, [example, lowest]],
        },
        "Prices": {"oneOf": [price, {"type": "array", "items": price}]},
        "InputError": _object(
            {
                "error": _STRING,
                "record": {"type": ["string", "null"]},
                "field": {"type": ["string", "null"]},
            }
        ),
        "Model": _object(
            {
                "file": _STRING,
                "sha256": _STRING,
                "target": _object({"name": _STRING, "unit": _STRING}),
                "features": {"type": "array", "items": feature},
                "metrics": {"type": "object"},
                "exported_at": _STRING,
                "signature": {"type": "object"},
            }
        ),
        "Reloaded": _object(
            {"reloaded": _BOOLEAN, "changed": _BOOLEAN, "sha256": _STRING}, ("reloaded", "sha256")
        ),
        "ReloadFailed": _object({"reloaded": _BOOLEAN, "error": _STRING, "sha256": _STRING}),
        "Health": _object({"status": _STRING}),
        "Ready": _object({"status": _STRING, "sha256": _STRING}),
    }


def _v2(info: ModelInfo) -> dict[str, Any]:
    width = info.n_features
    tensor = _object({"name": _STRING, "datatype": _STRING, "shape": _integers()})
    parameters = {
        "type": "object",
        "additionalProperties": {"type": ["string", "number", "boolean"]},
    }
    data = {"type": "array", "items": {"oneOf": [_NUMBER, {"type": "array", "items": _NUMBER}]}}
    infer_input = _object(
        {
            "name": {"enum": [INPUT_NAME]},
            "datatype": {"enum": ["FP32", "FP64"]},
            "shape": _integers(2) | {"description": f"[n houses, {width}]"},
            "data": data | {"description": "row-major values, flat or one list per house"},
            "parameters": _object({"binary_data_size": {"type": "integer"}}, ()),
        },
        ("name", "datatype", "shape"),
    )
    requested = _object(
        {"name": {"enum": [OUTPUT_NAME]}, "parameters": _object({"binary_data": _BOOLEAN}, ())},
        ("name",),
    )
    output = _object(
        {
            "name": _STRING,
            "datatype": _STRING,
            "shape": _integers(1),
            "data": {"type": "array", "items": _NUMBER},
            "parameters": _object({"binary_data_size": {"type": "integer"}}, ()),
        },
        ("name", "datatype", "shape"),
    )
    middle, low = _middle(info), list(info.feature_min)
    examples = [
        {
            "id": "1",
            "inputs": [
                {"name": INPUT_NAME, "datatype": "FP32", "shape": [1, width], "data": middle}
            ],
        },
        {
            "parameters": {"binary_data_output": True},
            "inputs": [
                {"name": INPUT_NAME, "datatype": "FP64", "shape": [2, width], "data": [middle, low]}
            ],
        },
    ]
    return {
        "ServerMetadata": _object(
            {"name": _STRING, "version": _STRING, "extensions": {"type": "array", "items": _STRING}}
        ),
        "Live": _object({"live": _BOOLEAN}),
        "ServerReady": _object({"ready": _BOOLEAN}),
        "ModelReady": _object({"name": _STRING, "ready": _BOOLEAN}),
        "ModelMetadata": _object(
            {
                "name": _STRING,
                "versions": {"type": "array", "items": _STRING},
                "platform": _STRING,
                "inputs": {"type": "array", "items": tensor},
                "outputs": {"type": "array", "items": tensor},
                "parameters": parameters,
            }
        ),
        "InferRequest": _object(
            {
                "id": _STRING,
                "parameters": _object({"binary_data_output": _BOOLEAN}, ()),
                "inputs": {"type": "array", "items": infer_input, "minItems": 1},
                "outputs": {"type": "array", "items": requested},
            },
            ("inputs",),
        )
        | {"examples": examples},
        "InferResponse": _object(
            {
                "model_name": _STRING,
                "model_version": _STRING,
                "id": _STRING,
                "parameters": parameters,
                "outputs": {"type": "array", "items": output},
            },
            ("model_name", "outputs"),
        ),
        "Binary": {"type": "string", "format": "binary"},
    }


def _integers(count: int | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "array", "items": {"type": "integer"}}
    if count is not None:
        schema |= {"minItems": count, "maxItems": count}
    return schema


def _middle(info: ModelInfo) -> list[float]:
    """The house in the middle of every training range: an example that prices."""
    return [(lo + hi) / 2 for lo, hi in zip(info.feature_min, info.feature_max, strict=True)]
