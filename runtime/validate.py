"""Turn houses (mappings of feature name -> number) into a float32 matrix, or say what is wrong.

A fast path handles the common case (every record a dict with exactly the model's keys, in order,
holding ints and floats) with a few C-level calls per chunk; anything else goes through the slow
path, which either builds the same rows or raises an InputError naming the record and the field.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import Any

import numpy as np

from houseprice.core import defaults
from houseprice.core.errors import InputError
from houseprice.runtime.json_input import KeysGivenTwice

Locate = Callable[[int], str]  # record index within the batch -> "line 7", "$[3]", ...
_NUMBER_TYPES = frozenset({int, float})
SHOW_CHARS = 40  # an error line echoes at most this much of what was given


class Schema:
    """The model's input columns, with a case-insensitive lookup."""

    def __init__(self, names: Sequence[str]):
        self.names = tuple(names)
        self.width = len(self.names)
        self._index = {n.lower(): j for j, n in enumerate(self.names)}
        # One record's values in column order (a tuple when width > 1, the bare value otherwise).
        self.getter = itemgetter(*self.names)

    def column(self, name: str) -> int | None:
        return self._index.get(name.lower())

    def match_columns(self, columns: Sequence[str]) -> tuple[str, ...]:
        """The column holding each feature, in schema order, matched case-insensitively as a
        house's keys are; InputError for a feature with no column, or with two."""
        by_name: dict[str, list[str]] = {}
        for column in columns:
            by_name.setdefault(str(column).lower(), []).append(str(column))
        chosen = []
        for feature in self.names:
            found = by_name.get(feature.lower(), [])
            if not found:
                raise InputError(f"no column {feature}")
            if len(found) > 1:
                both = " and ".join(map(show, found))
                raise InputError(f"columns {both} both match feature {feature}")
            chosen.append(found[0])
        return tuple(chosen)

    def describe(self) -> str:
        return ", ".join(self.names)


def records_to_array(
    records: Sequence[Any], schema: Schema, locate: Locate, coerce: bool = False
) -> np.ndarray:
    """(n, width) float32 rows from n records; InputError on the first bad record."""
    if not records:
        return np.empty((0, schema.width), dtype=np.float32)
    rows = _fast_rows(records, schema)
    if rows is not None:
        try:
            return finite_float32(np.array(rows, dtype=np.float64), schema, locate)
        except OverflowError:  # an int beyond float64: the slow path names the record
            pass
    rows = [_record_row(r, i, schema, locate, coerce) for i, r in enumerate(records)]
    return finite_float32(np.array(rows, dtype=np.float64), schema, locate)


def _fast_rows(records: Sequence[Any], schema: Schema) -> list[tuple[Any, ...]] | None:
    """Rows in schema order if every record is a dict of exactly the schema's keys (exact case)
    holding ints and floats; None sends the batch to the slow path. C-level calls only."""
    if set(map(type, records)) != {dict} or set(map(len, records)) != {schema.width}:
        return None
    try:
        rows = list(map(schema.getter, records))
        if schema.width == 1:
            rows = [(value,) for value in rows]
    except KeyError:
        return None
    if not set(map(type, chain.from_iterable(rows))) <= _NUMBER_TYPES:
        return None
    return rows


def _record_row(record: Any, i: int, schema: Schema, locate: Locate, coerce: bool) -> list[float]:
    if not isinstance(record, Mapping):
        raise InputError(
            f"{locate(i)}: expected an object of feature values, got {_json_type(record)}"
        )
    if isinstance(record, KeysGivenTwice):
        j = schema.column(record.twice)
        name = schema.names[j] if j is not None else show(record.twice)
        raise InputError(f"{locate(i)}: feature {name} given twice")
    row: list[float | None] = [None] * schema.width
    for key, value in record.items():
        j = schema.column(key) if isinstance(key, str) else None
        if j is None:
            raise InputError(
                f"{locate(i)}: unknown feature {show(str(key))}; the model takes "
                f"{schema.describe()}"
            )
        if row[j] is not None:
            raise InputError(f"{locate(i)}: feature {schema.names[j]} given twice ({key!r})")
        row[j] = _number(value, f"{locate(i)}: {schema.names[j]}", coerce)
    missing = [schema.names[j] for j, v in enumerate(row) if v is None]
    if missing:
        raise InputError(f"{locate(i)}: missing feature {', '.join(missing)}")
    return row  # type: ignore[return-value]


def _number(value: Any, where: str, coerce: bool) -> float:
    kind = type(value)
    if kind is float or kind is int or _numpy_number(value):
        try:
            number = float(value)
        except OverflowError:
            raise InputError(f"{where}: {show_number(value)} is too large") from None
    elif kind is str and coerce:
        try:
            number = float(value)
        except (ValueError, OverflowError):
            raise InputError(f"{where}: {show(value)} is not a number") from None
    elif kind is str:
        raise InputError(
            f"{where}: expected a number, got the string {show(value)} (to accept numbers written "
            "as strings: hp-infer --coerce, ?coerce=true over HTTP, coerce=True in Python)"
        )
    else:
        raise InputError(f"{where}: expected a number, got {_json_type(value)}")
    if not math.isfinite(number):
        raise InputError(f"{where}: {show_number(value)} is not a finite number")
    return number


