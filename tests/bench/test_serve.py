"""The serve benchmark's parsing and verdicts (running it needs wrk, which CI may not have)."""

from __future__ import annotations

from houseprice.bench.serve import WrkRun, _micros, format_serve, summarize


def test_wrk_latencies_are_read_in_microseconds():
    assert _micros("812.00us") == 812.0
    assert _micros("1.50ms") == 1500.0
    assert _micros("2.00s") == 2_000_000.0


def test_targets_are_judged_from_the_medians():
    runs = [
        WrkRun(server, c, rps, p50, p99, 0)
        for server, c, rps, p50, p99 in [
            ("hp-serve", 1, 900, 1000, 2000),
            ("reference", 1, 1000, 900, 1800),
            ("hp-serve", 32, 700, 40_000, 150_000),
            ("reference", 32, 1000, 30_000, 60_000),
            ("hp-serve", 32, 900, 40_000, 100_000),
            ("reference", 32, 1000, 30_000, 60_000),
            ("hp-serve", 32, 800, 40_000, 110_000),
            ("reference", 32, 1000, 30_000, 60_000),
        ]
    ]
    report = summarize(runs, workers=2)
    assert format_serve(report).startswith("2 worker process(es) per server")
    assert report["rows"]["hp-serve c=32"]["requests_per_s"] == 800
    verdicts = {t["id"]: (round(t["measured"], 3), t["met"]) for t in report["targets"]}
    assert verdicts == {
        "serve_vs_reference_c32": (0.8, True),
        "serve_p99_over_p50_c32": (2.75, True),
    }
    runs[-2] = WrkRun("hp-serve", 32, 500, 40_000, 110_000, 0)  # median 700 of 700, 900, 500
    worse = {t["id"]: t["met"] for t in summarize(runs)["targets"]}
    assert worse == {"serve_vs_reference_c32": False, "serve_p99_over_p50_c32": True}


def test_the_throughput_ratio_pairs_each_round():
    """One disturbed round moves both servers' figures in that round; the ratio is taken per round,
    then the median: here 0.95, where the ratio of the two medians would say 0.7."""
    from houseprice.bench.serve import paired_ratio

    runs = [
        WrkRun(server, 32, rps, 1, 2, 0)
        for server, rps in [
            ("hp-serve", 950),
            ("reference", 1000),
            ("hp-serve", 300),
            ("reference", 1000),
            ("hp-serve", 700),
            ("reference", 600),
        ]
    ]
    assert paired_ratio(runs, 32) == 0.95


def test_the_v2_route_is_judged_against_v1_in_the_same_rounds():
    from houseprice.bench.serve import infer_request

    rows = [("hp-serve", 1000), ("hp-serve /v2", 850), ("reference", 1000)]
    runs = [WrkRun(name, c, rps, 1, 2, 0) for c in (1, 32) for name, rps in rows]
    runs += [WrkRun("hp-serve", 32, 1000, 1, 2, 0), WrkRun("hp-serve /v2", 32, 700, 1, 2, 0)]
    runs += [WrkRun("reference", 32, 1000, 1, 2, 0)]
    verdicts = {t["id"]: (round(t["measured"], 6), t["met"]) for t in summarize(runs)["targets"]}
    assert verdicts["serve_v2_vs_v1_c32"] == (0.775, False)  # the median of 0.85 and 0.7
    assert "hp-serve /v2 c=32" in format_serve(summarize(runs))
    assert infer_request({"A": 1, "B": 2.5}) == {
        "inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 2], "data": [1, 2.5]}]
    }
