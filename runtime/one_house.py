"""One house in a few microseconds: the common case of a single request, without the general
pipeline's per-call setup (format detection, chunking, writers, range-check state).

Every check here only decides whether a house is *plainly valid*: a dict with exactly the model's
feature names (exact case) holding finite ints and floats inside float32's range. Anything else
returns None, and the caller takes the general path, which prices it the same way or raises the
InputError naming what is wrong. So the fast path can never accept what the general path rejects,
and never words an error differently.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

from houseprice.runtime.json_input import may_repeat_keys
from houseprice.runtime.validate import Schema
from houseprice.runtime.writers import DECIMALS

_NUMBER_TYPES = frozenset({int, float})


class OneHouse:
    """The float32 values of one plainly valid house, or None. Plain Python on 13 numbers beats
    numpy's per-call overhead (a handful of array calls cost more than the whole check)."""

    def __init__(self, schema: Schema):
        self.schema = schema
        self._float32 = struct.Struct(f"{schema.width}f")

    def values(self, record: Any) -> tuple[float, ...] | None:
        """The house's values rounded to float32 (as numpy's cast rounds), in schema order."""
        schema = self.schema
        if type(record) is not dict or len(record) != schema.width:
            return None
        try:
            values = schema.getter(record)
        except KeyError:  # a name in other case, or an unknown one
            return None
        if schema.width == 1:
            values = (values,)
        if not set(map(type, values)) <= _NUMBER_TYPES:
            return None
        try:  # packing rounds to nearest float32 and refuses what float32 cannot hold
            rounded = self._float32.unpack(self._float32.pack(*values))
        except (OverflowError, struct.error):  # struct.error: an int beyond float64
            return None
        return rounded if all(map(math.isfinite, rounded)) else None

    def row(self, record: Any) -> np.ndarray | None:
        values = self.values(record)
        return None if values is None else np.array([values], dtype=np.float32)


class OneHouseJson:
    """A single JSON object body straight to its answer bytes, for a server's hot path.

    ``answer(body)`` is the exact bytes `hp-infer` writes for that body as a JSON file, or None
    when the house needs the general path: not one plain object, a feature outside the training
    range (the general path reports the warning), or a non-finite price (it names the house).
    """

    def __init__(self, predictor: Any, lower: Sequence[float], upper: Sequence[float]):
        self.predictor = predictor
        self.house = OneHouse(predictor.schema)
        self.bounds = list(zip(map(float, lower), map(float, upper), strict=True))

    def answer(self, body: bytes) -> bytes | None:
        try:
            text = body.decode("utf-8")
            record = json.loads(text)
        except (ValueError, RecursionError):
            return None
        # One ':' per key in a flat object of numbers: more means a repeated key or a ':' in a
        # string, which the general path sorts out (json keeps a repeated key's last value).
        if type(record) is not dict or may_repeat_keys(text, len(record)):
            return None
        values = self.house.values(record)
        if values is None:
            return None
        # float32 values against float64 bounds, as the general range check compares them
        for value, (low, high) in zip(values, self.bounds, strict=True):
            if not low <= value <= high:
                return None
        prices = self.predictor.predict_unchecked(np.array([values], dtype=np.float32))
        if prices.shape != (1,):
            return None
        price = float(prices[0])
        if not math.isfinite(price):
            return None
        return f'{{"price": {round_like_numpy(price)!r}}}\n'.encode()


_SCALE = 10.0**DECIMALS


def round_like_numpy(value: float) -> float:
    """``np.round(value, DECIMALS)`` for one float, at a tenth of its cost: numpy multiplies by
    10**DECIMALS, rounds half to even and divides back, which is what this does (Python's
    ``round(value, n)`` rounds the decimal expansion instead, and can differ in the last digit)."""
    return round(value * _SCALE) / _SCALE
