"""The source exports run for real: the C files compiled with gcc (clean under -Werror) and
called through ctypes, the ES module run by node; both against onnxruntime on the data set."""

from __future__ import annotations

import ctypes
import json
import math
import subprocess
from contextlib import ExitStack

import numpy as np
import pytest

from houseprice.export.api import export_model
from houseprice.export.c_source import HEADER_NAME, SOURCE_NAME, export_c
from houseprice.export.js_source import MODULE_NAME, export_js
from houseprice.export.source_gate import C_FLAGS, c_forward, js_forward
from houseprice.runtime.contract import ModelInfo
from houseprice.runtime.npz_model import NpzModel
from houseprice.runtime.predictor import Predictor
from tests.conftest import BOUND, EXAMPLES, assert_one_line_error, relative_diff, run_cli

HOUSE = json.loads((EXAMPLES / "house.json").read_text())


@pytest.fixture(scope="module")
def library(sources):
    """The C export as a shared library, built with the flags the gate uses."""
    shared = sources / "libhouseprice.so"
    build = ["gcc", *C_FLAGS, "-fPIC", "-shared", SOURCE_NAME, "-lm", "-o", shared.name]
    subprocess.run(build, cwd=sources, check=True, capture_output=True)
    lib = ctypes.CDLL(str(shared))
    lib.houseprice_predict.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.houseprice_predict.restype = ctypes.c_int
    return lib


def _c_predict(lib, features) -> tuple[int, float]:
    row = (ctypes.c_float * len(features))(*features)
    price = ctypes.c_float(-1.0)  # a sentinel: untouched on error
    code = lib.houseprice_predict(row, ctypes.byref(price))
    return code, price.value


def test_c_agrees_with_onnxruntime_on_every_house(library, onnx_prices):
    rows, prices = onnx_prices
    found = np.array([_c_predict(library, row) for row in rows], dtype=np.float64)
    assert (found[:, 0] == 0).all()
    assert relative_diff(found[:, 1], prices) < BOUND


def test_c_header_names_the_features_in_order(library, sources, exported):
    info = Predictor.load(exported.onnx).info
    header = (sources / HEADER_NAME).read_text()
    assert f"#define HOUSEPRICE_N_FEATURES {info.n_features}\n" in header
    names = (ctypes.c_char_p * info.n_features).in_dll(library, "houseprice_feature_names")
    assert [n.decode() for n in names] == list(info.feature_names)
    low = (ctypes.c_float * info.n_features).in_dll(library, "houseprice_feature_min")
    assert np.allclose(list(low), info.feature_min, rtol=1e-6)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_c_refuses_a_non_finite_feature_and_leaves_the_price(library, onnx_prices, bad):
    features = list(onnx_prices[0][0])
    features[5] = bad
    assert _c_predict(library, features) == (2, -1.0)  # HOUSEPRICE_ERR_INPUT


def test_c_refuses_null_pointers(library, onnx_prices):
    row = (ctypes.c_float * 13)(*onnx_prices[0][0])
    assert library.houseprice_predict(None, None) == 1  # HOUSEPRICE_ERR_NULL
    assert library.houseprice_predict(row, None) == 1  # HOUSEPRICE_ERR_NULL


def test_c_refuses_a_house_with_no_finite_price(library):
    features = [HOUSE[name] for name in HOUSE]
    features[list(HOUSE).index("INDUS")] = 1e6  # onnxruntime gives no finite price for it either
    assert _c_predict(library, features) == (3, -1.0)  # HOUSEPRICE_ERR_PRICE


def test_c_object_has_no_writable_data_and_needs_only_logf_expf(sources, tmp_path):
    obj = tmp_path / "model.o"
    # -fno-pic as a microcontroller build: position-independent code would keep the names'
    # pointers in .data.rel.ro, for the loader to relocate.
    build = ["gcc", *C_FLAGS, "-fno-pic", "-c", str(sources / SOURCE_NAME), "-o", str(obj)]
    subprocess.run(build, check=True, capture_output=True)
    symbols = subprocess.run(["nm", str(obj)], check=True, capture_output=True, text=True)
    pairs = _pairs(symbols.stdout)
    assert not {kind for kind, _ in pairs} & set("BbDdCG"), symbols.stdout  # no .data, .bss
    undefined = {name for kind, name in pairs if kind == "U"}
    assert undefined <= {"logf", "expf"}, undefined  # no malloc, no stdio


