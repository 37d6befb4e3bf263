"""The integer-only C export's numbers (``hp-export --format c --arith int16|int8``), chosen
at export from the fused model with every bound checked in exact integers, so the generated C
can never overflow (docs/fixed-point.md has the design):

- features arrive in Q16.16; each must lie in its accepted range, the training range widened by
  8 spans either side (clipped to what Q16.16 holds);
- z (the feature, or log(1 + max(x, 0)) of a logged one, in Q16.16) is standardized to
  u = (z - c) / r in Q``a`` (c, r: the centre and half span of z's training range), one int64
  product a feature;
- the wide layer takes u and int16 (or int8) weights in int32; each hidden unit's weights and bias
  are scaled by |w2| of its last-layer weight (ReLU commutes with a positive factor), so the last
  layer is a sum of the positive units' ReLUs minus the negative ones', no multiplies; and by a
  power of two of its own, as large as the weight type and the unit's worst-case sum allow
  (the per-unit scale), undone by a right shift before the sum;
- the sum and the last bias in int64 (500 terms of up to 2^31 need it); exp of a log target by a
  polynomial in Q30.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from houseprice.export.errors import ConversionError
from houseprice.runtime.contract import ModelInfo
from houseprice.runtime.npz_model import NpzModel

Q16 = 1 << 16
INT32_MAX = 2**31 - 1
WIDEN = 8  # accepted range: the training range and this many spans either side
WEIGHT_BITS = {"int16": 16, "int8": 8}
FRACTION_BITS = range(9, 16)  # candidates for u's fraction bits; the most accurate is chosen
MAX_UNIT_SHIFT = 15
LOG_DEGREE, EXP_DEGREE = 7, 6  # measured errors: 5.6e-7 and 6.5e-9 (docs/fixed-point.md)


@dataclass(frozen=True)
class IntPlan:
    arith: str
    n_logged: int
    log_target: bool
    order: list[int]  # input column of each z column (logged first)
    input_lo: list[int]  # accepted range per input feature, Q16.16
    input_hi: list[int]
    train_lo: list[int]  # training range per input feature, Q16.16
    train_hi: list[int]
    fraction: int  # u's fraction bits
    center: list[int]  # per z column, Q16.16
    multiplier: list[int]  # u = round((z - center) * multiplier / 2^shift)
    shift: list[int]
    weights: np.ndarray  # (H, F + 1) int: per unit its weights in z order, then its bias
    unit_shift: list[int]  # per unit: right shift of its ReLU before the sum
    n_positive: int  # units 0..n_positive-1 add, the rest subtract
    y_fraction: int  # the sum's scale: 2^y_fraction
    bias: int  # the last layer's bias at that scale
    log_poly: list[int]  # ln(1 + t) on [0, 1), t and result in Q30, highest power first
    exp_poly: list[int]  # exp(r) on [0, ln 2), Q30


def plan_integer(
    model: NpzModel, info: ModelInfo, arith: str, rows: np.ndarray | None = None
) -> IntPlan:
    """The most accurate plan over u's fraction bits, judged on ``rows`` (training rows) and
    random houses within the training ranges."""
    _check_ranges(info)
    check = _check_rows(info, rows)
    reference = _float_prices(model, check)
    plans = [_plan(model, info, arith, a) for a in FRACTION_BITS]
    errors = [np.max(np.abs(emulate(p, check) - reference) / np.abs(reference)) for p in plans]
    return plans[int(np.argmin(errors))]


def _check_ranges(info: ModelInfo) -> None:
    for name, low, high in zip(info.feature_names, info.feature_min, info.feature_max, strict=True):
        if not (low >= -32768 and high < 32768):
            raise ConversionError(
                f"feature {name!r} spans [{low:g}, {high:g}] in training; Q16.16 holds "
                "-32,768 to 32,767.99: rescale it (e.g. thousands) for the integer export"
            )


def _check_rows(info: ModelInfo, rows: np.ndarray | None) -> np.ndarray:
    rng = np.random.default_rng(0)
    random_rows = rng.uniform(info.feature_min, info.feature_max, (2048, info.n_features))
    parts = [random_rows] if rows is None else [rows, random_rows]
    return np.concatenate(parts).astype(np.float32)


def _plan(model: NpzModel, info: ModelInfo, arith: str, a: int) -> IntPlan:
    order, k = [int(i) for i in model.order], model.n_logged
    low, high = np.asarray(info.feature_min), np.asarray(info.feature_max)
    span = high - low
    input_lo = np.maximum(np.floor((low - WIDEN * span) * Q16), -(2**31)).astype(np.int64)
    input_hi = np.minimum(np.ceil((high + WIDEN * span) * Q16), INT32_MAX).astype(np.int64)
    logged = np.arange(len(order)) < k
    z_lo, z_hi = _z_of(low[order], logged), _z_of(high[order], logged)
    center = np.round((z_lo + z_hi) / 2 * Q16).astype(np.int64)
    half = np.maximum((z_hi - z_lo) / 2, 1e-6)
    # the widest |z - centre| an accepted house can give, in Q16.16 (a log is monotone)
    zq_lo = np.floor(_z_of(input_lo[order] / Q16, logged) * Q16) - 2
    zq_hi = np.ceil(_z_of(input_hi[order] / Q16, logged) * Q16) + 2
    reach = np.maximum(np.abs(zq_lo - center), np.abs(zq_hi - center))
    # the multiplier below 2^30, so that |z - centre| (< 2^32) times it stays below 2^62
    shift = np.floor(np.log2(2.0**30 / (2.0**a / (half * Q16)))).astype(np.int64)
    shift = np.clip(shift, 0, 62)
    multiplier = np.round(2.0**a / (half * Q16) * 2.0**shift).astype(np.int64)
    umax = np.ceil(reach * multiplier / 2.0**shift).astype(np.int64) + 1
    weights, unit_shift, n_positive, y_fraction = _units(model, half, center, a, umax, arith)
    bias = round(float(model.b2[0]) * 2.0**y_fraction)
    return IntPlan(
        arith, k, bool(model.log_target), order,
        input_lo.tolist(), input_hi.tolist(),
        np.round(low * Q16).astype(np.int64).tolist(), np.round(high * Q16).astype(np.int64).tolist(),
        a, center.tolist(), multiplier.tolist(), shift.tolist(), weights, unit_shift, n_positive,
        y_fraction, bias, _q30_poly(np.log1p, 0.0, 1.0, LOG_DEGREE),
        _q30_poly(np.exp, 0.0, np.log(2.0), EXP_DEGREE),
    )  # fmt: skip


def _z_of(x: np.ndarray, logged: np.ndarray) -> np.ndarray:
    return np.where(logged, np.log1p(np.maximum(x, 0.0)), x)


def _units(
    model: NpzModel, half: np.ndarray, center: np.ndarray, a: int, umax: np.ndarray, arith: str
) -> tuple[np.ndarray, list[int], int, int]:
    """Per unit: weights (z order) and bias on u, times |w2|, at the largest power of two the
    weight type and the worst-case int32 sum allow; positive-w2 units first."""
    width = len(half)
    w1 = model.w1.astype(np.float64)
    on_u = w1[:width] * half[:, None]  # z W = u (r W) + c W
    bias = w1[width] + (center / Q16) @ w1[:width]
    columns = np.concatenate([on_u, bias[None, :]]) * np.abs(model.w2.astype(np.float64))
    limit = 2 ** (WEIGHT_BITS[arith] - 1) - 1
    reach = np.concatenate([umax, [1 << a]])  # the bias multiplies the constant 2^a
    found = [_largest_exponent(column, reach, limit) for column in columns.T]
    lowest = min((e for e in found if e is not None), default=0)
    # A unit's scale stays within 2^15 of the coarsest (so its shift packs in 4 bits): one
    # 2^15 times smaller than the largest adds little to the sum, and keeps fewer bits.
    exponents = np.array([lowest if e is None else min(e, lowest + MAX_UNIT_SHIFT) for e in found])
    rows = np.round(columns.T * 2.0 ** exponents[:, None]).astype(np.int64)
    first = np.argsort(model.w2 < 0, kind="stable")  # positive units first, in order
    unit_shift = (exponents - lowest)[first].astype(int).tolist()
    return rows[first], unit_shift, int((model.w2 >= 0).sum()), a + lowest


def _largest_exponent(column: np.ndarray, reach: np.ndarray, limit: int) -> int | None:
    """The largest power of two for the unit's weights (None for a unit of zeros)."""
    top = float(np.abs(column).max())
    if top == 0.0:
        return None
    exponent = int(np.floor(np.log2(limit / top)))
    while exponent > -64:
        q = np.abs(np.round(column * 2.0**exponent)).astype(np.int64)
        if q.max() <= limit and int((q * reach).sum()) <= INT32_MAX:
            return exponent
        exponent -= 1
    raise ConversionError("a hidden unit's weights cannot be scaled into the integer range")


