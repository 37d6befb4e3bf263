"""What an hp-batch job is, and every check of it that needs no cluster.

The checks run in the order a user fixes things: INPUT, OUTPUT (refused if replacing it could
destroy data), the model, then every file's columns. The first three import neither Dask nor
pandas, so `hp-batch` names a missing file, a refused OUTPUT or a bad model in a fraction of a
second instead of after Dask's seconds of import (`check_job`); the columns need pandas
(`plan_batch`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from houseprice.batch.output import check_output
from houseprice.batch.sources import Sources, find_sources
from houseprice.core import defaults
from houseprice.runtime.predictor import Predictor

if TYPE_CHECKING:
    from houseprice.batch.layout import Layout


@dataclass(frozen=True)
class BatchConfig:
    input: str
    output: Path
    model: Path = defaults.MODEL
    format: str = "parquet"  # of the output: "parquet" or "csv"
    price_column: str = "price"
    margin: float = defaults.MARGIN  # extrapolation warnings beyond this share of a span
    progress: bool = False  # Dask's progress bar on stderr
    overwrite: bool = False  # replace an OUTPUT folder that hp-batch did not write


@dataclass(frozen=True)
class CheckedJob:
    """A job whose INPUT, OUTPUT and model passed the checks that import neither Dask nor
    pandas; ``output`` is OUTPUT's real path."""

    config: BatchConfig
    sources: Sources
    output: Path
    predictor: Predictor


@dataclass(frozen=True)
class BatchPlan:
    """What a job was checked to be before any cluster work: its files laid out, its model
    loaded, and OUTPUT's real path."""

    config: BatchConfig
    output: Path
    predictor: Predictor
    layout: Layout


def check_job(config: BatchConfig) -> CheckedJob:
    sources = find_sources(config.input)
    output = check_output(config.output, sources.local_paths(), config.overwrite)
    return CheckedJob(config, sources, output, Predictor.load(config.model))


def plan_batch(job: BatchConfig | CheckedJob) -> BatchPlan:
    from houseprice.batch.layout import lay_out  # pandas, after the checks that need none

    checked = job if isinstance(job, CheckedJob) else check_job(job)
    schema, price_column = checked.predictor.schema, checked.config.price_column
    layout = lay_out(checked.sources, schema, price_column)
    return BatchPlan(checked.config, checked.output, checked.predictor, layout)
