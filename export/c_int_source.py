"""The integer-only C export (``hp-export --format c --arith int16|int8``): C99 that prices a
house in Q16.16 with integer arithmetic alone, for microcontrollers without an FPU. The numbers
come from export/c_int_plan.py; this module writes them out. ``houseprice_predict_q16`` is the
one entry point: no float anywhere in the file (a float caller converts, as the parity gate's
harness does: export/source_gate.py)."""

from __future__ import annotations

import math

import numpy as np

from houseprice.export.c_int_plan import IntPlan
from houseprice.export.c_source import CODES, HEADER_NAME, c_comment, c_string
from houseprice.runtime.contract import ModelInfo

LN_Q16_MAX = math.log(2**31 / 65536)  # exp(y) must stay below 32,768 (INT32_MAX in Q16.16)
WEIGHT_TYPE = {"int16": "int16_t", "int8": "int8_t"}
# Measured on Cortex-M0 and M4F (gcc -O2/-Os): 120-200 bytes; with a margin, per feature too.
STACK_BOUND = "(384 + 8 * HOUSEPRICE_N_FEATURES)"
BUILD = [
    "Integers only: features and price in Q16.16 (value x 65,536, rounded to nearest).",
    "Build: cc -std=c99 -O2 -c houseprice_model.c   (no -lm needed)",
    "Cortex-M0: arm-none-eabi-gcc -mcpu=cortex-m0 -mthumb -O2 -ffunction-sections",
    "           -fdata-sections -c houseprice_model.c   (link with -Wl,--gc-sections)",
]


def export_c_int(plan: IntPlan, info: ModelInfo) -> tuple[bytes, bytes]:
    """(header, source) of the integer model."""
    return _header(plan, info).encode(), _source(plan, info).encode()


def _header(plan: IntPlan, info: ModelInfo) -> str:
    codes = "".join(f"#define {name} {value} /* {why} */\n" for name, (value, why) in CODES.items())
    title = f"houseprice model, integers only ({plan.arith} weights): Q16.16 in, Q16.16 out."
    return (
        c_comment(info, title, BUILD)
        + "#ifndef HOUSEPRICE_MODEL_H\n#define HOUSEPRICE_MODEL_H\n\n#include <stdint.h>\n\n"
        + '#ifdef __cplusplus\nextern "C" {\n#endif\n\n'
        + f"#define HOUSEPRICE_N_FEATURES {info.n_features}\n"
        + "#define HOUSEPRICE_Q16 65536 /* a value v travels as round(v * 65536) */\n"
        + "/* At most this many bytes of stack per call. No heap, no writable globals. */\n"
        + f"#define HOUSEPRICE_STACK_BYTES {STACK_BOUND}\n\n"
        + codes
        + "\n/* The features' names, in the order houseprice_predict_q16 reads them. */\n"
        + "extern const char *const houseprice_feature_names[HOUSEPRICE_N_FEATURES];\n"
        + "/* Each feature's range in the training data, Q16.16. */\n"
        + "extern const int32_t houseprice_feature_min_q16[HOUSEPRICE_N_FEATURES];\n"
        + "extern const int32_t houseprice_feature_max_q16[HOUSEPRICE_N_FEATURES];\n"
        + "/* What the arithmetic accepts: the training range widened by 8 spans either side\n"
        + " * (within Q16.16); a feature outside is HOUSEPRICE_ERR_INPUT. */\n"
        + "extern const int32_t houseprice_input_min_q16[HOUSEPRICE_N_FEATURES];\n"
        + "extern const int32_t houseprice_input_max_q16[HOUSEPRICE_N_FEATURES];\n\n"
        + "/* Price one house: features_q16[i] is feature i in Q16.16. Returns HOUSEPRICE_OK and\n"
        + " * writes the price (Q16.16, in the target's unit), or an error code and leaves\n"
        + " * *price_q16 untouched: a price beyond Q16.16 is HOUSEPRICE_ERR_PRICE. Integer\n"
        + " * arithmetic only, defined for every int32 input; reentrant. */\n"
        + "int houseprice_predict_q16(const int32_t *features_q16, int32_t *price_q16);\n\n"
        + "#ifdef __cplusplus\n}\n#endif\n\n#endif /* HOUSEPRICE_MODEL_H */\n"
    )


