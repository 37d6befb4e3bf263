"""One hp-batch job: read the partitions, price them on the cluster, write each one next to
OUTPUT, and put OUTPUT in place only when every partition succeeded.

Each partition is priced and written by one task (Dask fuses read, price and write), and each
task returns only its row count and extrapolation counts, so the client never holds the data
and the counts are exact however often Dask re-runs a task whose worker died (a re-run rewrites
the same part file; the client sees one result per partition).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from houseprice.batch.errors import ClusterError
from houseprice.batch.layout import FilePlan, Layout, first_line, read_partition, row_locator
from houseprice.batch.output import discard, make_staging, put_in_place, write_marker
from houseprice.batch.plan import BatchConfig, BatchPlan, plan_batch
from houseprice.batch.score import Columns, price_frame, send_model, worker_predictor
from houseprice.core.errors import InputError, ModelError, OutputError
from houseprice.core.signals import signals_held
from houseprice.core.version import __version__
from houseprice.runtime.validate import Locate, RangeCheck, RangeReport

SLICE_ROWS = 65_536  # rows priced and written at a time; also the Parquet row-group size


@dataclass
class BatchResult:
    rows: int
    partitions: int
    seconds: float
    out_of_range: list[RangeReport] = field(default_factory=list)


def run_batch(
    config: BatchConfig | BatchPlan, client: Any, on_written: Callable[[], None] | None = None
) -> BatchResult:
    """Price every partition into a staging folder beside OUTPUT, then put it in place.
    ``on_written`` is called the moment OUTPUT is replaced, with SIGINT and SIGTERM held, so a
    caller interrupted afterwards can tell the truth about what was written."""
    start = time.perf_counter()
    plan = config if isinstance(config, BatchPlan) else plan_batch(config)
    predictor, layout = plan.predictor, plan.layout
    staging = make_staging(plan.output)
    try:
        info = predictor.info
        check = RangeCheck(predictor.schema, info.feature_min, info.feature_max, plan.config.margin)
        task = _PartitionTask(
            str(staging), plan.config.format, layout, check, send_model(predictor, client)
        )
        summary = _compute(
            client, _graph(task, layout, predictor.schema.width), plan.config.progress
        )
        rows = int(summary["rows"].sum())
        write_marker(staging, {"version": __version__, "rows": rows, "partitions": len(summary)})
        with signals_held():
            put_in_place(staging, plan.output)
            if on_written is not None:
                on_written()
    finally:
        discard(staging)
    ranges = check.fresh()
    for row in summary.sort_values("partition").itertuples(index=False):
        ranges.merge(_partition_ranges(row, check))
    return BatchResult(rows, len(summary), time.perf_counter() - start, ranges.reports())


def _graph(task: _PartitionTask, layout: Layout, width: int) -> Any:
    """One partition per file, each read, priced and written by one task."""
    import dask.dataframe as dd

    return dd.from_map(task, layout.plans, meta=_summary_meta(width), enforce_metadata=False)


def _compute(client: Any, written: Any, progress: bool) -> pd.DataFrame:
    from distributed.client import FutureCancelledError
    from distributed.scheduler import KilledWorker

    future = client.compute(written)
    try:
        if progress:
            from distributed.diagnostics.progressbar import progress as show_progress

            show_progress(future)
            sys.stderr.write("\n")
        return future.result()
    except (InputError, ModelError, OutputError):
        raise
    except KilledWorker as exc:
        raise ClusterError(
            f"workers kept dying while pricing ({exc}); nothing was written"
        ) from None
    except FutureCancelledError:
        raise ClusterError(
            "the cluster cancelled the job (scheduler lost?); nothing was written"
        ) from None
    except Exception as exc:  # not ours: a task failed in a way no check foresaw
        raise ClusterError(
            f"a task failed ({type(exc).__name__}: {first_line(exc)}); nothing was written"
        ) from None
    finally:
        future.cancel()


def _summary_meta(width: int) -> pd.DataFrame:
    columns = {"partition": np.int64, "rows": np.int64}
    columns |= {f"n{j}": np.int64 for j in range(width)}
    frame = pd.DataFrame({k: pd.Series(dtype=v) for k, v in columns.items()})
    for j in range(width):
        frame[f"first{j}"] = pd.Series(dtype=object)
    return frame


@dataclass(frozen=True)
class _PartitionTask:
    """Read one file into the layout, price it and write it, SLICE_ROWS rows at a time (a
    slice's copies are all the memory a worker adds to the partition itself), then return its
    counts as one summary row."""

    folder: str
    format: str
    layout: Layout
    check: RangeCheck
    plugin: str

    def __call__(self, plan: FilePlan) -> pd.DataFrame:
        df = read_partition(plan, self.layout)
        path = Path(self.folder) / f"part.{plan.number:05d}.{self.format}"
        partial = path.with_name(path.name + ".partial")
        ranges = self.check.fresh()
        rows = row_locator(plan)
        try:
            with _sink(self.format, partial, self.layout, plan.format) as sink:
                for start in range(0, max(len(df), 1), SLICE_ROWS):
                    part = df.iloc[start : start + SLICE_ROWS]
                    sink.write(self._price(part, start, rows, ranges))
            os.replace(partial, path)  # a re-run of this task replaces the same file: each row once
        except OSError as exc:
            raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
        finally:
            partial.unlink(missing_ok=True)
        row = {"partition": plan.number, "rows": len(df)}
        row |= {f"n{j}": int(n) for j, n in enumerate(ranges.counts)}
        row |= {f"first{j}": first for j, first in enumerate(ranges.first)}
        return pd.DataFrame([row])

    def _price(
        self, part: pd.DataFrame, offset: int, rows: Locate, ranges: RangeCheck
    ) -> pd.DataFrame:
        locate = lambda i: rows(offset + i)  # noqa: E731
        columns = Columns(self.layout.features, self.layout.price)
        predictor = worker_predictor(self.plugin)
        priced, x = price_frame(part, columns, predictor, locate, as_priced=True)
        ranges.update(x, locate)
        return priced


def _sink(fmt: str, path: Path, layout: Layout, source_format: str) -> Any:
    return _ParquetSink(path, layout, source_format) if fmt == "parquet" else _CsvSink(path)


class _ParquetSink:
    """One Parquet file written a row group per slice."""

    def __init__(self, path: Path, layout: Layout, source_format: str):
        self.path = path
        # The layout's schema, the same in every part file whatever types this file held; no
        # dictionary encoding: nearly every value is distinct, and trying a dictionary first
        # doubled the write time (measured).
        self.schema = output_schema(layout, source_format)
        self.writer: Any = None

    def __enter__(self) -> _ParquetSink:
        import pyarrow.parquet as pq

        self.writer = pq.ParquetWriter(self.path, self.schema, use_dictionary=False)
        return self

    def write(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa

        table = pa.Table.from_pandas(frame, preserve_index=False)
        self.writer.write_table(table.select(self.schema.names).cast(self.schema))

    def __exit__(self, *exc: object) -> None:
        self.writer.close()


class _CsvSink:
    def __init__(self, path: Path):
        self.path, self.handle, self.header = path, None, True

    def __enter__(self) -> _CsvSink:
        self.handle = open(self.path, "w", newline="")  # closed in __exit__
        return self

    def write(self, frame: pd.DataFrame) -> None:
        frame.to_csv(self.handle, index=False, header=self.header)
        self.header = False

    def __exit__(self, *exc: object) -> None:
        self.handle.close()


def output_schema(layout: Layout, source_format: str) -> Any:
    """Features and price float32; passthrough columns as the layout typed them (CSV: text)."""
    import pyarrow as pa

    def kind(name: str) -> Any:
        if name in layout.features:
            return pa.float32()
        return (
            layout.arrow_types.get(name, pa.string()) if source_format == "parquet" else pa.string()
        )

    fields = [pa.field(name, kind(name)) for name in layout.columns]
    return pa.schema([*fields, pa.field(layout.price, pa.float32())])


def _partition_ranges(row: Any, check: RangeCheck) -> RangeCheck:
    ranges = check.fresh()
    width = check.schema.width
    values = row._asdict()
    ranges.counts = np.array([values[f"n{j}"] for j in range(width)], dtype=np.int64)
    firsts = [values[f"first{j}"] for j in range(width)]
    ranges.first = [
        v if isinstance(v, str) and v else None for v in firsts
    ]  # None comes back as NA
    return ranges
