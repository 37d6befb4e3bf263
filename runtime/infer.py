"""The `hp-infer` pipeline: read houses, validate, predict, write, one bounded chunk at a time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO

from houseprice.runtime.predictor import Predictor
from houseprice.runtime.readers import CHUNK_ROWS, Format, open_source
from houseprice.runtime.validate import RangeCheck, RangeReport
from houseprice.runtime.writers import PriceWriter


@dataclass
class InferSummary:
    format: Format
    houses: int = 0
    out_of_range: list[RangeReport] = field(default_factory=list)


def infer_stream(
    predictor: Predictor,
    source: BinaryIO,
    name: str,
    sink: BinaryIO,
    *,
    fmt: Format | None = None,
    coerce: bool = False,
    margin: float = 0.1,
    chunk_rows: int = CHUNK_ROWS,
) -> InferSummary:
    """Predict every house in ``source`` and write the prices to ``sink`` in the input's shape.

    Raises InputError at the first invalid house; the caller decides what to do with anything
    already written to ``sink`` (the CLI buffers it and discards it on error).
    """
    info = predictor.info
    opened = open_source(
        source, name, predictor.schema, fmt=fmt, coerce=coerce, chunk_rows=chunk_rows
    )
    writer = PriceWriter(sink, opened.format, opened.csv_header)
    ranges = RangeCheck(predictor.schema, info.feature_min, info.feature_max, margin)
    summary = InferSummary(opened.format)
    for batch in opened.batches:
        ranges.update(batch.x, batch.locate)
        writer.write(batch, predictor.predict_array(batch.x))
        summary.houses += len(batch.x)
    writer.close()
    summary.out_of_range = ranges.reports()
    return summary
