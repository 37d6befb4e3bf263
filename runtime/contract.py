"""The model contract: what an exported file promises and the runtime relies on.

Input ``features``: float32, shape (batch, n_features), batch symbolic, raw values in the data set's
own units, columns in the order of the ``feature_names`` metadata. Output ``price``: float32, shape
(batch,), in the target's unit. Everything else the runtime needs travels as ONNX ``metadata_props``
(string values, JSON where structured), so the ``.onnx`` file alone is enough to predict.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from houseprice.core.errors import ModelError

INPUT_NAME = "features"
OUTPUT_NAME = "price"
CONTRACT_VERSION = 1
PREFIX = "houseprice."


@dataclass(frozen=True)
class ModelInfo:
    """The facts about a trained model: what its checkpoint keeps and its exported files carry
    as metadata (one record for both). Lists follow the input's column order."""

    feature_names: tuple[str, ...]
    feature_min: tuple[float, ...]
    feature_max: tuple[float, ...]
    target_name: str
    target_unit: str
    data_sha256: str
    package_version: str
    metrics: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    exported_at: str = ""
    contract_version: int = CONTRACT_VERSION

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    def to_metadata(self) -> dict[str, str]:
        """Encode as ONNX ``metadata_props``: every value a string, structured ones as JSON."""
        values = {
            "contract_version": self.contract_version,
            "feature_names": list(self.feature_names),
            "feature_min": list(self.feature_min),
            "feature_max": list(self.feature_max),
            "target_name": self.target_name,
            "target_unit": self.target_unit,
            "data_sha256": self.data_sha256,
            "package_version": self.package_version,
            "metrics": self.metrics,
            "config": self.config,
            "exported_at": self.exported_at,
        }
        return {PREFIX + k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}

    @classmethod
    def from_metadata(cls, props: Mapping[str, str], source: str = "model") -> ModelInfo:
        """Decode ``metadata_props``; raise ModelError if this is not a sound houseprice export."""
        if PREFIX + "feature_names" not in props:
            raise ModelError(
                f"{source}: an ONNX file without houseprice metadata; "
                "export one with `hp-export --format onnx`"
            )
        try:
            version = int(props.get(PREFIX + "contract_version", "0"))
        except ValueError:
            version = -1
        if version != CONTRACT_VERSION:
            raise ModelError(
                f"{source}: model contract version {version}, this runtime reads "
                f"{CONTRACT_VERSION}; re-export it with this version of houseprice"
            )
        try:
            info = cls(
                feature_names=tuple(_json(props, "feature_names", list)),
                feature_min=_numbers(props, "feature_min"),
                feature_max=_numbers(props, "feature_max"),
                target_name=props[PREFIX + "target_name"],
                target_unit=props.get(PREFIX + "target_unit", ""),
                data_sha256=props.get(PREFIX + "data_sha256", ""),
                package_version=props.get(PREFIX + "package_version", ""),
                metrics=_json(props, "metrics", dict, "{}"),
                config=_json(props, "config", dict, "{}"),
                exported_at=props.get(PREFIX + "exported_at", ""),
            )
            problem = info.problem()
        except KeyError as exc:
            problem = f"no {str(exc.args[0]).removeprefix(PREFIX)}"
        except (ValueError, TypeError) as exc:
            problem = str(exc)
        if problem:
            raise ModelError(f"{source}: damaged houseprice metadata: {problem}")
        return info

    def problem(self) -> str | None:
        """What makes this record unusable by the runtime, or None: features are non-empty
        distinct names (case-insensitively, as houses are matched), each with a finite range."""
        names = self.feature_names
        if not names:
            return "no feature names"
        for name in names:
            if not isinstance(name, str) or not name.strip():
                return f"feature name {name!r} is not a non-empty string"
        seen: set[str] = set()
        for name in names:
            if name.lower() in seen:
                return f"duplicate feature name {name}"
            seen.add(name.lower())
        if not len(names) == len(self.feature_min) == len(self.feature_max):
            return (
                f"{len(names)} feature names but {len(self.feature_min)} minima and "
                f"{len(self.feature_max)} maxima"
            )
        for name, low, high in zip(names, self.feature_min, self.feature_max, strict=True):
            if not (math.isfinite(low) and math.isfinite(high) and low <= high):
                return f"training range of {name} is [{low}, {high}]"
        return None


def _numbers(props: Mapping[str, str], key: str) -> tuple[float, ...]:
    """A JSON list of numbers as floats: ValueError for a string, a bool, or an integer beyond
    float64 (JSON has no limit: ``10**400`` parses, and float() of it overflows)."""
    numbers = []
    for value in _json(props, key, list):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{key} holds {str(value)[:40]!r}, not a number")
        try:
            numbers.append(float(value))
        except OverflowError:
            raise ValueError(f"{key} holds an integer beyond the float range") from None
    return tuple(numbers)


def _json(props: Mapping[str, str], key: str, kind: type, default: str | None = None) -> Any:
    """A JSON-encoded metadata value of the expected type (ValueError naming the key if not)."""
    text = props[PREFIX + key] if default is None else props.get(PREFIX + key, default)
    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError(f"{key} is nested too deeply") from None
    except ValueError:
        raise ValueError(f"{key} is not JSON") from None
    if not isinstance(value, kind):
        raise ValueError(f"{key} is a JSON {type(value).__name__}, expected a {kind.__name__}")
    return value
