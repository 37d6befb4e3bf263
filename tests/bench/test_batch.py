"""The batch benchmark's verdicts (the full run takes minutes: `hp-bench --batch`): every target
the median of per-round paired ratios, so a round that load from elsewhere slows stays in it."""

from __future__ import annotations

import pytest

from houseprice.bench.batch import CommandRun, format_batch, summarize


def _round(two: float, infer: float, one: float, peak: float = 900.0) -> list[CommandRun]:
    return [
        CommandRun("hp-batch, 2 workers", 1e7 / two, two, peak),
        CommandRun("hp-infer --jobs 2", 1e7 / infer, infer, 130.0),
        CommandRun("hp-batch, 1 worker", 1e7 / one, one, 560.0),
    ]


def test_targets_and_projection_come_from_the_runs():
    report = summarize([_round(500_000.0, 320_000.0, 312_500.0)], 10_000_000, 20)
    verdicts = {t["id"]: (round(t["measured"], 4), t["met"]) for t in report["targets"]}
    assert verdicts == {"batch_vs_infer": (1.5625, True), "batch_peak_memory": (900.0, True)}
    assert report["scaling_efficiency_1_to_2"] == pytest.approx(0.8)
    assert report["projected_seconds_140M_on_10_workers"] == pytest.approx(56.0)
    worse = summarize([_round(400_000.0, 320_000.0, 312_500.0, peak=1100.0)], 10_000_000, 20)
    assert not any(t["met"] for t in worse["targets"])
    assert "NOT MET" in format_batch(worse)


def test_a_slow_round_is_paired_within_itself():
    """Round 2 ran on a loaded machine: every command at half speed. Paired, its ratio is the
    same as the others'; unpaired medians of each command would mix rounds."""
    rounds = [
        _round(500_000.0, 320_000.0, 312_500.0),
        _round(250_000.0, 160_000.0, 156_250.0),
        _round(480_000.0, 300_000.0, 300_000.0),
    ]
    report = summarize(rounds, 10_000_000, 20)
    ratio = next(t for t in report["targets"] if t["id"] == "batch_vs_infer")["measured"]
    assert ratio == pytest.approx(1.5625)  # the median of 1.5625, 1.5625, 1.6
    assert report["rounds"] == 3 and len(report["per_round"]) == 3
    assert "3 rounds" in format_batch(report)