def _pairs(nm_output: str) -> list[tuple[str, str]]:
    return [tuple(line.split()[-2:]) for line in nm_output.splitlines()]


def test_c_comment_block_carries_the_model_facts(sources, exported):
    info = Predictor.load(exported.onnx).info
    source = (sources / SOURCE_NAME).read_text()
    comment = source[: source.index("*/")]
    assert info.data_sha256 in comment and info.target_unit in comment
    assert "cc -std=c99" in comment and "arm-none-eabi-gcc" in comment


def _node(sources, cases: list) -> list[dict]:
    """Each case through the module: {"price": ...} or {"error": message}. Cases are JSON, with
    {"$": "NaN"} (or Infinity, -Infinity) standing for what JSON cannot hold."""
    script = sources / "cases.mjs"
    script.write_text(
        f'import * as model from "./{MODULE_NAME}";\n'
        "const special = { NaN, Infinity, '-Infinity': -Infinity };\n"
        "const revive = (k, v) => (v && typeof v === 'object' && '$' in v ? special[v.$] : v);\n"
        "let text = '';\n"
        "for await (const chunk of process.stdin) text += chunk;\n"
        "const cases = JSON.parse(text, revive);\n"
        "const run = ([call, arg]) => {\n"
        "  try { return { price: model[call](arg) }; } catch (e) { return { error: e.message }; }\n"
        "};\n"
        "process.stdout.write(JSON.stringify(cases.map(run)));\n"
    )
    done = subprocess.run(
        ["node", script.name], input=json.dumps(cases), cwd=sources, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_js_agrees_with_onnxruntime_on_every_house(sources, onnx_prices):
    rows, prices = onnx_prices
    names = list(HOUSE)
    houses = [dict(zip(names, map(float, row), strict=True)) for row in rows]
    (answer,) = _node(sources, [["predictMany", houses]])
    assert relative_diff(np.array(answer["price"]), prices) < BOUND


def test_js_reads_names_without_case_and_exports_the_facts(sources):
    shouted = {k.upper(): v for k, v in HOUSE.items()}
    one, two = _node(sources, [["predict", HOUSE], ["predict", shouted]])
    assert one == two and isinstance(one["price"], float)
    script = sources / "facts.mjs"
    script.write_text(
        f'import {{ featureNames, trainingRanges, target }} from "./{MODULE_NAME}";\n'
        "console.log(JSON.stringify({ featureNames, trainingRanges, target }));\n"
    )
    facts = json.loads(
        subprocess.run(["node", script.name], cwd=sources, capture_output=True).stdout
    )
    assert facts["featureNames"] == list(HOUSE)
    assert list(facts["trainingRanges"]) == list(HOUSE)
    assert facts["target"] == {"name": "MEDV", "unit": "$1000s"}


def test_js_comment_block_carries_the_model_facts(sources, exported):
    info = Predictor.load(exported.onnx).info
    lines = (sources / MODULE_NAME).read_text().splitlines()
    comment = lines[: lines.index("")]
    assert comment[:3] == [
        "// houseprice model as an ES module. Generated: do not edit.",
        "//",
        f'// Target: "MEDV", in "$1000s", test RMSE {info.metrics["test"]["rmse"]:.3f}.',
    ]
    assert f"// Training data SHA-256: {info.data_sha256}" in comment


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"RM": "6.5"}, 'house: RM: expected a finite number, got "6.5"'),
        ({"RM": None}, "house: RM: expected a finite number, got null"),
        ({"RM": {"$": "NaN"}}, "house: RM: expected a finite number, got NaN"),
        ({"RM": {"$": "Infinity"}}, "house: RM: expected a finite number, got Infinity"),
        ({"ROOMS": 6.5}, 'house: unknown feature "ROOMS"'),
        ({"rm": 6.5}, "house: RM given twice (RM, rm)"),
        ({"RM": "x" * 60}, 'got "' + "x" * 36 + "..."),  # echoes of at most 40 characters
    ],
)
def test_js_refuses_a_bad_house_naming_the_field(sources, change, message):
    (answer,) = _node(sources, [["predict", {**HOUSE, **change}]])
    assert message in answer["error"], answer