def _numpy_number(value: Any) -> bool:
    """numpy's integer and floating scalars (np.float64(0.5), np.int32(3)); not np.bool_."""
    return isinstance(value, (np.integer, np.floating))


def finite_float32(x: np.ndarray, schema: Schema, locate: Locate) -> np.ndarray:
    """Cast to float32, rejecting NaN, infinities and values beyond float32's range."""
    with np.errstate(over="ignore", invalid="ignore"):
        x32 = x.astype(np.float32)
    bad = ~np.isfinite(x32)
    if bad.any():
        i, j = (int(v) for v in np.argwhere(bad)[0])
        raise InputError(
            f"{locate(i)}: {schema.names[j]}: {show_number(x[i, j])} is not a finite float32 number"
        )
    return x32


def _json_type(value: Any) -> str:
    names = {
        bool: "a boolean",
        type(None): "null",
        dict: "an object",
        list: "an array",
        str: "a string",
    }
    return names.get(type(value), type(value).__name__)


def show(text: str, limit: int = SHOW_CHARS) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def show_number(value: Any) -> str:
    """A number as given, at most SHOW_CHARS characters (a 400-digit integer is not echoed)."""
    if type(value) is int and value.bit_length() > 128:
        return f"an integer of {len(str(abs(value)))} digits"
    text = str(value)
    return text if len(text) <= SHOW_CHARS else text[:SHOW_CHARS] + "..."


def nonfinite_price_error(
    x: np.ndarray, prices: np.ndarray, info: Any, locate: Locate
) -> InputError:
    """The error for the first house the model prices as NaN or infinity: the graph overflowed
    on values far outside the training range, and those features are named, worst first."""
    i = int(np.flatnonzero(~np.isfinite(prices))[0])
    low, high = np.asarray(info.feature_min), np.asarray(info.feature_max)
    span = np.maximum(high - low, 1e-12)
    row = x[i].astype(np.float64)
    beyond = np.maximum(low - row, row - high) / span  # in spans of the training range
    worst = [j for j in np.argsort(-beyond) if beyond[j] > 0][:3]
    blame = ", ".join(
        f"{info.feature_names[j]}={row[j]:g} (trained on {low[j]:g} to {high[j]:g})" for j in worst
    )
    return InputError(
        f"{locate(i)}: the model gives no finite price ({prices[i]}) for this house; "
        + (f"far outside the training range: {blame}" if blame else "every feature is in range")
    )


@dataclass(frozen=True)
class RangeReport:
    """Houses with a feature far outside the training range: predictions there extrapolate."""

    feature: str
    count: int
    first: str  # where the first such house is
    low: float
    high: float

    def message(self) -> str:
        return (
            f"{self.count} house(s) have {self.feature} outside the training range "
            f"[{self.low:g}, {self.high:g}] by more than the margin (first: {self.first}); "
            "their predictions are extrapolations"
        )


class RangeCheck:
    """Counts, chunk by chunk, values beyond [min - margin*span, max + margin*span]."""

    def __init__(
        self,
        schema: Schema,
        low: Sequence[float],
        high: Sequence[float],
        margin: float = defaults.MARGIN,
    ):
        lo, hi = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
        span = hi - lo
        self.schema, self.low, self.high = schema, lo, hi
        self.lower, self.upper = lo - margin * span, hi + margin * span
        self.counts = np.zeros(schema.width, dtype=np.int64)
        self.first: list[str | None] = [None] * schema.width

    def update(self, x: np.ndarray, locate: Locate) -> None:
        outside = (x < self.lower) | (x > self.upper)  # (n, width)
        per_column = outside.sum(axis=0)
        for j in np.flatnonzero(per_column):
            if self.first[j] is None:
                self.first[j] = locate(int(np.argmax(outside[:, j])))
            self.counts[j] += per_column[j]

    def fresh(self) -> RangeCheck:
        """The same bounds with nothing counted yet (for another chunk or partition)."""
        other = copy.copy(self)
        other.counts = np.zeros_like(self.counts)
        other.first = [None] * len(self.first)
        return other

    def merge(self, other: RangeCheck) -> None:
        """Add the counts of a check run on later rows (e.g. in a worker process)."""
        self.counts += other.counts
        self.first = [mine or theirs for mine, theirs in zip(self.first, other.first, strict=True)]

    def reports(self) -> list[RangeReport]:
        return [
            RangeReport(
                self.schema.names[j],
                int(self.counts[j]),
                self.first[j] or "?",
                float(self.low[j]),
                float(self.high[j]),
            )
            for j in np.flatnonzero(self.counts)
        ]
