"""The `hp-infer` pipeline: read houses, validate, predict, write, one bounded chunk at a time.

JSON Lines chunks are independent, so a large JSON Lines input is spread over worker processes
(``jobs``): each parses, validates, prices and formats whole chunks, and the parent writes the
results in input order. An invalid house still surfaces as the first one in file order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from typing import BinaryIO

from houseprice.runtime.errors import InputError
from houseprice.runtime.predictor import Predictor
from houseprice.runtime.readers import CHUNK_ROWS, Format, RawChunk, open_source, parse_jsonl_chunk
from houseprice.runtime.validate import RangeCheck, RangeReport
from houseprice.runtime.writers import PriceWriter, jsonl_prices


@dataclass
class InferSummary:
    format: Format
    houses: int = 0
    out_of_range: list[RangeReport] = field(default_factory=list)


def infer_stream(
    predictor: Predictor, source: BinaryIO, name: str, sink: BinaryIO, *,
    fmt: Format | None = None, coerce: bool = False, margin: float = 0.1,
    chunk_rows: int = CHUNK_ROWS, jobs: int = 1,
) -> InferSummary:  # fmt: skip
    """Predict every house in ``source`` and write the prices to ``sink`` in the input's shape.

    Raises InputError at the first invalid house; the caller decides what to do with anything
    already written to ``sink`` (the CLI buffers it and discards it on error).
    """
    opened = open_source(
        source, name, predictor.schema, fmt=fmt, coerce=coerce, chunk_rows=chunk_rows
    )
    summary = InferSummary(opened.format)
    ranges = _range_check(predictor, margin)
    if opened.chunks is not None:
        task = _ChunkTask(predictor, name, coerce, margin)
        for priced in _price_chunks(task, opened.chunks, jobs, chunk_rows):
            sink.write(priced.output)
            ranges.merge(priced.ranges)
            summary.houses += priced.houses
        if summary.houses == 0:
            raise InputError(f"{name}: empty input, no houses")
    else:
        writer = PriceWriter(sink, opened.format, opened.csv_header)
        for batch in opened.batches or ():
            ranges.update(batch.x, batch.locate)
            writer.write(batch, predictor.predict_array(batch.x))
            summary.houses += len(batch.x)
        writer.close()
    summary.out_of_range = ranges.reports()
    return summary


def _range_check(predictor: Predictor, margin: float) -> RangeCheck:
    info = predictor.info
    return RangeCheck(predictor.schema, info.feature_min, info.feature_max, margin)


@dataclass(frozen=True)
class _Priced:
    output: bytes
    ranges: RangeCheck
    houses: int


class _ChunkTask:
    """Everything needed to price one JSON Lines chunk. Plain pickling suffices for spawn-based
    pools (the Predictor pickles as its model bytes); each worker builds its own session."""

    def __init__(self, predictor: Predictor, name: str, coerce: bool, margin: float):
        self.predictor, self.name, self.coerce, self.margin = predictor, name, coerce, margin

    def __call__(self, chunk: RawChunk) -> _Priced:
        batch = parse_jsonl_chunk(chunk, self.name, self.predictor.schema, self.coerce)
        ranges = _range_check(self.predictor, self.margin)
        ranges.update(batch.x, batch.locate)
        prices = self.predictor.predict_array(batch.x) if len(batch.x) else batch.x[:, 0]
        return _Priced(jsonl_prices(prices), ranges, len(batch.x))


def _price_chunks(
    task: _ChunkTask, chunks: Iterator[RawChunk], jobs: int, chunk_rows: int
) -> Iterable[_Priced]:
    first = next(chunks, None)
    if first is None:
        return []
    # Workers pay off only beyond one full chunk; small inputs never start a process.
    if jobs <= 1 or len(first.lines) < chunk_rows:
        return map(task, chain([first], chunks))
    return _in_workers(task, chain([first], chunks), jobs)


_worker_task: _ChunkTask | None = None


def _start_worker(task: _ChunkTask) -> None:
    global _worker_task
    # A fresh session per process: never use an onnxruntime session inherited across fork.
    _worker_task = _ChunkTask(
        Predictor(task.predictor.model_bytes, source=task.predictor.source),
        task.name, task.coerce, task.margin,
    )  # fmt: skip


def _run_in_worker(chunk: RawChunk) -> _Priced:
    assert _worker_task is not None, "worker started without _start_worker"
    return _worker_task(chunk)


def _in_workers(task: _ChunkTask, chunks: Iterable[RawChunk], jobs: int) -> Iterator[_Priced]:
    """Results in input order, with at most 2 * jobs chunks in flight (bounded memory)."""
    # Imported here: a one-house run should not pay for the process machinery.
    import multiprocessing
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor

    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    pool = ProcessPoolExecutor(
        jobs, mp_context=context, initializer=_start_worker, initargs=(task,)
    )
    try:
        pending: deque = deque()
        for chunk in chunks:
            pending.append(pool.submit(_run_in_worker, chunk))
            if len(pending) >= 2 * jobs:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        # On an error, drop the chunks not yet priced instead of waiting for them.
        pool.shutdown(wait=True, cancel_futures=True)