def test_js_names_missing_features_and_the_first_bad_house(sources):
    partial = {k: v for k, v in HOUSE.items() if k not in ("RM", "AGE")}
    far = {**HOUSE, "INDUS": 1e6}  # onnxruntime gives no finite price for it either
    answers = _node(
        sources,
        [
            ["predict", partial],
            ["predictMany", [HOUSE, {**HOUSE, "TAX": "high"}, {**HOUSE, "AGE": None}]],
            ["predict", far],
            ["predict", [1, 2]],
            ["predictMany", HOUSE],
        ],
    )
    assert answers[0] == {"error": "house: missing feature(s) RM, AGE"}
    assert answers[1]["error"].startswith("houses[1]: TAX: ")
    assert answers[2]["error"].startswith("house: the model gives no finite price")
    assert answers[3] == {"error": "house: expected an object of features, got 1,2"}
    assert answers[4] == {"error": "expected an array of houses"}


def test_the_gate_refuses_a_source_export_that_disagrees(exported, tmp_path, monkeypatch):
    from houseprice.export import js_source
    from houseprice.export.errors import ParityError

    real = js_source.export_js
    monkeypatch.setattr(
        js_source, "export_js", lambda *a: real(*a).replace(b"const B2 = ", b"const B2 = 1+")
    )
    with pytest.raises(ParityError, match="js disagrees with PyTorch"):
        export_model(exported.checkpoint, tmp_path, ["js", "onnx"])
    assert list(tmp_path.iterdir()) in ([], [tmp_path / "parity-failure"])
    assert not (tmp_path / MODULE_NAME).exists() and not (tmp_path / "model.onnx").exists()


def test_a_source_export_that_does_not_compile_is_refused(exported, tmp_path, monkeypatch):
    from houseprice.export import c_source
    from houseprice.export.errors import ConversionError

    real = c_source.export_c
    monkeypatch.setattr(
        c_source, "export_c", lambda *a: (real(*a)[0], real(*a)[1] + b"static int unused;")
    )
    with pytest.raises(ConversionError, match="the C export does not compile cleanly"):
        export_model(exported.checkpoint, tmp_path, ["c"])
    assert not (tmp_path / SOURCE_NAME).exists() and not (tmp_path / HEADER_NAME).exists()


@pytest.mark.parametrize(
    ("fmt", "env", "message"),
    [
        ("c", {"CC": "no-such-cc"}, "needs a C compiler ('no-such-cc' not found)"),
        ("js", {"PATH": "/nonexistent"}, "the js format's parity gate needs node"),
        (
            "all",
            {"PATH": "/nonexistent", "CC": "/usr/bin/gcc"},
            "the js format's parity gate needs node",
        ),
    ],
)
def test_a_missing_tool_is_one_line_and_writes_nothing(
    exported, tmp_path, monkeypatch, fmt, env, message
):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "out"
    args = ("--format", fmt, "--checkpoint", str(exported.checkpoint), "--out", str(out))
    result = run_cli("hp-export", *args)
    assert_one_line_error(result, 6, message, prog="hp-export")
    assert not out.exists() or list(out.iterdir()) == []


@pytest.mark.parametrize(("width", "logged"), [(1, 1), (1, 0), (300, 120)])
def test_any_width_compiles_and_agrees_with_the_numpy_engine(width, logged):
    """A one-feature model and one wider than a byte can index, some columns logged or none."""
    rng = np.random.default_rng(width + logged)
    names = tuple(f"x{i}" for i in range(width))
    info = ModelInfo(names, (0.0,) * width, (1.0,) * width, "MEDV", "$1000s", "0" * 64, "test")
    model = NpzModel(
        metadata=info.to_metadata(),
        order=rng.permutation(width).astype(np.int64),
        n_logged=logged,
        log_target=True,
        w1=rng.normal(0, 0.1, (width + 1, 32)).astype(np.float32),
        w2=rng.normal(0, 0.1, 32).astype(np.float32),
        b2=np.array([3.0], dtype=np.float32),
    )
    rows = rng.uniform(0, 5, (64, width)).astype(np.float32)
    wanted = model.runner(len(rows))(rows)
    with ExitStack() as stack:
        found_c = c_forward(stack, *export_c(model, info))(rows)
        found_js = js_forward(stack, export_js(model, info))(rows)
    assert relative_diff(found_c, wanted) < BOUND and relative_diff(found_js, wanted) < BOUND