def _source(plan: IntPlan, info: ModelInfo) -> str:
    width, hidden = info.n_features, len(plan.weights)
    names = ",\n".join(f"    {c_string(name)}" for name in info.feature_names)
    weight_type = WEIGHT_TYPE[plan.arith]
    rows = ",\n".join("    {" + ", ".join(str(int(v)) for v in row) + "}" for row in plan.weights)
    return (
        c_comment(info, f"houseprice model, integers only ({plan.arith}). Generated: do not edit.")
        + f'#include <stdint.h>\n\n#include "{HEADER_NAME}"\n\n'
        + f"#define N_HIDDEN {hidden}\n#define N_POSITIVE {plan.n_positive}\n"
        + f"#define N_LOGGED {plan.n_logged}\n#define LOG_TARGET {int(plan.log_target)}\n"
        + f"#define ONE_U ((int32_t)1 << {plan.fraction}) /* u's scale */\n"
        + f"#define Y_FRACTION {plan.y_fraction} /* the sum's scale: 2^Y_FRACTION */\n"
        + "#define LN2_Q24 11629080\n"
        + f"#define Y_HIGH {_scaled(LN_Q16_MAX, plan.y_fraction, 'floor')}LL\n"
        + f"#define Y_LOW {_scaled(-24.0, plan.y_fraction, 'ceil')}LL\n\n"
        + "const char *const houseprice_feature_names[HOUSEPRICE_N_FEATURES] = {\n"
        + f"{names}\n}};\n"
        + _int_array("const int32_t houseprice_feature_min_q16", plan.train_lo)
        + _int_array("const int32_t houseprice_feature_max_q16", plan.train_hi)
        + _int_array("const int32_t houseprice_input_min_q16", plan.input_lo)
        + _int_array("const int32_t houseprice_input_max_q16", plan.input_hi)
        + "\n/* Per z column (the logged features first): its input column, and\n"
        + " * u = round((z - CENTER) * MULTIPLIER / 2^SHIFT), z in Q16.16, u in ONE_U units. */\n"
        + _int_array("static const unsigned char ORDER", plan.order)
        + _int_array("static const int32_t CENTER", plan.center)
        + _int_array("static const int32_t MULTIPLIER", plan.multiplier)
        + _int_array("static const unsigned char SHIFT", plan.shift)
        + "\n/* ln(1 + t) for t in [0, 1) and exp(r) for r in [0, ln 2): Q30 coefficients,\n"
        + " * highest power first (Chebyshev fits: errors 5.6e-7 and 6.5e-9). */\n"
        + (_int_array("static const int32_t LOG_POLY", plan.log_poly) if plan.n_logged else "")
        + (_int_array("static const int32_t EXP_POLY", plan.exp_poly) if plan.log_target else "")
        + "\n/* The wide layer: per hidden unit its weights on u (z order), then its bias on\n"
        + " * ONE_U, each unit scaled by |its last-layer weight| and a power of two of its own;\n"
        + " * units 0..N_POSITIVE-1 add to the price's logarithm, the rest subtract. */\n"
        + f"static const {weight_type} W1[N_HIDDEN][HOUSEPRICE_N_FEATURES + 1] = {{\n{rows}\n}};\n"
        + _unit_shifts(plan.unit_shift)
        + f"static const int64_t BIAS = {plan.bias}LL;\n\n"
        + _unit_macro(width)
        + _FUNCTIONS.replace(
            "@DECLARE@", "".join(f"    int32_t u{i};\n" for i in range(width))
        ).replace("@STANDARDIZE@", _standardize(width))
    )


def _scaled(value: float, fraction: int, rounding: str) -> int:
    scaled = value * 2.0**fraction
    return int(math.floor(scaled) if rounding == "floor" else math.ceil(scaled))


def _int_array(declaration: str, values: list[int] | np.ndarray, suffix: str = "") -> str:
    items = [f"{int(v)}{suffix}" for v in np.asarray(values).reshape(-1)]
    lines = [", ".join(items[i : i + 8]) for i in range(0, len(items), 8)]
    return f"{declaration}[{len(items)}] = {{\n    " + ",\n    ".join(lines) + "\n};\n"


def _unit_shifts(shifts: list[int]) -> str:
    """Per unit, the right shift that brings it to the sum's scale: two to a byte when all are
    below 16 (250 bytes saved for 500 units), else one."""
    if max(shifts) < 16:
        pairs = [*shifts, 0][: len(shifts) + len(shifts) % 2]
        packed = [pairs[i] | pairs[i + 1] << 4 for i in range(0, len(pairs), 2)]
        return (
            "/* Per unit: the right shift that brings it to the sum's scale, two to a byte. */\n"
            + _int_array("static const unsigned char UNIT_SHIFT", packed)
            + "#define UNIT_SHIFT_OF(h) ((UNIT_SHIFT[(h) >> 1] >> (((h) & 1) * 4)) & 15)\n"
        )
    return (
        "/* Per unit: the right shift that brings it to the sum's scale. */\n"
        + _int_array("static const unsigned char UNIT_SHIFT", shifts)
        + "#define UNIT_SHIFT_OF(h) (UNIT_SHIFT[h])\n"
    )


def _unit_macro(width: int) -> str:
    """A unit's sum in int32 (bounded at export: no partial sum can overflow)."""
    terms = "".join(f" \\\n    + (int32_t)(w)[{i}] * u{i}" for i in range(width))
    return f"#define HIDDEN_UNIT(w) ((int32_t)(w)[{width}] * ONE_U{terms})\n\n"


def _standardize(width: int) -> str:
    return "".join(f"    u{i} = standardized(features_q16, {i});\n" for i in range(width))


