"""One hp-batch job: read the partitions, price them on the cluster, write each one next to
OUTPUT, and put OUTPUT in place only when every partition succeeded.

Each partition is priced and written by one task (Dask fuses read, price and write), and each
task returns only its row count and extrapolation counts, so the client never holds the data
and the counts are exact however often Dask re-runs a task whose worker died (a re-run rewrites
the same part file; the client sees one result per partition).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from houseprice.batch.errors import ClusterError
from houseprice.batch.score import Columns, prepare, price_frame, where, worker_predictor
from houseprice.batch.sources import Sources, diagnose, find_sources
from houseprice.runtime.errors import InputError, ModelError, OutputError
from houseprice.runtime.predictor import Predictor
from houseprice.runtime.validate import RangeCheck, RangeReport

SLICE_ROWS = 65_536  # rows priced and written at a time; also the Parquet row-group size


@dataclass(frozen=True)
class BatchConfig:
    input: str
    output: Path
    model: Path = Path("artifacts/model.onnx")
    format: str = "parquet"  # of the output: "parquet" or "csv"
    price_column: str = "price"
    margin: float = 0.1  # extrapolation warnings beyond this fraction of a feature's span
    progress: bool = False  # Dask's progress bar on stderr


@dataclass
class BatchResult:
    rows: int
    partitions: int
    seconds: float
    out_of_range: list[RangeReport] = field(default_factory=list)


def run_batch(config: BatchConfig, client: Any) -> BatchResult:
    start = time.perf_counter()
    sources = find_sources(config.input)
    predictor = Predictor.load(config.model)
    staging = _staging_folder(config.output)
    try:
        ddf = _read(sources, predictor)
        columns, plugin = prepare(ddf, predictor, client, config.price_column)
        info = predictor.info
        check = RangeCheck(predictor.schema, info.feature_min, info.feature_max, config.margin)
        # Partition i is file i (one partition per file); should a Dask version fuse or split
        # them, errors name the partition instead of a wrong file.
        names = sources.files if ddf.npartitions == len(sources.files) else ()
        task = _PartitionTask(str(staging), config.format, columns, check, plugin, names)
        written = ddf.map_partitions(task, meta=_summary_meta(predictor.schema.width),
                                     enforce_metadata=False)  # fmt: skip
        summary = _compute(client, written, sources, columns, config.progress)
        _put_in_place(staging, config.output)
    finally:
        _discard(staging)
    ranges = check.fresh()
    for row in summary.sort_values("partition").itertuples(index=False):
        ranges.merge(_partition_ranges(row, check))
    return BatchResult(int(summary["rows"].sum()), len(summary), time.perf_counter() - start,
                       ranges.reports())  # fmt: skip


def _read(sources: Sources, predictor: Predictor) -> Any:
    try:
        return sources.read()
    except Exception as exc:  # a reader error of any type: name the file
        raise diagnose(sources, predictor.feature_names, exc) from None


def _compute(
    client: Any, written: Any, sources: Sources, columns: Columns, progress: bool
) -> pd.DataFrame:
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
    except (ValueError, TypeError, KeyError, OSError) as exc:  # a reader's error in a task
        raise diagnose(sources, columns.features, exc) from None
    finally:
        future.cancel()


def _staging_folder(output: Path) -> Path:
    """A new folder beside OUTPUT (same filesystem, so the final rename is atomic)."""
    if output.exists() and not output.is_dir():
        raise OutputError(f"{output}: exists and is not a folder")
    parent = output.absolute().parent
    if not parent.is_dir():
        raise OutputError(f"{output}: the folder {parent} does not exist")
    staging = parent / f".{output.name}.hp-batch-{uuid.uuid4().hex[:8]}"
    try:
        staging.mkdir()
    except OSError as exc:
        raise OutputError(f"{output}: cannot write beside it ({exc.strerror})") from None
    return staging


def _discard(staging: Path) -> None:
    """Remove what is left of the staging folder (nothing once it was put in place). After a
    failure, tasks on other workers may still be running: cancelling a future does not stop a
    running task. Renamed first, the folder is gone from the path those tasks write to, so none
    can add a file while it is being removed (one did, leaving the folder behind)."""
    doomed = staging.with_name(staging.name + ".discard")
    try:
        os.rename(staging, doomed)
    except FileNotFoundError:  # put in place
        return
    except OSError:
        doomed = staging
    shutil.rmtree(doomed, ignore_errors=True)


def _put_in_place(staging: Path, output: Path) -> None:
    """OUTPUT becomes the staged folder; an OUTPUT already there is replaced only now."""
    old = None
    if output.exists():
        old = staging.with_name(staging.name + ".old")
        os.rename(output, old)
    try:
        os.rename(staging, output)
    except OSError as exc:
        if old is not None:
            os.rename(old, output)
        raise OutputError(f"{output}: cannot put the results in place ({exc.strerror})") from None
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _summary_meta(width: int) -> pd.DataFrame:
    columns = {"partition": np.int64, "rows": np.int64}
    columns |= {f"n{j}": np.int64 for j in range(width)}
    frame = pd.DataFrame({k: pd.Series(dtype=v) for k, v in columns.items()})
    for j in range(width):
        frame[f"first{j}"] = pd.Series(dtype=object)
    return frame


@dataclass(frozen=True)
class _PartitionTask:
    """Price one partition and write it, SLICE_ROWS rows at a time (a slice's copies are all the
    memory a worker adds to the partition itself), then return its counts as one summary row."""

    folder: str
    format: str
    columns: Columns
    check: RangeCheck
    plugin: str
    sources: tuple[str, ...]

    def __call__(self, df: pd.DataFrame, partition_info: dict | None = None) -> pd.DataFrame:
        number = partition_info["number"] if partition_info else 0
        place = where(self.sources, partition_info)
        path = Path(self.folder) / f"part.{number:05d}.{self.format}"
        partial = path.with_name(path.name + ".partial")
        ranges = self.check.fresh()
        sink = (
            _ParquetSink(partial, df, self.columns.price)
            if self.format == "parquet"
            else _CsvSink(partial)
        )
        try:
            with sink:
                for start in range(0, max(len(df), 1), SLICE_ROWS):
                    sink.write(
                        self._price(df.iloc[start : start + SLICE_ROWS], start, place, ranges)
                    )
            os.replace(partial, path)  # a re-run of this task replaces the same file: each row once
        finally:
            partial.unlink(missing_ok=True)
        row = {"partition": number, "rows": len(df)}
        row |= {f"n{j}": int(n) for j, n in enumerate(ranges.counts)}
        row |= {f"first{j}": first for j, first in enumerate(ranges.first)}
        return pd.DataFrame([row])

    def _price(
        self, part: pd.DataFrame, offset: int, place: str, ranges: RangeCheck
    ) -> pd.DataFrame:
        locate = lambda i: f"{place}: row {offset + i + 1}"  # noqa: E731
        priced, x = price_frame(part, self.columns, worker_predictor(self.plugin), locate)
        ranges.update(x, locate)
        return priced


class _ParquetSink:
    """One Parquet file written a row group per slice."""

    def __init__(self, path: Path, df: pd.DataFrame, price: str):
        import pyarrow as pa

        self.path = path
        # The schema of the whole partition, so a slice whose object column is all missing
        # cannot narrow a type; no dictionary encoding: nearly every value is distinct, and
        # trying a dictionary first doubled the write time (measured).
        self.schema = pa.Schema.from_pandas(df, preserve_index=False).append(
            pa.field(price, pa.float32())
        )
        self.writer: Any = None

    def __enter__(self) -> _ParquetSink:
        import pyarrow.parquet as pq

        self.writer = pq.ParquetWriter(self.path, self.schema, use_dictionary=False)
        return self

    def write(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa

        self.writer.write_table(
            pa.Table.from_pandas(frame, schema=self.schema, preserve_index=False)
        )

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


def _partition_ranges(row: Any, check: RangeCheck) -> RangeCheck:
    ranges = check.fresh()
    width = check.schema.width
    values = row._asdict()
    ranges.counts = np.array([values[f"n{j}"] for j in range(width)], dtype=np.int64)
    ranges.first = [values[f"first{j}"] or None for j in range(width)]
    return ranges
