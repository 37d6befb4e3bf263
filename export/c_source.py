"""The fused model as C99 source for microcontrollers (``hp-export --format c``): a header and a
source file, weights ``static const`` (flash), no malloc, no stdio, no writable globals, only
``logf``/``expf`` from <math.h>. The arithmetic follows the ONNX graph's, summed in C's order."""

from __future__ import annotations

import numpy as np

from houseprice.export.source_common import facts, float32_list, float32_literal
from houseprice.runtime.contract import ModelInfo
from houseprice.runtime.npz_model import NpzModel

HEADER_NAME = "houseprice_model.h"
SOURCE_NAME = "houseprice_model.c"
# Return codes of houseprice_predict, documented in the header and docs/hp-export.md.
CODES = {
    "HOUSEPRICE_OK": (0, "the price was written"),
    "HOUSEPRICE_ERR_NULL": (1, "features or price is NULL"),
    "HOUSEPRICE_ERR_INPUT": (2, "a feature is NaN or infinite"),
    "HOUSEPRICE_ERR_PRICE": (3, "the price would not be finite (a house far outside the ranges)"),
}
BUILD = [
    "Build: cc -std=c99 -O2 -c houseprice_model.c   (link with -lm)",
    "Cortex-M4F: arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16",
    "            -mfloat-abi=hard -O2 -ffp-contract=fast -c houseprice_model.c",
    "(-ffp-contract=fast: a multiply-add is one vfma; measured 17,320 instructions a house",
    "on an emulated M4F, 39,840 for the loop this file replaced; docs/performance.md)",
]
# The most stack houseprice_predict takes, stated in the header: measured 64 bytes on a
# Cortex-M4F and 184-192 on soft-float Cortex-M3 and M0 (the float routines' frames), gcc -O2
# and -Os, with a margin for other compilers and libm; the features' locals grow with their
# number. Held to on every board by tests/mcu.
STACK_BOUND = "(256 + 4 * HOUSEPRICE_N_FEATURES)"


def export_c(model: NpzModel, info: ModelInfo) -> tuple[bytes, bytes]:
    """(header, source) of the model."""
    return _header(info).encode(), _source(model, info).encode()


def c_comment(info: ModelInfo, title: str, build: list[str] = BUILD) -> str:
    """The model's facts as a C comment. A name may hold anything: "*/" would end the comment
    and "/*" inside one is a warning (an error under -Werror), so both are broken with a space."""
    lines = [title, "", *facts(info), "", *build]
    body = "".join(f" * {line}".rstrip() + "\n" for line in lines)
    return "/*\n" + body.replace("*/", "* /").replace("/*", "/ *") + " */\n"


def c_string(text: str) -> str:
    """A C string literal of ``text``'s UTF-8 bytes: printable ASCII as is, the rest in octal."""

    def char(byte: int) -> str:
        if chr(byte) in '"\\?':
            return "\\" + chr(byte)
        return chr(byte) if 32 <= byte < 127 else f"\\{byte:03o}"

    return '"' + "".join(char(b) for b in text.encode()) + '"'


def _header(info: ModelInfo) -> str:
    codes = "".join(f"#define {name} {value} /* {why} */\n" for name, (value, why) in CODES.items())
    return (
        c_comment(info, "houseprice model: one house's features in, its price out (C99).")
        + "#ifndef HOUSEPRICE_MODEL_H\n#define HOUSEPRICE_MODEL_H\n\n"
        + '#ifdef __cplusplus\nextern "C" {\n#endif\n\n'
        + f"#define HOUSEPRICE_N_FEATURES {info.n_features}\n"
        + "/* At most this many bytes of stack per call (a bound, measured on Cortex-M0, M3 and\n"
        + " * M4F with gcc; logf/expf and soft-float routines included). No heap, no globals. */\n"
        + f"#define HOUSEPRICE_STACK_BYTES {STACK_BOUND}\n\n"
        + codes
        + "\n/* The features' names, in the order houseprice_predict reads them. */\n"
        + "extern const char *const houseprice_feature_names[HOUSEPRICE_N_FEATURES];\n"
        + "/* Each feature's range in the training data. */\n"
        + "extern const float houseprice_feature_min[HOUSEPRICE_N_FEATURES];\n"
        + "extern const float houseprice_feature_max[HOUSEPRICE_N_FEATURES];\n\n"
        + "/* Price one house: features[i] is feature i in raw units. Returns HOUSEPRICE_OK and\n"
        + " * writes the price (in the target's unit, above), or an error code and leaves *price\n"
        + " * untouched. Reentrant: no state but the stack. */\n"
        + "int houseprice_predict(const float *features, float *price);\n\n"
        + "#ifdef __cplusplus\n}\n#endif\n\n#endif /* HOUSEPRICE_MODEL_H */\n"
    )


