"""The integer-only C export (`--arith int16|int8`): through its gate for the shared model and
for models of other data (the diabetes set, a CSV with ranges up to 30,000), defined behaviour
for every int32 input under UBSan, no float anywhere, refusals in one line."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from houseprice.data import load_dataset
from houseprice.export.api import export_model
from houseprice.export.config import ExportConfig
from houseprice.export.errors import ConversionError, ParityError
from houseprice.train.checkpoint import save_checkpoint
from houseprice.train.config import TrainConfig
from houseprice.train.run import train_holdout
from tests.conftest import assert_one_line_error, run_cli

OK, ERR_NULL, ERR_INPUT, ERR_PRICE = 0, 1, 2, 3
QUICK = TrainConfig(
    epochs=60, members=2, val_fraction=0.15, patience=20, log_features=True, log_target=True
)


def export_int(checkpoint: Path, out: Path, arith: str):
    return export_model(checkpoint, out, ["c"], ExportConfig(arith=arith))[0]


@pytest.mark.parametrize("arith", ["int16", "int8"])
def test_the_shared_model_passes_its_gate_and_the_manifest_says_so(exported, tmp_path, arith):
    artifact = export_int(exported.checkpoint, tmp_path, arith)
    assert artifact.parity.passed and artifact.parity.format == f"c/{arith}"
    bound = {"int16": 1e-3, "int8": 5e-2}[arith]
    assert artifact.parity.max_rel < bound / 2  # inside the bound, not at its edge
    entry = json.loads((tmp_path / "manifest.json").read_text())["artifacts"][0]
    assert entry["arith"] == arith and entry["header"]["file"] == "houseprice_model.h"
    source = (tmp_path / "houseprice_model.c").read_text()
    code = re.sub(r"/\*.*?\*/", "", source, flags=re.DOTALL)  # the comments name floats
    assert not re.search(r"\b(float|double)\b|\d\.\d", code), "a float on the integer path"
    assert "math.h" not in source
    header = (tmp_path / "houseprice_model.h").read_text()
    assert "int houseprice_predict_q16(const int32_t *features_q16, int32_t *price_q16);" in header
    assert "Q16.16" in header and "CRIM" in header  # the format and the feature order


def _csv(path: Path, columns: dict[str, np.ndarray]) -> Path:
    names = list(columns)
    rows = np.column_stack([columns[n] for n in names])
    lines = [",".join(names)] + [",".join(f"{v:.6g}" for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def diabetes_csv(folder: Path) -> Path:
    from sklearn.datasets import load_diabetes  # the data ships with scikit-learn

    data = load_diabetes(scaled=False)
    columns = {name.upper(): data.data[:, i] for i, name in enumerate(data.feature_names)}
    return _csv(folder / "diabetes.csv", {**columns, "TARGET": data.target})


def wide_csv(folder: Path, top: float = 30_000.0) -> Path:
    """Houses with ranges far beyond Boston's: floor area up to ``top`` square feet."""
    rng = np.random.default_rng(7)
    n = 400
    area = rng.uniform(300, top, n)
    rooms = rng.integers(1, 12, n).astype(float)
    age = rng.uniform(0, 150, n)
    distance = rng.uniform(0.1, 900, n)
    price = 50 + 0.02 * area + 8 * rooms - 0.3 * age - 0.05 * distance + rng.normal(0, 5, n)
    columns = {"AREA": area, "ROOMS": rooms, "AGE": age, "DISTANCE": distance, "PRICE": price}
    return _csv(folder / "wide.csv", columns)


@pytest.mark.slow
@pytest.mark.parametrize(("make", "target"), [(diabetes_csv, "TARGET"), (wide_csv, "PRICE")])
def test_models_of_other_data_pass_both_gates(tmp_path, make, target):
    data = load_dataset(make(tmp_path), target)
    run = train_holdout(data, QUICK)
    checkpoint = tmp_path / "checkpoint.pt"
    save_checkpoint(run.trained, checkpoint)
    for arith in ("int16", "int8"):
        artifact = export_int(checkpoint, tmp_path / arith, arith)
        assert artifact.parity.passed, (arith, artifact.parity)


