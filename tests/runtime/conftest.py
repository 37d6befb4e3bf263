"""The runtime tests' shared fixtures and helpers: the session's model as a Predictor, twenty
Boston houses, and the in-process hp-infer pipeline."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from houseprice.data import load_dataset
from houseprice.runtime.infer import infer_stream
from houseprice.runtime.predictor import Predictor
from houseprice.runtime.readers import wrap_text
from tests.conftest import assert_one_line_error, run_cli


@pytest.fixture(scope="module")
def predictor(exported) -> Predictor:
    return Predictor.load(exported.onnx)


@pytest.fixture(scope="module")
def houses() -> list[dict[str, float]]:
    data = load_dataset()
    return [dict(zip(data.feature_names, row.tolist(), strict=True)) for row in data.features[:20]]


def run_pipeline(predictor, data: bytes, name: str = "in", **options) -> tuple[str, object]:
    sink = io.BytesIO()
    summary = infer_stream(predictor, wrap_text(data), name, sink, **options)
    return sink.getvalue().decode(), summary


def as_jsonl(houses) -> bytes:
    return "".join(json.dumps(h) + "\n" for h in houses).encode()


def as_csv(houses) -> bytes:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(houses[0]))
    writer.writeheader()
    writer.writerows(houses)
    return text.getvalue().encode()


def hp_infer(exported, *args: str, input: bytes | None = None, cwd: Path | None = None):
    return run_cli("hp-infer", *args, "--model", str(exported.onnx), input=input, cwd=cwd)


def infer_fails(result, code: int, message: str) -> None:
    assert result.stdout == b""  # nothing half-written
    assert_one_line_error(result, code, message, "hp-infer")
