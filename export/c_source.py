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
    "            -mfloat-abi=hard -Os -c houseprice_model.c",
]


def export_c(model: NpzModel, info: ModelInfo) -> tuple[bytes, bytes]:
    """(header, source) of the model."""
    return _header(info).encode(), _source(model, info).encode()


def _comment(info: ModelInfo, title: str) -> str:
    lines = [title, "", *facts(info), "", *BUILD]
    body = "".join(f" * {line}".rstrip() + "\n" for line in lines).replace("*/", "* /")
    return "/*\n" + body + " */\n"


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
        _comment(info, "houseprice model: one house's features in, its price out (C99).")
        + "#ifndef HOUSEPRICE_MODEL_H\n#define HOUSEPRICE_MODEL_H\n\n"
        + '#ifdef __cplusplus\nextern "C" {\n#endif\n\n'
        + f"#define HOUSEPRICE_N_FEATURES {info.n_features}\n\n"
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
    order = ", ".join(str(int(i)) for i in model.order)
    # Row h holds hidden unit h's input weights then its bias: read in order, for the cache.
    w1t = np.ascontiguousarray(model.w1.T)
    return (
        _comment(info, "houseprice model weights and arithmetic (C99). Generated: do not edit.")
        + f'#include <math.h>\n\n#include "{HEADER_NAME}"\n\n'
        + f"#define N_HIDDEN {hidden}\n#define N_LOGGED {model.n_logged}\n"
        + f"#define LOG_TARGET {int(model.log_target)}\n\n"
        + "const char *const houseprice_feature_names[HOUSEPRICE_N_FEATURES] = {\n"
        + f"{names}\n}};\n"
        + "const float houseprice_feature_min[HOUSEPRICE_N_FEATURES] = {\n"
        + f"{float32_list(info.feature_min, 6, '    ', 'f')}\n}};\n"
        + "const float houseprice_feature_max[HOUSEPRICE_N_FEATURES] = {\n"
        + f"{float32_list(info.feature_max, 6, '    ', 'f')}\n}};\n\n"
        + "/* Input column of each of the model's columns: the logged ones first. */\n"
        + f"static const {_index_type(info.n_features)} ORDER[HOUSEPRICE_N_FEATURES] = {{{order}}};\n"
        + "/* First layer, standardization folded in: per hidden unit, weights then bias. */\n"
        + "static const float W1[N_HIDDEN][HOUSEPRICE_N_FEATURES + 1] = {\n"
        + ",\n".join(f"    {{{float32_list(row, len(row), '', 'f')}}}" for row in w1t)
        + "\n};\n"
        + "/* Last layer: the members' average, target scaling folded in. */\n"
        + "static const float W2[N_HIDDEN] = {\n"
        + f"{float32_list(model.w2, 6, '    ', 'f')}\n}};\n"
        + f"static const float B2 = {float32_literal(model.b2[0])}f;\n\n"
        + _PREDICT
    )


def _index_type(n: int) -> str:
    return "unsigned char" if n <= 256 else "unsigned short" if n <= 65536 else "unsigned long"


# isfinite is a <math.h> macro (no library call); log(max(x + 1, 1)) is written as a branch so
# that logf and expf are the only functions the file needs.
_PREDICT = """\
int houseprice_predict(const float *features, float *price)
{
    float z[HOUSEPRICE_N_FEATURES];
    float y = B2;
    int i, h;

    if (features == 0 || price == 0) {
        return HOUSEPRICE_ERR_NULL;
    }
    for (i = 0; i < HOUSEPRICE_N_FEATURES; ++i) {
        float value = features[ORDER[i]];
        if (!isfinite(value)) {
            return HOUSEPRICE_ERR_INPUT;
        }
        if (i < N_LOGGED) {
            value = value + 1.0f > 1.0f ? logf(value + 1.0f) : 0.0f;
        }
        z[i] = value;
    }
    for (h = 0; h < N_HIDDEN; ++h) {
        float unit = W1[h][HOUSEPRICE_N_FEATURES];
        for (i = 0; i < HOUSEPRICE_N_FEATURES; ++i) {
            unit += z[i] * W1[h][i];
        }
        if (unit > 0.0f) {
            y += unit * W2[h];
        }
    }
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
