"""The numpy backend: model.npz prices as the ONNX file does, through the same Predictor, with
the same validation, warnings and refusals; a damaged archive is exit 3 in one line."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from houseprice.core.errors import InputError, ModelError
from houseprice.runtime.predictor import Predictor
from tests.conftest import EXAMPLES, printed_prices, run_cli
from tests.runtime.conftest import infer_fails


@pytest.fixture(scope="module")
def pair(exported):
    return Predictor.load(exported.onnx), Predictor.load(exported.npz)


@pytest.mark.parametrize("rows", [1, 2, 63, 64, 65, 1024, 1025, 5000])
def test_npz_prices_as_onnxruntime_does_for_any_row_count(pair, boston, rows):
    onnx_model, npz_model = pair
    rng = np.random.default_rng(rows)
    base = boston.features[rng.integers(0, len(boston.features), rows)]
    x = (base * rng.uniform(0.8, 1.2, base.shape)).astype(np.float32)
    got, want = npz_model.predict_array(x), onnx_model.predict_array(x)
    assert got.dtype == np.float32 and got.shape == (rows,)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=0)
    # same input, same engine: same output
    assert np.array_equal(npz_model.predict_array(x), got)


def test_npz_has_the_same_facts_signature_and_dict_api(pair):
    onnx_model, npz_model = pair
    assert npz_model.info == onnx_model.info
    assert npz_model.signature() == {
        "inputs": [{"name": "features", "type": "tensor(float)", "shape": ["batch", 13]}],
        "outputs": [{"name": "price", "type": "tensor(float)", "shape": ["batch"]}],
    }
    assert (npz_model.engine, onnx_model.engine) == ("numpy", "onnxruntime")
    house = json.loads((EXAMPLES / "house.json").read_text())
    np.testing.assert_allclose(npz_model.predict(house), onnx_model.predict(house), rtol=1e-6)


def test_npz_refuses_what_onnx_refuses(pair):
    for model in pair:
        with pytest.raises(InputError, match="row 1: the model gives no finite price"):
            model.predict_array(np.array([[1.0] * 13, [3e38] * 13], np.float32))
        with pytest.raises(InputError, match="row 0: CRIM: nan is not a finite"):
            model.predict_array(np.array([[np.nan] + [1.0] * 12], np.float32))


def test_hp_infer_runs_npz_with_the_same_output_and_warnings(exported, tmp_path):
    houses = tmp_path / "far.jsonl"
    house = json.loads((EXAMPLES / "house.json").read_text())
    houses.write_text(json.dumps(house) + "\n" + json.dumps({**house, "CRIM": 500.0}) + "\n")
    results = [
        run_cli("hp-infer", str(houses), "--model", str(m)) for m in (exported.onnx, exported.npz)
    ]
    assert [r.returncode for r in results] == [0, 0]
    warnings = [
        r.stderr.decode().replace(str(m), "M")
        for r, m in zip(results, (exported.onnx, exported.npz), strict=True)
    ]
    assert warnings[0] == warnings[1] and "CRIM" in warnings[0]
    prices = [printed_prices(r) for r in results]
    np.testing.assert_allclose(prices[1], prices[0], rtol=2e-6)  # 5 significant digits printed


def test_describe_says_an_npz_needs_no_onnxruntime(exported):
    result = run_cli("hp-infer", "--describe", "--model", str(exported.npz))
    assert result.returncode == 0
    assert b"runs on      numpy alone (no onnxruntime needed)" in result.stdout
    result = run_cli("hp-infer", "--describe", "--model", str(exported.onnx))
    assert b"runs on      onnxruntime >= 1.14" in result.stdout


def _arrays(exported) -> dict[str, np.ndarray]:
    with np.load(exported.npz, allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def _saved(arrays: dict[str, np.ndarray], **kwargs) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays, **kwargs)
    return buffer.getvalue()


def _damaged(exported, case: str) -> bytes:
    arrays = _arrays(exported)
    metadata = json.loads(str(arrays["metadata"]))
    if case == "truncated":
        return exported.npz.read_bytes()[:2000]
    if case == "missing member":
        del arrays["w2"]
    elif case == "unknown member":
        arrays["extra"] = np.zeros(1)
    elif case == "wrong shape":
        arrays["w1"] = arrays["w1"][:, :-1]
    elif case == "wrong dtype":
        arrays["w1"] = arrays["w1"].astype(np.int32)
    elif case == "object array":
        buffer = io.BytesIO()
        np.savez(buffer, **{**arrays, "w2": np.array([object()], dtype=object)})
        return buffer.getvalue()
    elif case == "non-finite weight":
        arrays["w1"] = arrays["w1"].copy()
        arrays["w1"][3, 5] = np.nan
    elif case == "not a permutation":
        arrays["order"] = np.zeros_like(arrays["order"])
    elif case == "other format":
        arrays["format"] = np.array("something-else/1")
    elif case == "metadata not json":
        arrays["metadata"] = np.array("{not json")
    elif case == "metadata breaks the contract":
        del metadata["houseprice.target_name"]
        arrays["metadata"] = np.array(json.dumps(metadata))
    elif case == "fewer features in metadata":
        for key in ("feature_names", "feature_min", "feature_max"):
            values = json.loads(metadata["houseprice." + key])
            metadata["houseprice." + key] = json.dumps(values[:-1])
        arrays["metadata"] = np.array(json.dumps(metadata))
    return _saved(arrays)


DAMAGE = {
    "truncated": "damaged model archive",
    "missing member": "not a houseprice model archive (no w2)",
    "unknown member": "an unknown member 'extra'",
    "wrong shape": "weights of shapes",
    "wrong dtype": "w1 is int32",
    "object array": "damaged model archive",
    "non-finite weight": "w1 holds NaN or infinity",
    "not a permutation": "order is not a permutation",
    "other format": "this runtime reads 'houseprice-npz/1'",
    "metadata not json": "metadata is not JSON",
    "metadata breaks the contract": "damaged houseprice metadata: no target_name",
    "fewer features in metadata": "weights for 13 features, but its metadata lists 12",
}


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_a_damaged_archive_is_a_model_error(exported, case):
    data = _damaged(exported, case)
    with pytest.raises(ModelError, match=DAMAGE[case].replace("(", r"\(").replace(")", r"\)")):
        Predictor(data, source="m.npz")


def test_a_pickle_inside_is_never_unpickled(exported, tmp_path):
    marker = tmp_path / "unpickled"
    arrays = _arrays(exported)

    class Boom:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, array in arrays.items():
            item = io.BytesIO()
            np.save(
                item, array if name != "w2" else np.array([Boom()], dtype=object), allow_pickle=True
            )
            archive.writestr(name + ".npy", item.getvalue())
    with pytest.raises(ModelError, match="damaged model archive"):
        Predictor(buffer.getvalue(), source="m.npz")
    assert not marker.exists()


@pytest.mark.parametrize("case", ["truncated", "object array", "wrong shape"])
def test_hp_infer_on_a_damaged_archive_is_exit_3_in_one_line(exported, tmp_path, case):
    path = tmp_path / "model.npz"
    path.write_bytes(_damaged(exported, case))
    result = run_cli("hp-infer", str(EXAMPLES / "house.json"), "--model", str(path))
    infer_fails(result, 3, str(path))


def test_an_overflowing_house_is_one_line_and_no_numpy_warning(exported):
    house = {name: 3e38 for name in Predictor.load(exported.npz).feature_names}
    for rows in (1, 100):  # the few-rows and the many-rows arithmetic
        body = "\n".join([json.dumps(house)] * rows).encode()
        result = run_cli(
            "hp-infer", "-", "--format", "jsonl", "--model", str(exported.npz), input=body
        )
        infer_fails(result, 1, "the model gives no finite price")


@given(data=st.data())
@settings(max_examples=300, deadline=None)
def test_the_one_house_path_is_the_few_rows_arithmetic_within_float32_rounding(
    npz_runner, npz_ranges, data
):
    """Houses up to a span beyond the training range on either side (the range the ONNX parity
    bound holds on); one row takes the scalar path, two rows numpy throughout."""
    row = [
        data.draw(st.floats(lo - (hi - lo), hi + (hi - lo)) | st.just(lo)) for lo, hi in npz_ranges
    ]
    x = np.array([row], np.float32)
    one, few = npz_runner(x), npz_runner(np.repeat(x, 2, axis=0))[:1]
    assert one.dtype == np.float32 and one.shape == (1,)
    np.testing.assert_allclose(one, few, rtol=2e-6, atol=0)


@pytest.fixture(scope="module")
def npz_ranges(exported):
    info = Predictor.load(exported.npz).info
    return list(zip(info.feature_min, info.feature_max, strict=True))


@pytest.fixture(scope="module")
def npz_runner(exported):
    from houseprice.runtime.npz_model import from_bytes

    return from_bytes(exported.npz.read_bytes(), "m").runner(1024)


def test_the_one_house_path_keeps_a_non_finite_price_non_finite(npz_runner):
    """Overflow in float32 comes out inf or NaN (which one depends on the summation order, as
    between engines); either is refused, and neither may become a finite price."""
    for value in (3e38, -3e38):
        x = np.full((1, 13), value, np.float32)
        assert not np.isfinite(npz_runner(x)[0])
        assert not np.isfinite(npz_runner(np.repeat(x, 2, axis=0))[0])


@pytest.mark.parametrize("rows", [1, 2, 2000])  # the one-house, few-rows and many-rows paths
def test_an_overflowing_house_is_refused_when_warnings_are_errors(pair, rows):
    """A caller that turns warnings into errors (pytest's `-W error`, a strict test suite) gets
    the same refusal as anyone else, not numpy's RuntimeWarning from inside the arithmetic."""
    import warnings

    onnx, npz = pair
    x = np.full((rows, npz.info.n_features), 3e38, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for predictor in (onnx, npz):
            with pytest.raises(InputError, match="the model gives no finite price"):
                predictor.predict_array(x)