def _q30_poly(function, start: float, stop: float, degree: int) -> list[int]:
    grid = np.linspace(start, stop, 20001)
    fit = np.polynomial.chebyshev.Chebyshev.fit(grid, function(grid), degree)
    coefficients = fit.convert(kind=np.polynomial.Polynomial).coef
    return [round(c * 2.0**30) for c in coefficients[::-1]]


def _float_prices(model: NpzModel, x: np.ndarray) -> np.ndarray:
    return model.runner(1024)(x).astype(np.float64)


def emulate(plan: IntPlan, x: np.ndarray) -> np.ndarray:
    """The plan's prices for float rows, the integer steps exact and the log and exp in float:
    close to what the C computes (its polynomials err by 6e-7 at most), to choose a plan by."""
    xq = np.clip(np.round(x.astype(np.float64) * Q16), plan.input_lo, plan.input_hi)
    z = xq[:, plan.order] / Q16
    logged = np.arange(len(plan.order)) < plan.n_logged
    zq = np.round(_z_of(z, logged) * Q16)
    u = np.round((zq - plan.center) * np.array(plan.multiplier) / 2.0 ** np.array(plan.shift))
    u = u.astype(np.int64)
    w = plan.weights
    h = u @ w[:, :-1].T + (w[:, -1] << plan.fraction)[None, :]
    h = np.maximum(h, 0) >> np.array(plan.unit_shift)[None, :]
    sign = np.where(np.arange(len(w)) < plan.n_positive, 1, -1)
    y = ((h * sign).sum(axis=1) + plan.bias) / 2.0**plan.y_fraction
    return np.exp(y) if plan.log_target else y
