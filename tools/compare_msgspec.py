"""Does the JSON Lines fast path earn its code? hp-infer's pipeline (infer_stream, one process)
on 1,000,000 machine-written houses, with the chunk parser swapped: the numpy fast path
(runtime/uniform_lines.py), json per chunk, and msgspec per chunk (the simplest fast correct
alternative). Best of 3 each, the outputs compared byte for byte.

    .venv/bin/pip install msgspec && .venv/bin/python tools/compare_msgspec.py artifacts/model.onnx
"""

import io
import json
import sys
import time

import msgspec
import numpy as np

from houseprice.data import load_dataset
from houseprice.runtime import readers, uniform_lines
from houseprice.runtime.infer import infer_stream
from houseprice.runtime.predictor import Predictor
from houseprice.runtime.validate import records_to_array

model = sys.argv[1]
p = Predictor.load(model)
names = p.feature_names
base = load_dataset().features
rng = np.random.default_rng(0)
x = base[rng.integers(0, 506, 1_000_000)] * rng.uniform(0.97, 1.03, (1_000_000, 13))
x = x.astype(np.float32).astype(np.float64).round(5)
data = "".join(json.dumps(dict(zip(names, row, strict=True))) + "\n" for row in x.tolist()).encode()
print(f"{len(data) / 1e6:.0f} MB", file=sys.stderr)

Dec = msgspec.json.Decoder(list[dict[str, float]])


def msgspec_parse(lines, schema):
    try:
        records = Dec.decode(b"[" + b",".join(lines) + b"]")
    except msgspec.DecodeError:
        return None
    # a repeated key is kept silently by msgspec as by json: find it as the json path does
    from houseprice.runtime.json_input import lines_with_repeated_keys

    if lines_with_repeated_keys([line.decode() for line in lines], records):
        return None
    return records_to_array(records, schema, lambda i: str(i)).astype(np.float64)


real = uniform_lines.parse_uniform_lines


def run(label, parser):
    uniform_lines.parse_uniform_lines = parser  # readers imports it at each chunk
    times = []
    for _ in range(3):
        sink = io.BytesIO()
        t = time.perf_counter()
        infer_stream(p, readers.wrap_text(data), "h.jsonl", sink, jobs=1)
        times.append(time.perf_counter() - t)
    best = min(times)
    print(f"{label:<28} {best:6.2f} s  {1e6 / best:>10,.0f} houses/s", flush=True)
    return sink.getvalue()


a = run("numpy fast path (ours)", real)
b = run("json.loads per chunk", lambda lines, schema: None)
c = run("msgspec per chunk", msgspec_parse)
print("same bytes:", a == b == c)
