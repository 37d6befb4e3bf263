"""The batch benchmark's verdicts (the full run takes minutes: `hp-bench --batch`)."""

from __future__ import annotations

import pytest

from houseprice.bench.batch import CommandRun, format_batch, summarize


def test_targets_and_projection_come_from_the_runs():
    runs = [
        CommandRun("hp-batch, 2 workers", 20.0, 500_000.0, 900.0),
        CommandRun("hp-infer --jobs 2", 30.0, 320_000.0, 130.0),
        CommandRun("hp-batch, 1 worker", 32.0, 312_500.0, 560.0),
    ]
    report = summarize(runs, 10_000_000, 20)
    verdicts = {t["id"]: (round(t["measured"], 4), t["met"]) for t in report["targets"]}
    assert verdicts == {"batch_vs_infer": (1.5625, True), "batch_peak_memory": (900.0, True)}
    assert report["scaling_efficiency_1_to_2"] == pytest.approx(0.8)
    assert report["projected_seconds_140M_on_10_workers"] == pytest.approx(56.0)
    runs[0] = CommandRun("hp-batch, 2 workers", 20.0, 400_000.0, 1100.0)
    assert not any(t["met"] for t in summarize(runs, 10_000_000, 20)["targets"])
    assert "NOT MET" in format_batch(summarize(runs, 10_000_000, 20))