def _source(model: NpzModel, info: ModelInfo) -> str:
    hidden = model.w1.shape[1]
    names = ",\n".join(f"    {c_string(name)}" for name in info.feature_names)
    # Row h holds hidden unit h's input weights then its bias: read in order, they stream.
    w1t = np.ascontiguousarray(model.w1.T)
    return (
        c_comment(info, "houseprice model weights and arithmetic (C99). Generated: do not edit.")
        + f'#include <math.h>\n\n#include "{HEADER_NAME}"\n\n'
        + f"#define N_HIDDEN {hidden}\n#define LOG_TARGET {int(model.log_target)}\n\n"
        + "const char *const houseprice_feature_names[HOUSEPRICE_N_FEATURES] = {\n"
        + f"{names}\n}};\n"
        + "const float houseprice_feature_min[HOUSEPRICE_N_FEATURES] = {\n"
        + f"{float32_list(info.feature_min, 6, '    ', 'f')}\n}};\n"
        + "const float houseprice_feature_max[HOUSEPRICE_N_FEATURES] = {\n"
        + f"{float32_list(info.feature_max, 6, '    ', 'f')}\n}};\n\n"
        + "/* First layer, standardization folded in: per hidden unit, weights then bias. Its\n"
        + " * columns follow z's order (the logged features first), not the input's. */\n"
        + "static const float W1[N_HIDDEN][HOUSEPRICE_N_FEATURES + 1] = {\n"
        + ",\n".join(f"    {{{float32_list(row, len(row), '', 'f')}}}" for row in w1t)
        + "\n};\n"
        + "/* Last layer: the members' average, target scaling folded in. */\n"
        + "static const float W2[N_HIDDEN] = {\n"
        + f"{float32_list(model.w2, 6, '    ', 'f')}\n}};\n"
        + f"static const float B2 = {float32_literal(model.b2[0])}f;\n\n"
        + _unit_macro(info.n_features)
        + _predict(model)
    )


def _unit_macro(width: int) -> str:
    """A hidden unit's pre-activation from its weight row ``w``: the features held in locals
    (registers on a Cortex-M4F: its 32 single-precision registers fit 13 and the sum), the row
    read once, front to back. Written out term by term: no loop counter, no index arithmetic,
    and with FMA contraction (-ffp-contract=fast) one load and one vfma a weight."""
    terms = "".join(f" \\\n    + z{i} * (w)[{i}]" for i in range(width))
    return f"#define HIDDEN_UNIT(w) ((w)[{width}]{terms})\n\n"


def _predict(model: NpzModel) -> str:
    width, logged = model.n_features, model.n_logged
    declare = "".join(f"    float z{i};\n" for i in range(width))
    load = "".join(
        f"    z{i} = features[{int(column)}] + 1.0f > 1.0f ? logf(features[{int(column)}] + 1.0f)"
        " : 0.0f;\n"
        if i < logged
        else f"    z{i} = features[{int(column)}];\n"
        for i, column in enumerate(model.order)
    )
    return _PREDICT.replace("@DECLARE@", declare).replace("@LOAD@", load)


# isfinite is a <math.h> macro (no library call); log(max(x + 1, 1)) is written as a branch so
# that logf and expf are the only functions the file needs. The last layer sums into four
# accumulators, combined pairwise at the end: a 500-term sum in one float accumulator strays
# ~1e-5 from the exact one on houses far outside the training ranges (measured: 13 units of
# float32 rounding times the sum of the terms' sizes, where onnxruntime's blocked sums stay
# within 3), four bring it to onnxruntime's error; it also lets the four run independently.
_PREDICT = """\
int houseprice_predict(const float *features, float *price)
{
@DECLARE@    float y0 = 0.0f, y1 = 0.0f, y2 = 0.0f, y3 = 0.0f, y, unit;
    const float *w = W1[0];
    int i, h;

    if (features == 0 || price == 0) {
        return HOUSEPRICE_ERR_NULL;
    }
    for (i = 0; i < HOUSEPRICE_N_FEATURES; ++i) {
        if (!isfinite(features[i])) {
            return HOUSEPRICE_ERR_INPUT;
        }
    }
@LOAD@    for (h = 0; h + 4 <= N_HIDDEN; h += 4, w += 4 * (HOUSEPRICE_N_FEATURES + 1)) {
        unit = HIDDEN_UNIT(w);
        if (unit > 0.0f) {
            y0 += unit * W2[h];
        }
        unit = HIDDEN_UNIT(w + (HOUSEPRICE_N_FEATURES + 1));
        if (unit > 0.0f) {
            y1 += unit * W2[h + 1];
        }
        unit = HIDDEN_UNIT(w + 2 * (HOUSEPRICE_N_FEATURES + 1));
        if (unit > 0.0f) {
            y2 += unit * W2[h + 2];
        }
        unit = HIDDEN_UNIT(w + 3 * (HOUSEPRICE_N_FEATURES + 1));
        if (unit > 0.0f) {
            y3 += unit * W2[h + 3];
        }
    }
    for (; h < N_HIDDEN; ++h, w += HOUSEPRICE_N_FEATURES + 1) {
        unit = HIDDEN_UNIT(w);
        if (unit > 0.0f) {
            y0 += unit * W2[h];
        }
    }
    y = ((y0 + y1) + (y2 + y3)) + B2;
    if (LOG_TARGET) {
        y = expf(y);
    }
    if (!isfinite(y)) {
        return HOUSEPRICE_ERR_PRICE;
    }
    *price = y;
    return HOUSEPRICE_OK;
}
"""
