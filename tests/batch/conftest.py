"""hp-batch's shared fixtures: a real `distributed.LocalCluster` of 2 worker processes, and
house tables written as Parquet or CSV partitions."""

from __future__ import annotations

from pathlib import Path

import distributed
import numpy as np
import pandas as pd
import pytest

from houseprice.batch.job import BatchConfig
from houseprice.data import load_dataset
from houseprice.runtime.predictor import Predictor


@pytest.fixture(scope="session")
def client():
    import logging

    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    with distributed.Client(cluster) as client:
        yield client
    cluster.close()


@pytest.fixture(scope="session")
def predictor(exported) -> Predictor:
    return Predictor.load(exported.onnx)


def houses(predictor: Predictor, rows: int, seed: int = 0) -> pd.DataFrame:
    """Boston rows resampled and jittered, with an id first and an address last."""
    rng = np.random.default_rng(seed)
    base = load_dataset().features[rng.integers(0, 506, rows)]
    x = base * rng.uniform(0.97, 1.03, base.shape)
    frame = pd.DataFrame(x, columns=predictor.feature_names)
    frame.insert(0, "id", np.arange(rows))
    frame["address"] = [f"{i} Main St" for i in range(rows)]
    return frame


def write_parts(frame: pd.DataFrame, folder: Path, parts: int, fmt: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, part in enumerate(np.array_split(np.arange(len(frame)), parts)):
        chunk = frame.iloc[part]
        path = folder / f"in.{i:03d}.{fmt}"
        chunk.to_parquet(path, index=False) if fmt == "parquet" else chunk.to_csv(path, index=False)
    return folder


def job(exported, source: Path, output: Path, **kw) -> BatchConfig:
    return BatchConfig(input=str(source), output=output, model=exported.onnx, **kw)
