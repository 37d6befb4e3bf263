"""`predict_dataframe`: a price column on a Dask DataFrame, the model sent to each worker once.

The model travels as a worker plugin: the scheduler hands it to every worker once (and to any
worker that joins or replaces a dead one), and the plugin builds that worker process's one
`Predictor`. Tasks then carry only the plugin's name, never the model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from distributed import Client, WorkerPlugin, get_worker

from houseprice.batch.layout import refuse_taken_price
from houseprice.core.errors import InputError
from houseprice.runtime.predictor import Predictor
from houseprice.runtime.validate import finite_float32, show

constructed = 0  # Predictors built in this process (tests count them per worker)


class ModelPlugin(WorkerPlugin):
    """Ships the model bytes to a worker once and keeps its Predictor."""

    def __init__(self, model_bytes: bytes, source: str):
        self.model_bytes, self.source = model_bytes, source
        self.predictor: Predictor | None = None

    def setup(self, worker: Any) -> None:
        global constructed
        # One onnxruntime thread: Dask runs one task per worker thread, and the workers use the
        # cores.
        self.predictor = Predictor(self.model_bytes, threads=1, source=self.source)
        constructed += 1


@dataclass(frozen=True)
class Columns:
    """The input's columns that feed the model, in the model's feature order."""

    features: tuple[str, ...]  # as named in the input
    price: str


def plugin_name(model_bytes: bytes) -> str:
    return "houseprice-model-" + hashlib.sha256(model_bytes).hexdigest()[:16]


def match_columns(columns: Sequence[str], dtypes: Any, predictor: Predictor, price: str) -> Columns:
    """The input columns for each feature (case-insensitive, as hp-infer matches names); an
    InputError for a missing, doubly matched or non-numeric one, or a taken price column."""
    try:
        chosen = predictor.schema.match_columns(columns)
    except InputError as exc:
        raise InputError(f"{exc}; the model takes {predictor.schema.describe()}") from None
    for column in chosen:
        kind = dtypes[column]
        if not (pd.api.types.is_numeric_dtype(kind) and not pd.api.types.is_bool_dtype(kind)):
            raise InputError(f"column {column} holds {kind}, not numbers")
    refuse_taken_price(columns, price)
    return Columns(tuple(chosen), price)


def predict_dataframe(
    ddf: Any,
    model: Predictor,
    *,
    client: Client | None = None,
    price_column: str = "price",
    sources: Sequence[str] | None = None,
) -> Any:
    """``ddf`` with a float32 ``price_column`` appended; every other column passes through.

    Checked before any task runs: every feature has one numeric column. Checked per partition:
    every value is a finite float32 number, else an InputError names the partition (or its
    file, from ``sources``, one per partition) and the row. ``client`` defaults to the current
    distributed Client.
    """
    columns, name = prepare(ddf, model, client or Client.current(), price_column)
    meta = ddf._meta.assign(**{price_column: np.float32()})
    return ddf.map_partitions(
        _price_partition, columns, name, tuple(sources or ()), meta=meta, enforce_metadata=False
    )


def prepare(ddf: Any, model: Predictor, client: Client, price_column: str) -> tuple[Columns, str]:
    """Check the columns, send the model to the workers; the columns and the plugin's name."""
    columns = match_columns(list(ddf.columns), ddf.dtypes, model, price_column)
    return columns, send_model(model, client)


def send_model(model: Predictor, client: Client) -> str:
    """Register the model with every worker (once each); the plugin's name for the tasks."""
    name = plugin_name(model.model_bytes)
    client.register_plugin(ModelPlugin(model.model_bytes, model.source), name=name)
    return name


def worker_predictor(name: str) -> Predictor:
    """This worker's Predictor, built by the plugin when the model arrived."""
    return get_worker().plugins[name].predictor


def where(sources: Sequence[str], partition_info: dict | None) -> str:
    number = partition_info["number"] if partition_info else 0
    return sources[number] if number < len(sources) else f"partition {number}"


def _price_partition(
    df: pd.DataFrame,
    columns: Columns,
    name: str,
    sources: tuple[str, ...],
    partition_info: dict | None = None,
) -> pd.DataFrame:
    place = where(sources, partition_info)
    priced, _ = price_frame(df, columns, worker_predictor(name), lambda i: f"{place}: row {i + 1}")
    return priced


def price_frame(
    df: pd.DataFrame,
    columns: Columns,
    predictor: Predictor,
    locate: Any,
    *,
    as_priced: bool = False,
) -> tuple[pd.DataFrame, np.ndarray]:
    """``df`` with the price column appended, and the feature matrix it was priced from; with
    ``as_priced`` the feature columns too are replaced by the float32 values the model saw (one
    schema for every part file of a job)."""
    x, prices = priced_features(df, columns.features, predictor, locate)
    values = {name: x[:, j] for j, name in enumerate(columns.features)} if as_priced else {}
    return df.assign(**values, **{columns.price: prices}), x


def priced_features(
    df: pd.DataFrame, names: Sequence[str], predictor: Predictor, locate: Any
) -> tuple[np.ndarray, np.ndarray]:
    """The partition's feature matrix (float32) and its prices."""
    x = features(df, names, predictor, locate)
    prices = predictor.price_rows(x, locate) if len(x) else np.empty(0, np.float32)
    return x, prices


def features(
    df: pd.DataFrame, names: Sequence[str], predictor: Predictor, locate: Any
) -> np.ndarray:
    """The partition's feature matrix as float32, or an InputError naming the first bad cell."""
    frame = df[list(names)]
    if not len(frame):  # an empty partition (a CSV with only its header) holds no bad cell
        return np.empty((0, len(names)), np.float32)
    for column in names:  # a partition may hold strings where the first file held numbers
        kind = frame[column].dtype
        if not pd.api.types.is_numeric_dtype(kind) or pd.api.types.is_bool_dtype(kind):
            raise _not_numbers(frame[column], column, locate)
    with np.errstate(over="ignore", invalid="ignore"):
        x = frame.to_numpy(dtype=np.float32)
    if np.isfinite(x).all():
        return x
    # Only when something is wrong: from float64 again, to name the value as it was given.
    return finite_float32(frame.to_numpy(dtype=np.float64), predictor.schema, locate)


def _not_numbers(values: pd.Series, column: str, locate: Any) -> InputError:
    if not pd.api.types.is_bool_dtype(values.dtype):
        error = non_number(values, column, locate)
        if error is not None:
            return error
    return InputError(f"{locate(0)}: {column}: holds {values.dtype}, not numbers")


def non_number(values: pd.Series, column: str, locate: Callable[[int], str]) -> InputError | None:
    """The error for the first cell of ``values`` that is neither missing nor a number."""
    numbers = pd.to_numeric(values, errors="coerce")
    bad = (numbers.isna() & values.notna()).to_numpy().nonzero()[0]
    if not len(bad):
        return None
    i = int(bad[0])
    return InputError(f"{locate(i)}: {column}: {show(str(values.iloc[i]))} is not a number")