def test_a_feature_beyond_q16_is_refused_in_one_line(tmp_path):
    data = load_dataset(wide_csv(tmp_path, top=40_000.0), "PRICE")
    run = train_holdout(data, QUICK)
    checkpoint = tmp_path / "checkpoint.pt"
    save_checkpoint(run.trained, checkpoint)
    with pytest.raises(ConversionError, match="feature 'AREA' spans"):
        export_int(checkpoint, tmp_path / "out", "int16")
    result = run_cli(
        "hp-export", "-f", "c", "--arith", "int8", "--checkpoint", str(checkpoint),
        "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert_one_line_error(result, 3, "feature 'AREA' spans [", "hp-export")
    assert not (tmp_path / "out" / "houseprice_model.c").exists()


def test_arith_is_for_the_c_format_only(exported, tmp_path):
    result = run_cli(
        "hp-export", "-f", "onnx", "--arith", "int16", "--checkpoint", str(exported.checkpoint),
        "--out", str(tmp_path),
    )  # fmt: skip
    assert_one_line_error(
        result, 2, "--arith int16 applies to the c format, not onnx (see hp-export --help)"
    )


def test_a_gate_failure_names_the_figure_and_writes_nothing(exported, tmp_path, monkeypatch):
    from houseprice.export import c_int_source

    real = c_int_source.export_c_int

    def skewed(plan, info):
        header, source = real(plan, info)
        return header, source.replace(
            b"static const int64_t BIAS = ", b"static const int64_t BIAS = 9000000000LL + "
        )

    monkeypatch.setattr(c_int_source, "export_c_int", skewed)
    with pytest.raises(
        ParityError,
        match=r"c/int16 disagrees with PyTorch: .* \(tolerance 0 \+ 0\.001\*\|price\|\)",
    ):
        export_int(exported.checkpoint, tmp_path, "int16")
    assert not (tmp_path / "houseprice_model.c").exists()


# Every int32 a caller could pass, in every position, the other features mid-range; and NULLs.
_UBSAN_MAIN = r"""
#include <stdio.h>
#include <stdint.h>
#include "houseprice_model.h"
static const int32_t SPECIAL[5] = {INT32_MIN, INT32_MAX, 0, -1, 30000 * 65536};
int main(void)
{
    int32_t features[HOUSEPRICE_N_FEATURES], price = 0;
    int i, j, k, code;
    for (i = 0; i < HOUSEPRICE_N_FEATURES; ++i) {
        for (k = 0; k < 5; ++k) {
            for (j = 0; j < HOUSEPRICE_N_FEATURES; ++j) {
                features[j] = houseprice_feature_min_q16[j] / 2 + houseprice_feature_max_q16[j] / 2;
            }
            features[i] = SPECIAL[k];
            code = houseprice_predict_q16(features, &price);
            printf("%d %d %d %ld\n", i, k, code, (long)price);
        }
    }
    printf("null %d %d\n", houseprice_predict_q16(0, &price), houseprice_predict_q16(features, 0));
    return 0;
}
"""


@pytest.mark.parametrize("arith", ["int16", "int8"])
def test_every_int32_input_is_defined_behaviour_under_ubsan(exported, tmp_path, arith):
    export_int(exported.checkpoint, tmp_path, arith)
    (tmp_path / "main.c").write_text(_UBSAN_MAIN)
    flags = ["-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", "-fsanitize=undefined"]
    flags += ["-fno-sanitize-recover=all"]
    built = subprocess.run(
        ["cc", *flags, "main.c", "houseprice_model.c", "-o", "ubsan"],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    done = subprocess.run(["./ubsan"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "runtime error" not in done.stderr, done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == f"null {ERR_NULL} {ERR_NULL}"
    codes = {int(line.split()[2]) for line in lines[:-1]}
    assert codes <= {OK, ERR_INPUT, ERR_PRICE} and ERR_INPUT in codes
    zero = [line.split() for line in lines[:-1] if line.split()[1] == "2"]  # feature = 0.0
    assert all(int(code) in (OK, ERR_INPUT) for _, _, code, _ in zero)
