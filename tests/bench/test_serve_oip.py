"""hp-bench --serve's OIP rows: h2load's output read, bodies h2load sends, targets judged."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from houseprice.bench.serve_oip import bodies, oip_summary, parse_h2load

SUMMARY = """finished in 5.00s, 4324.40 req/s, 482.46KB/s
requests: 21622 total, 21638 started, 21622 done, 21622 succeeded, 0 failed, 0 errored, 0 timeout
"""


def test_h2load_rate_percentiles_and_failed_statuses_are_read():
    log = "".join(f"1700000000{i:06d}\t{200 if i < 98 else 503}\t{i + 1}\n" for i in range(100))
    measured = parse_h2load(SUMMARY, log)
    assert measured["requests_per_s"] == 4324.40
    assert measured["requests"] == 100
    assert measured["p50_us"] == pytest.approx(50.5)
    assert measured["p99_us"] == pytest.approx(99.01)
    assert measured["errors"] == 2


def test_an_h2load_that_measured_nothing_is_an_error():
    with pytest.raises(RuntimeError, match="h2load measured nothing"):
        parse_h2load("failed to connect\n", "")


def test_the_bodies_carry_the_house_in_each_encoding(tmp_path: Path):
    from tritonclient.grpc import service_pb2 as pb

    house = {"a": 1.5, "b": 2.0}
    files = bodies(house, tmp_path)
    as_json = json.loads(files["json", 256][0].read_bytes())
    assert as_json["inputs"][0]["shape"] == [256, 2]
    assert as_json["inputs"][0]["data"][:4] == [1.5, 2.0, 1.5, 2.0]
    framed = files["grpc", 1][0].read_bytes()
    assert framed[0] == 0 and struct.unpack(">I", framed[1:5])[0] == len(framed) - 5
    message = pb.ModelInferRequest.FromString(framed[5:])
    assert list(message.inputs[0].shape) == [1, 2]
    assert struct.unpack("<2f", message.raw_input_contents[0]) == (1.5, 2.0)
    binary, headers = files["binary", 1]
    length = int(headers[1].split(": ")[1])
    assert json.loads(binary.read_bytes()[:length])["inputs"][0]["parameters"] == {
        "binary_data_size": 8
    }


def _run(round_: int, mode: str, per_call: int, rate: float) -> dict:
    return {"round": round_, "mode": mode, "per_call": per_call, "requests_per_s": rate,
            "requests": 10, "p50_us": 1.0, "p99_us": 2.0, "errors": 0}  # fmt: skip


def test_the_grpc_targets_pair_rates_within_a_round():
    rates = {  # round 1 is disturbed: every rate halves, the ratios hold
        0: {"http-json": 1000, "http-binary": 900, "grpc": 1100, "grpc reference": 1200},
        1: {"http-json": 500, "http-binary": 450, "grpc": 550, "grpc reference": 600},
        2: {"http-json": 1000, "http-binary": 900, "grpc": 1100, "grpc reference": 1200},
    }
    runs = [_run(r, m, pc, v) for r, by in rates.items() for m, v in by.items() for pc in (1, 256)]
    rows, targets = oip_summary(runs)
    assert rows["OIP grpc x256 c=16"]["houses_per_s"] == 1100 * 256
    judged = {t["id"]: (round(t["measured"], 3), t["met"]) for t in targets}
    assert judged == {
        "grpc_vs_http_json_one_house": (1.1, True),
        "grpc_vs_grpc_reference_one_house": (0.917, True),
    }
    slower = [dict(r, requests_per_s=r["requests_per_s"] / 2) if r["mode"] == "grpc" else r
              for r in runs]  # fmt: skip
    assert {t["id"]: t["met"] for t in oip_summary(slower)[1]} == {
        "grpc_vs_http_json_one_house": False,
        "grpc_vs_grpc_reference_one_house": False,
    }
