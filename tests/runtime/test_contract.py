"""The metadata a model carries is checked whole at load: damage is a ModelError naming it."""

from __future__ import annotations

import json

import pytest

from houseprice.core.errors import ModelError
from houseprice.runtime.contract import PREFIX, ModelInfo
from tests.runtime.model_files import NAMES, info


def _props(**changes: object) -> dict[str, str]:
    props = info().to_metadata()
    for key, value in changes.items():
        props[PREFIX + key] = value if isinstance(value, str) else json.dumps(value)
    return props


def test_a_sound_record_round_trips():
    assert ModelInfo.from_metadata(info().to_metadata()) == info()


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"feature_names": ["CRIM"] * 13}, "duplicate feature name CRIM"),
        ({"feature_names": ["crim", "CRIM", *NAMES[2:]]}, "duplicate feature name CRIM"),
        ({"feature_names": ["", *NAMES[1:]]}, "feature name '' is not a non-empty string"),
        ({"feature_names": [1, *NAMES[1:]]}, "feature name 1 is not a non-empty string"),
        ({"feature_names": []}, "no feature names"),
        ({"feature_names": "CRIM"}, "feature_names is not JSON"),
        ({"feature_names": {"a": 1}}, "feature_names is a JSON dict, expected a list"),
        ({"feature_min": [0.0] * 12}, "13 feature names but 12 minima and 13 maxima"),
        ({"feature_max": [1.0] * 14}, "13 feature names but 13 minima and 14 maxima"),
        ({"feature_min": [2.0] * 13}, "training range of CRIM is [2.0, 1.0]"),
        ({"feature_max": ["NaN", *[1.0] * 12]}, "feature_max holds 'NaN', not a number"),
        (
            {"feature_max": "[" + ", ".join(["1" + "0" * 400] * 13) + "]"},
            "feature_max holds an integer beyond the float range",
        ),
        ({"feature_max": [1e400, *[1.0] * 12]}, "training range of CRIM is [0.0, inf]"),
        ({"feature_min": [None] * 13}, "feature_min holds 'None', not a number"),
        ({"feature_min": [True] * 13}, "feature_min holds 'True', not a number"),
        ({"metrics": [1, 2]}, "metrics is a JSON list, expected a dict"),
        ({"config": "[" * 100_000}, "config is nested too deeply"),
        ({"contract_version": "one"}, "contract version -1"),
    ],
)
def test_damaged_metadata_is_named(changes, problem):
    with pytest.raises(ModelError, match=r"damaged houseprice metadata|contract version") as caught:
        ModelInfo.from_metadata(_props(**changes), "m.onnx")
    assert problem in str(caught.value), caught.value
    assert str(caught.value).startswith("m.onnx: ")


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (
            "feature_names",
            "m.onnx: an ONNX file without houseprice metadata; export one with `hp-export --format onnx`",
        ),
        (
            "contract_version",
            "m.onnx: model contract version 0, this runtime reads 1; re-export it with this version of houseprice",
        ),
        ("feature_min", "m.onnx: damaged houseprice metadata: no feature_min"),
        ("feature_max", "m.onnx: damaged houseprice metadata: no feature_max"),
        ("target_name", "m.onnx: damaged houseprice metadata: no target_name"),
    ],
)
def test_every_required_key_missing_is_a_model_error(key, message):
    props = info().to_metadata()
    del props[PREFIX + key]
    with pytest.raises(ModelError) as caught:
        ModelInfo.from_metadata(props, "m.onnx")
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "key", ["target_unit", "data_sha256", "package_version", "metrics", "config", "exported_at"]
)
def test_optional_keys_have_defaults(key):
    props = info().to_metadata()
    del props[PREFIX + key]
    loaded = ModelInfo.from_metadata(props)
    default = {"metrics": {}, "config": {}}.get(key, "")
    assert getattr(loaded, key) == default
    assert loaded.feature_names == info().feature_names and loaded.target_name == "MEDV"


def test_the_problem_is_named_whole_and_an_unexported_record_has_no_export_time():
    with pytest.raises(ModelError) as caught:
        ModelInfo.from_metadata(_props(feature_min=[2.0] * 13), "m.onnx")
    assert (
        str(caught.value)
        == "m.onnx: damaged houseprice metadata: training range of CRIM is [2.0, 1.0]"
    )
    assert info().exported_at == "" and info().to_metadata()[PREFIX + "exported_at"] == ""


def test_ranges_must_be_finite_on_both_sides_and_may_be_a_point():
    for low, high in ((float("-inf"), 1.0), (0.0, float("inf")), (float("nan"), 1.0)):
        props = _props(feature_min=[low, *[0.0] * 12], feature_max=[high, *[1.0] * 12])
        with pytest.raises(ModelError, match=r"training range of CRIM is \["):
            ModelInfo.from_metadata(props)
    point = ModelInfo.from_metadata(_props(feature_min=[0.5] * 13, feature_max=[0.5] * 13))
    assert point.feature_min == point.feature_max == (0.5,) * 13
    assert info().n_features == 13 and info(1).n_features == 1
    assert ModelInfo.from_metadata(info(1).to_metadata()).feature_names == ("CRIM",)
