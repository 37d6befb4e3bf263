"""One schema for every partition of an hp-batch job.

Before any task runs, the client reads every file's header (a Parquet footer, a CSV's first line)
and lays out the output once: the model's features matched in each file whatever their case, and
every other column (passthrough) of every file, in the order the files introduce them. Each task
then reads its own file into that layout, so partitions never disagree:

- features are float32 whatever numeric type a file holds them in (the values the model priced);
- passthrough columns keep their Parquet type (one that differs between files is widened to
  float64 if all are numbers, else to text); from CSV they are the text as written, so an id
  ``02134`` stays ``02134``;
- a passthrough column that only some files have is empty (null) in the others.

A file without a feature, or with two columns for one, is an error naming the file and column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from houseprice.batch.csv_lines import CsvLines
from houseprice.batch.sources import Sources
from houseprice.core.errors import InputError
from houseprice.runtime.validate import Locate, Schema, show

# pandas' default spellings of a missing value: in feature columns they mean "missing" (and are
# refused as not finite); passthrough text keeps them as written.
MISSING = (
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
)


@dataclass(frozen=True)
class FilePlan:
    """How one file maps onto the layout."""

    number: int  # partition number
    file: str
    format: str  # "parquet" or "csv"
    features: tuple[str, ...]  # this file's column for each feature, in the model's order
    passthrough: tuple[str, ...]  # the passthrough columns this file has


@dataclass(frozen=True)
class Layout:
    features: tuple[str, ...]  # output names of the features (as the first file names them)
    passthrough: tuple[str, ...]  # every other column of any file, in order of appearance
    columns: tuple[str, ...]  # the output's columns before the price, in order
    price: str
    arrow_types: dict[str, Any]  # passthrough column -> pyarrow type (Parquet input only)
    plans: tuple[FilePlan, ...]


def lay_out(sources: Sources, schema: Schema, price: str) -> Layout:
    """Read every file's header and lay the output out; InputError names the file at fault."""
    headers = [_header(sources.format, file) for file in sources.files]
    plans, seen, types = [], {}, {}  # seen: every column name, in order of first appearance
    for number, (file, (names, arrow)) in enumerate(zip(sources.files, headers, strict=True)):
        features = _match(file, names, schema, price)
        passthrough = tuple(n for n in names if n not in features)
        plans.append(FilePlan(number, file, sources.format, features, passthrough))
        seen.update(dict.fromkeys(names))
        for name, kind in zip(names, arrow or (), strict=False):  # Parquet only: CSV is text
            if name in passthrough:
                types.setdefault(name, []).append(kind)
    passthrough = tuple(n for n in seen if _is_passthrough(n, plans))
    first_columns = list(headers[0][0])
    columns = (*first_columns, *(n for n in passthrough if n not in first_columns))
    widest = {name: _widest(found) for name, found in types.items()}
    return Layout(plans[0].features, passthrough, columns, price, widest, tuple(plans))


def _is_passthrough(name: str, plans: list[FilePlan]) -> bool:
    return any(name in plan.passthrough for plan in plans) and not any(
        name in plan.features for plan in plans
    )


def _header(fmt: str, file: str) -> tuple[list[str], list[Any] | None]:
    """The file's column names, and (Parquet) their Arrow types."""
    import fsspec

    try:
        with fsspec.open(file, "rb") as handle:
            if fmt == "csv":
                return [str(c) for c in pd.read_csv(handle, nrows=0).columns], None
            import pyarrow.parquet as pq

            schema = pq.read_schema(handle)
    except Exception as exc:  # any reader error (truncated, not Parquet, not text) is the file's
        raise InputError(f"{file}: unreadable ({first_line(exc)})") from None
    index = set(_index_columns(schema))
    fields = [f for f in schema if f.name not in index]
    return [f.name for f in fields], [f.type for f in fields]


def _index_columns(schema: Any) -> list[str]:
    """Columns pandas stored as the index (not data): its metadata names them."""
    meta = schema.pandas_metadata or {}
    return [c for c in meta.get("index_columns", []) if isinstance(c, str)]


def _match(file: str, names: Sequence[str], schema: Schema, price: str) -> tuple[str, ...]:
    try:
        chosen = schema.match_columns(names)
        refuse_taken_price(names, price)
    except InputError as exc:
        raise InputError(f"{file}: {exc}") from None
    return chosen


def refuse_taken_price(names: Sequence[str], price: str) -> None:
    """InputError if a column already has the price column's name (in any case)."""
    if price.lower() in {str(name).lower() for name in names}:
        raise InputError(
            f"the input already has a column {show(price)}; name the price column otherwise "
            "(--price-column)"
        )


def _widest(types: list[Any]) -> Any:
    import pyarrow as pa

    distinct = set(types) - {pa.null()}
    if len(distinct) <= 1:
        return distinct.pop() if distinct else pa.string()
    if all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in distinct):
        return pa.float64()
    return pa.string()


def read_partition(plan: FilePlan, layout: Layout) -> pd.DataFrame:
    """The file as the layout's columns: features by their output names (not yet checked or
    cast: the pricing step names a bad cell), passthrough columns as read, missing ones null."""
    try:
        frame = _read(plan)
    except Exception as exc:  # a damaged file the header did not show
        raise InputError(f"{plan.file}: unreadable ({first_line(exc)})") from None
    frame = frame.rename(columns=dict(zip(plan.features, layout.features, strict=True)))
    for name in layout.passthrough:
        if name not in frame.columns:
            frame[name] = None
    return frame[list(layout.columns)]


def _read(plan: FilePlan) -> pd.DataFrame:
    if plan.format == "csv":
        return pd.read_csv(
            plan.file,
            dtype={c: str for c in plan.passthrough},
            keep_default_na=False,
            na_values={c: MISSING for c in plan.features},
        )
    return pd.read_parquet(plan.file, columns=[*plan.features, *plan.passthrough])


def row_locator(plan: FilePlan) -> Locate:
    """Names a row of the file as hp-infer would: a CSV house by its line, a Parquet one by its
    row counted from 1 (Parquet has no lines)."""
    if plan.format == "csv":
        return CsvLines(plan.file)
    return lambda i: f"{plan.file}: row {i + 1}"


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
