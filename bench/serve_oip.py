"""`hp-bench --serve`'s Open Inference Protocol rows: HTTP/1.1 with JSON, HTTP/1.1 with binary
tensors and gRPC, one and 256 houses a call, 16 concurrent clients, and the gRPC reference
(bench/reference_grpc.py: grpcio's server with the session and nothing else). One client drives
them all: h2load (nghttp2's, in C, so the client's own cost is small and the same for every
transport), over HTTP/1.1 or HTTP/2, in rounds (each target the median of per-round paired
ratios). h2load checks HTTP statuses; gRPC's status travels in trailers, so hp-serve's gRPC
answers are also counted from its own metrics (status OK) and any shortfall is reported."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import struct
import subprocess
import urllib.request
from pathlib import Path
from statistics import median

import numpy as np

from houseprice.bench.targets import target

CLIENTS = 16
PER_CALL = (1, 256)
# Each row: (its name, the server that answers it, the body's kind).
MODES = (
    ("http-json", "hp-serve", "json"),
    ("http-binary", "hp-serve", "binary"),
    ("grpc", "hp-serve-grpc", "grpc"),
    ("grpc reference", "reference-grpc", "grpc"),
)
INFER = "/v2/models/houseprice/infer"
GRPC_INFER = "/inference.GRPCInferenceService/ModelInfer"
OK_LINE = re.compile(r'houseprice_requests_total\{route="grpc ModelInfer",status="OK"\} ([\d.e+]+)')


def available() -> str | None:
    """Why the gRPC rows cannot run, or None."""
    if any(importlib.util.find_spec(m) is None for m in ("grpc", "tritonclient.grpc")):
        return "the grpc extra is not installed"
    if shutil.which("h2load") is None:
        return "h2load is not installed (apt-get install nghttp2-client)"
    return None


def bodies(house: dict, folder: Path) -> dict[tuple[str, int], tuple[Path, list[str]]]:
    """Per (kind, houses a call): the body file and the headers h2load sends with it."""
    from tritonclient.grpc import service_pb2 as pb

    out = {}
    for per_call in PER_CALL:
        rows = np.array([list(house.values())] * per_call, np.float32)
        tensor = {"name": "features", "datatype": "FP32", "shape": list(rows.shape)}
        json_body = json.dumps({"inputs": [{**tensor, "data": rows.ravel().tolist()}]}).encode()
        raw = rows.astype("<f4").tobytes()
        header = json.dumps({
            "inputs": [{**tensor, "parameters": {"binary_data_size": len(raw)}}],
            "outputs": [{"name": "price", "parameters": {"binary_data": True}}],
        }).encode()  # fmt: skip
        message = pb.ModelInferRequest(model_name="houseprice")
        message.inputs.add(**tensor)
        message.raw_input_contents.append(raw)
        encoded = message.SerializeToString()
        kinds = {
            "json": (json_body, ["content-type: application/json"]),
            "binary": (
                header + raw,
                [
                    "content-type: application/octet-stream",
                    f"inference-header-content-length: {len(header)}",
                ],
            ),
            "grpc": (
                b"\0" + struct.pack(">I", len(encoded)) + encoded,
                ["content-type: application/grpc", "te: trailers"],
            ),
        }
        for kind, (body, headers) in kinds.items():
            path = folder / f"{kind}-{per_call}.bin"
            path.write_bytes(body)
            out[kind, per_call] = (path, headers)
    return out


def h2load(port: int, kind: str, body: Path, headers: list[str], seconds: float) -> dict:
    log = body.with_suffix(".log")
    command = ["h2load", "-c", str(CLIENTS), "-m", "1", "-D", str(max(1, round(seconds)))]
    command += ["-d", str(body), "--log-file", str(log)]
    command += [*(x for h in headers for x in ("-H", h)), *([] if kind == "grpc" else ["--h1"])]
    command.append(f"http://127.0.0.1:{port}{GRPC_INFER if kind == 'grpc' else INFER}")
    log.unlink(missing_ok=True)  # h2load appends to its log
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60).stdout
    try:
        return parse_h2load(out, log.read_text())
    finally:
        log.unlink(missing_ok=True)


def parse_h2load(out: str, log: str) -> dict:
    """h2load's summary and its per-request log (start µs, HTTP status, µs to the answer)."""
    done = re.search(r"finished in ([\d.]+)s, ([\d.]+) req/s", out)
    statuses = [int(line.split("\t")[1]) for line in log.splitlines() if line]
    micros = np.array([float(line.split("\t")[2]) for line in log.splitlines() if line])
    if done is None or not len(micros):
        raise RuntimeError(f"h2load measured nothing: {out.strip()[-300:]}")
    return {
        "requests_per_s": float(done[2]),
        "requests": len(micros),
        "p50_us": float(np.percentile(micros, 50)),
        "p99_us": float(np.percentile(micros, 99)),
        "errors": sum(not 200 <= s < 300 for s in statuses),
    }


def grpc_ok_count(http_port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=10) as answer:
        found = OK_LINE.search(answer.read().decode())
    return float(found[1]) if found else 0.0


def oip_rounds(ports: dict[str, int], house: dict, folder: Path, seconds: float, rounds: int):
    """Every (mode, houses a call) once a round; a row per run. ``ports``: by server name."""
    files = bodies(house, folder)
    runs = []
    for number in range(rounds):
        for per_call in PER_CALL:
            for mode, server, kind in MODES:
                body, headers = files[kind, per_call]
                before = grpc_ok_count(ports["hp-serve"]) if server == "hp-serve-grpc" else 0
                measured = h2load(ports[server], kind, body, headers, seconds)
                if server == "hp-serve-grpc":  # gRPC errors answer HTTP 200: count OKs instead
                    ok = grpc_ok_count(ports["hp-serve"]) - before
                    measured["errors"] += max(0, measured["requests"] - int(ok))
                runs.append({"round": number, "mode": mode, "per_call": per_call, **measured})
    return runs


def oip_summary(runs: list[dict]) -> tuple[dict, list[dict]]:
    """(rows by name, targets): each row the median over rounds; gRPC's requests/s at one
    house a call over HTTP JSON's and over the gRPC reference's, paired within each round."""
    rows = {}
    for per_call in PER_CALL:
        for mode, _, _ in MODES:
            mine = [r for r in runs if r["mode"] == mode and r["per_call"] == per_call]
            rate = median(r["requests_per_s"] for r in mine)
            rows[f"OIP {mode} x{per_call} c={CLIENTS}"] = {
                "requests_per_s": rate,
                "houses_per_s": rate * per_call,
                "p50_us": median(r["p50_us"] for r in mine),
                "p99_us": median(r["p99_us"] for r in mine),
                "non_2xx": sum(r["errors"] for r in mine),
            }
    by_round: dict[int, dict[str, float]] = {}
    for r in runs:
        if r["per_call"] == 1:
            by_round.setdefault(r["round"], {})[r["mode"]] = r["requests_per_s"]
    over_json = median(p["grpc"] / p["http-json"] for p in by_round.values())
    over_reference = median(p["grpc"] / p["grpc reference"] for p in by_round.values())
    return rows, [
        target(
            "grpc_vs_http_json_one_house",
            f"gRPC / HTTP v2 JSON requests/s, 1 house, c={CLIENTS}",
            over_json,
            ">=",
            1,
        ),
        target(
            "grpc_vs_grpc_reference_one_house",
            "gRPC / grpcio reference requests/s, 1 house",
            over_reference,
            ">=",
            0.8,
        ),
    ]
