"""The fused model as an ES module with no dependencies (``hp-export --format js``), for
browsers, node, Deno and workers. It validates a house as hp-infer does (names matched without
case, each once; values finite numbers) and refuses a price that is not finite."""

from __future__ import annotations

import json

import numpy as np

from houseprice.export.source_common import facts, float32_list, float32_literal
from houseprice.runtime.contract import ModelInfo
from houseprice.runtime.npz_model import NpzModel

MODULE_NAME = "houseprice_model.mjs"


def export_js(model: NpzModel, info: ModelInfo) -> bytes:
    lines = ["houseprice model as an ES module. Generated: do not edit.", "", *facts(info)]
    comment = "".join(f"// {line}".rstrip() + "\n" for line in lines)
    ranges = {
        name: [float(low), float(high)]
        for name, low, high in zip(
            info.feature_names, info.feature_min, info.feature_max, strict=True
        )
    }
    w1t = np.ascontiguousarray(model.w1.T)  # per hidden unit: its weights, then its bias
    constants = (
        f"export const featureNames = Object.freeze({json.dumps(list(info.feature_names))});\n"
        f"export const trainingRanges = Object.freeze({json.dumps(ranges)});\n"
        f"export const target = Object.freeze({json.dumps(_target(info))});\n\n"
        f"const ORDER = {json.dumps([int(i) for i in model.order])};\n"
        f"const N_LOGGED = {model.n_logged};\n"
        f"const LOG_TARGET = {json.dumps(bool(model.log_target))};\n"
        f"const N_HIDDEN = {w1t.shape[0]};\n"
        f"const W1 = new Float32Array([\n{float32_list(w1t, w1t.shape[1], '  ')},\n]);\n"
        f"const W2 = new Float32Array([\n{float32_list(model.w2, 6, '  ')},\n]);\n"
        f"const B2 = {float32_literal(model.b2[0])};\n"
    )
    return (comment + "\n" + constants + _FUNCTIONS).encode()


def _target(info: ModelInfo) -> dict[str, str]:
    return {"name": info.target_name, "unit": info.target_unit}


# Float64 arithmetic on the float32 weights, the price rounded to float32 as every other format
# returns it: within float32 rounding of onnxruntime's.
_FUNCTIONS = """
const WIDTH = featureNames.length;
const LOWER = new Map(featureNames.map((name, i) => [name.toLowerCase(), i]));

function show(value) {
  const text = typeof value === "string" ? JSON.stringify(value) : String(value);
  return text.length > 40 ? text.slice(0, 37) + "..." : text;
}

function priceOf(row) {
  const z = new Float64Array(WIDTH);
  for (let i = 0; i < WIDTH; i++) {
    const value = row[ORDER[i]];
    z[i] = i < N_LOGGED ? (value + 1 > 1 ? Math.log(Math.fround(value + 1)) : 0) : value;
  }
  let y = B2;
  for (let h = 0, k = 0; h < N_HIDDEN; h++, k += WIDTH + 1) {
    let unit = W1[k + WIDTH];
    for (let i = 0; i < WIDTH; i++) unit += z[i] * W1[k + i];
    if (unit > 0) y += unit * W2[h];
  }
  return Math.fround(LOG_TARGET ? Math.exp(y) : y);
}

/** One house's features in featureNames order; throws an Error naming what is wrong. */
export function houseValues(house, where = "house") {
  if (house === null || typeof house !== "object" || Array.isArray(house)) {
    throw new Error(`${where}: expected an object of features, got ${show(house)}`);
  }
  const row = new Float64Array(WIDTH);
  const seen = new Array(WIDTH).fill(null);
  for (const [key, value] of Object.entries(house)) {
    const i = LOWER.get(key.toLowerCase());
    if (i === undefined) throw new Error(`${where}: unknown feature ${JSON.stringify(key)}`);
    if (seen[i] !== null) {
      throw new Error(`${where}: ${featureNames[i]} given twice (${seen[i]}, ${key})`);
    }
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw new Error(`${where}: ${key}: expected a finite number, got ${show(value)}`);
    }
    seen[i] = key;
    row[i] = Math.fround(value);
  }
  const missing = featureNames.filter((_, i) => seen[i] === null);
  if (missing.length) throw new Error(`${where}: missing feature(s) ${missing.join(", ")}`);
  return row;
}

/** The price of one house (an object of raw feature values), in target.unit. */
export function predict(house, where = "house") {
  const price = priceOf(houseValues(house, where));
  if (!Number.isFinite(price)) {
    throw new Error(`${where}: the model gives no finite price (far outside trainingRanges?)`);
  }
  return price;
}

/** The prices of many houses, as an array; the first bad house's Error names its index. */
export function predictMany(houses) {
  if (!Array.isArray(houses)) throw new Error("expected an array of houses");
  return houses.map((house, i) => predict(house, `houses[${i}]`));
}

/** Raw prices of rows already in featureNames order, non-finite ones included, no checks:
 * for parity tests and benchmarks. */
export function predictUnchecked(rows) {
  return Float32Array.from(rows, (row) => priceOf(row));
}
"""
