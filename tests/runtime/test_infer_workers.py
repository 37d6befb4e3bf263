"""hp-infer's worker processes: the serial answer, the first error in file order, merged
warnings, bounded starts, clean sessions, and a worker that dies."""

from __future__ import annotations

import json

import numpy as np
import pytest

from houseprice.runtime import InputError
from houseprice.runtime.predictor import Predictor
from tests.runtime.conftest import as_jsonl as _jsonl
from tests.runtime.conftest import run_pipeline as _run


def test_worker_processes_give_the_serial_answer(predictor, houses):
    data = _jsonl(houses * 3)  # 60 houses in chunks of 7: nine chunks over two workers
    serial, serial_summary = _run(predictor, data, "in.jsonl", chunk_rows=7, jobs=1)
    pooled, pooled_summary = _run(predictor, data, "in.jsonl", chunk_rows=7, jobs=2)
    assert pooled == serial and pooled_summary.houses == serial_summary.houses == 60


def test_worker_processes_report_the_first_error_in_file_order(predictor, houses):
    lines = [json.dumps(h) for h in houses * 3]
    lines[45] = "{broken"
    lines[50] = '{"CRIM": 1}'
    with pytest.raises(InputError, match=r"^in.jsonl:46: malformed JSON"):
        _run(predictor, ("\n".join(lines) + "\n").encode(), "in.jsonl", chunk_rows=7, jobs=2)


def test_worker_processes_merge_range_warnings(predictor, houses):
    far = [dict(h) for h in houses * 3]
    far[30]["LSTAT"] = far[55]["LSTAT"] = 900.0
    _, summary = _run(predictor, _jsonl(far), "in.jsonl", chunk_rows=7, jobs=2)
    assert [(r.feature, r.count, r.first) for r in summary.out_of_range] == [
        ("LSTAT", 2, "in.jsonl:31")
    ]


def test_workers_are_bounded_by_chunks_and_keep_the_thread_count(predictor, houses, monkeypatch):
    from houseprice.runtime import infer

    started: list[int] = []
    real = infer._in_workers
    monkeypatch.setattr(
        infer, "_in_workers", lambda t, c, jobs: started.append(jobs) or real(t, c, jobs)
    )
    out, _ = _run(predictor, _jsonl(houses * 3), "in.jsonl", chunk_rows=20, jobs=64)  # 3 chunks
    assert started == [3] and len(out.splitlines()) == 60
    task = infer._ChunkTask(Predictor(predictor.model_bytes, threads=2), "in", False, 0.1)
    state = infer._worker_state(task)  # what each worker builds for itself
    assert state.predictor.threads == 2 and state.predictor is not task.predictor


def test_a_threaded_parent_session_gets_workers_from_a_clean_process(predictor, houses):
    threaded = Predictor(predictor.model_bytes, threads=2)
    threaded.predict_array(np.zeros((4, 13), dtype=np.float32))  # its pool threads now exist
    pooled, _ = _run(threaded, _jsonl(houses * 3), "in.jsonl", chunk_rows=7, jobs=2)
    serial, _ = _run(predictor, _jsonl(houses * 3), "in.jsonl", chunk_rows=7, jobs=1)
    assert pooled == serial


def _die(task, chunk):
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)


def test_a_killed_worker_is_a_worker_error(predictor, houses, monkeypatch):
    from houseprice.runtime import WorkerError, infer

    monkeypatch.setattr(infer, "_price_chunk", _die)  # forked workers inherit the patch
    with pytest.raises(WorkerError, match="a worker process died"):
        _run(predictor, _jsonl(houses * 3), "in.jsonl", chunk_rows=7, jobs=2)