_FUNCTIONS = """\
/* round(p / 2^s), halves away from zero, without shifting a negative number (implementation-
 * defined in C99). |p| < 2^62 by the export's bounds. */
static int64_t round_shift(int64_t p, unsigned s)
{
    uint64_t magnitude = p < 0 ? (uint64_t)0 - (uint64_t)p : (uint64_t)p;
    magnitude = s ? (magnitude + ((uint64_t)1 << (s - 1))) >> s : magnitude;
    return p < 0 ? -(int64_t)magnitude : (int64_t)magnitude;
}

#if N_LOGGED > 0 || LOG_TARGET
/* a * b / 2^30 for Q30 values: |a| < 2^31, |b| <= 2^30. */
static int32_t mul_q30(int32_t a, int32_t b)
{
    return (int32_t)round_shift((int64_t)a * b, 30); /* |result| < 2^31 */
}

static int32_t polynomial_q30(const int32_t *coefficients, int degree, int32_t t)
{
    int32_t value = coefficients[0];
    int i;
    for (i = 1; i <= degree; ++i) {
        value = mul_q30(value, t) + coefficients[i];
    }
    return value;
}

#endif

#if N_LOGGED > 0
/* ln(1 + max(x, 0)) in Q16.16 for x in Q16.16. */
static int32_t log1p_q16(int32_t x)
{
    uint32_t m;
    int32_t power = 31, sum;
    if (x <= 0) {
        return 0;
    }
    m = (uint32_t)x + 65536u; /* (1 + x) in Q16.16: at most 2^31 + 2^16, in uint32 */
    if (m < 0x01000000u) { m <<= 8; power -= 8; }
    if (m < 0x10000000u) { m <<= 4; power -= 4; }
    if (m < 0x40000000u) { m <<= 2; power -= 2; }
    if (m < 0x80000000u) { m <<= 1; power -= 1; }
    /* 1 + x = 2^(power - 16) * m / 2^31, m / 2^31 in [1, 2); sum in Q24 */
    sum = (power - 16) * LN2_Q24
        + (polynomial_q30(LOG_POLY, 7, (int32_t)((m - 0x80000000u) >> 1)) >> 6);
    return (sum + 128) >> 8;
}

#endif

static int32_t standardized(const int32_t *features_q16, int column)
{
    int32_t z = features_q16[ORDER[column]];
#if N_LOGGED > 0
    if (column < N_LOGGED) {
        z = log1p_q16(z);
    }
#endif
    /* |u| within the bound the export checked: int32 */
    return (int32_t)round_shift(((int64_t)z - CENTER[column]) * MULTIPLIER[column], SHIFT[column]);
}

/* The price in Q16.16 from the sum (scale 2^Y_FRACTION): HOUSEPRICE_ERR_PRICE beyond Q16.16. */
static int price_q16_of(int64_t y, int32_t *price_q16)
{
    int64_t price;
#if LOG_TARGET
    int32_t y24, n, r;
    if (y > Y_HIGH) { /* exp(y) beyond 32,767.99 */
        return HOUSEPRICE_ERR_PRICE;
    }
    if (y < Y_LOW) { /* exp(y) below 2^-34: rounds to 0 */
        *price_q16 = 0;
        return HOUSEPRICE_OK;
    }
    /* y in Q24, within (-24, 10.4]; y = n ln 2 + r */
#if Y_FRACTION >= 24
    y24 = (int32_t)round_shift(y, Y_FRACTION - 24);
#else
    y24 = (int32_t)(y * ((int64_t)1 << (24 - Y_FRACTION)));
#endif
    n = y24 >= 0 ? y24 / LN2_Q24 : -((LN2_Q24 - 1 - y24) / LN2_Q24);
    r = y24 - n * LN2_Q24; /* [0, ln 2) in Q24 */
    price = polynomial_q30(EXP_POLY, 6, r * 64); /* exp(r) in Q30, [1, 2) */
    price = n >= 14 ? price * ((int64_t)1 << (n - 14))
                    : (price + ((int64_t)1 << (13 - n))) >> (14 - n);
#else
#if Y_FRACTION >= 16
    price = round_shift(y, Y_FRACTION - 16);
#else
    price = y * ((int64_t)1 << (16 - Y_FRACTION));
#endif
#endif
    if (price > INT32_MAX || price < INT32_MIN) {
        return HOUSEPRICE_ERR_PRICE;
    }
    *price_q16 = (int32_t)price;
    return HOUSEPRICE_OK;
}

int houseprice_predict_q16(const int32_t *features_q16, int32_t *price_q16)
{
@DECLARE@    int64_t y = BIAS, term;
    int32_t unit;
    int i, h;

    if (features_q16 == 0 || price_q16 == 0) {
        return HOUSEPRICE_ERR_NULL;
    }
    for (i = 0; i < HOUSEPRICE_N_FEATURES; ++i) {
        if (features_q16[i] < houseprice_input_min_q16[i]
            || features_q16[i] > houseprice_input_max_q16[i]) {
            return HOUSEPRICE_ERR_INPUT;
        }
    }
@STANDARDIZE@    for (h = 0; h < N_HIDDEN; ++h) {
        unit = HIDDEN_UNIT(W1[h]);
        if (unit > 0) {
            term = (int64_t)((uint32_t)unit >> UNIT_SHIFT_OF(h));
            y += h < N_POSITIVE ? term : -term;
        }
    }
    return price_q16_of(y, price_q16);
}
"""
