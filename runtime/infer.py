"""The `hp-infer` pipeline: read houses, validate, predict, write, one bounded chunk at a time.

JSON Lines chunks are independent, so a large JSON Lines input is spread over worker processes
(``jobs``): each parses, validates, prices and formats whole chunks, and the parent writes the
results in input order. An invalid house still surfaces as the first one in file order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain, islice
from typing import BinaryIO

from houseprice.core import defaults
from houseprice.core.errors import MalformedInputError, WorkerError
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
    predictor: Predictor,
    source: BinaryIO,
    name: str,
    sink: BinaryIO,
    *,
    fmt: Format | None = None,
    coerce: bool = False,
    margin: float = defaults.MARGIN,
    chunk_rows: int = CHUNK_ROWS,
    jobs: int = 1,
) -> InferSummary:
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
            raise MalformedInputError(f"{name}: empty input, no houses")
    else:
        writer = PriceWriter(sink, opened.format, opened.csv_header)
        for batch in opened.batches or ():
            ranges.update(batch.x, batch.locate)
            writer.write(batch, predictor.price_rows(batch.x, batch.locate))
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
        prices = self.predictor.price_rows(batch.x, batch.locate) if len(batch.x) else batch.x[:, 0]
        return _Priced(jsonl_prices(prices), ranges, len(batch.x))


def _price_chunks(
    task: _ChunkTask, chunks: Iterator[RawChunk], jobs: int, chunk_rows: int
) -> Iterable[_Priced]:
    # Read up to one chunk per job ahead: workers pay off only beyond one full chunk (small inputs
    # never start a process), and a file of 3 chunks never starts more than 3 workers.
    ahead = list(islice(chunks, max(jobs, 1)))
    if not ahead:
        return []
    if jobs <= 1 or len(ahead[0].lines) < chunk_rows:
        return map(task, chain(ahead, chunks))
    return _in_workers(task, chain(ahead, chunks), min(jobs, len(ahead)))


def _worker_state(task: _ChunkTask) -> _ChunkTask:
    """A worker's own task: a fresh session per process (never an onnxruntime session inherited
    across fork), with the parent's thread count."""
    predictor = task.predictor
    fresh = Predictor(predictor.model_bytes, threads=predictor.threads, source=predictor.source)
    return _ChunkTask(fresh, task.name, task.coerce, task.margin)


def _price_chunk(task: _ChunkTask, chunk: RawChunk) -> _Priced:
    return task(chunk)


def _in_workers(task: _ChunkTask, chunks: Iterable[RawChunk], jobs: int) -> Iterator[_Priced]:
    """Results in input order, with at most 2 * jobs chunks in flight (bounded memory)."""
    from collections import deque  # here: a one-house run should not pay for the process machinery

    from houseprice.core.pools import worker_pool

    died = lambda: WorkerError(  # noqa: E731
        "a worker process died while pricing (killed by a signal or out of memory); "
        "nothing was written"
    )
    with worker_pool(
        jobs, _worker_state, (task,), method=_start_method(task.predictor), died=died
    ) as submit:
        pending: deque = deque()
        for chunk in chunks:
            pending.append(submit(_price_chunk, chunk))
            if len(pending) >= 2 * jobs:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _start_method(predictor: Predictor) -> str:
    """fork where it is safe: it starts workers in ~1 ms, where forkserver adds ~0.5 s to a
    1M-house run (measured). A session with more than one thread owns an onnxruntime thread pool,
    and a child forked beside those threads can deadlock creating its own session (seen in
    tests); then workers come from a clean forkserver process instead."""
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and predictor.threads == 1:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"
