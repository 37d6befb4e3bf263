"""runtime/npz_model on its own: the archive it writes and reads back, the checks of an archive's
values, and the runner's arithmetic whatever its block size (hp-infer's tests go through the
Predictor, which never hands the runner more rows than a block)."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest

from houseprice.core.errors import ModelError
from houseprice.runtime.npz_model import FORMAT, NpzModel, from_bytes, to_bytes


def tiny(**changes) -> NpzModel:
    """price = exp(relu(x0 + x1)) over two raw features: small enough to reason about."""
    fields = dict(
        metadata={"b": "2", "a": "1"},
        order=np.array([0, 1], np.intp),
        n_logged=0,
        log_target=True,
        w1=np.array([[1.0], [1.0], [0.0]], np.float32),
        w2=np.array([1.0], np.float32),
        b2=np.array([0.0], np.float32),
    )
    return NpzModel(**{**fields, **changes})


def archive_of(model: NpzModel, **members) -> bytes:
    """The model's archive with some members replaced as they are (no check on the way)."""
    with np.load(io.BytesIO(to_bytes(model)), allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    buffer = io.BytesIO()
    np.savez(buffer, **{**arrays, **members})
    return buffer.getvalue()


def test_an_archive_reads_back_as_the_model_it_was_written_from():
    model = tiny(n_logged=1, log_target=False, order=np.array([1, 0], np.intp))
    back = from_bytes(to_bytes(model), "m.npz")
    assert back.metadata == model.metadata and back.n_logged == 1 and back.log_target is False
    for name in ("order", "w1", "w2", "b2"):
        assert np.array_equal(getattr(back, name), getattr(model, name))


def test_the_same_model_gives_the_same_bytes_whatever_its_metadata_order():
    """An export is reproducible: the metadata is written with its keys sorted."""
    forwards = to_bytes(tiny(metadata={"a": "1", "b": "2"}))
    backwards = to_bytes(tiny(metadata={"b": "2", "a": "1"}))
    assert forwards == backwards
    with np.load(io.BytesIO(forwards), allow_pickle=False) as npz:
        assert str(npz["metadata"]) == '{"a": "1", "b": "2"}'
        assert str(npz["format"]) == FORMAT


def test_another_format_is_named_in_at_most_40_characters():
    data = archive_of(tiny(), format=np.array("y" * 39 + "z" * 100))
    with pytest.raises(ModelError) as e:
        from_bytes(data, "m.npz")
    assert str(e.value) == (
        f"m.npz: a numpy archive of format {'y' * 39 + 'z'!r}, this runtime reads {FORMAT!r}"
    )


@pytest.mark.parametrize("metadata", [[], ["a"], {"a": 1}, {"a": None}, "text"])
def test_metadata_that_is_not_a_string_mapping_is_refused(metadata):
    data = archive_of(tiny(), metadata=np.array(json.dumps(metadata)))
    with pytest.raises(ModelError) as e:
        from_bytes(data, "m.npz")
    assert str(e.value) == "m.npz: damaged model archive: metadata is not a string mapping"


@pytest.mark.parametrize("n_logged", [0, 1, 2])
def test_n_logged_from_none_to_every_feature_reads(n_logged):
    assert from_bytes(to_bytes(tiny(n_logged=n_logged)), "m.npz").n_logged == n_logged


@pytest.mark.parametrize("n_logged", [-1, 3])
def test_n_logged_beyond_the_features_is_refused(n_logged):
    with pytest.raises(ModelError) as e:
        from_bytes(to_bytes(tiny(n_logged=n_logged)), "m.npz")
    assert str(e.value) == f"m.npz: damaged model archive: n_logged is {n_logged} for 2 features"


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")  # pytest's filters replace ours
@pytest.mark.parametrize("rows", [1, 2])  # the one-house path and numpy's
def test_a_log_price_beyond_float32_is_infinite_not_an_overflow_error(rows):
    """exp(1000) overflows: float32 infinity (refused later as no finite price), never Python's
    OverflowError from math.exp."""
    run = tiny().runner(1024)
    prices = run(np.full((rows, 2), 500.0, np.float32))
    assert prices.dtype == np.float32 and np.isposinf(prices).all()
    assert run(np.array([[2.0, 3.0]], np.float32))[0] == np.float32(np.exp(5.0))


@pytest.fixture(scope="module")
def shared(exported):
    return from_bytes(exported.npz.read_bytes(), "model.npz")


@pytest.mark.parametrize("rows", [2, 40, 64, 65, 200])  # numpy's few-rows and many-rows paths
def test_a_block_smaller_than_the_rows_prices_as_a_block_that_holds_them(shared, boston, rows):
    """More rows than a block: the floors (ReLU, the log's) are taken against a scalar."""
    rng = np.random.default_rng(rows)
    x = boston.features[rng.integers(0, len(boston.features), rows)].astype(np.float32)
    x[::3] *= np.float32(0.2)  # below 1, where the log's floor bites
    small, large = shared.runner(1)(x), shared.runner(1024)(x)
    assert small.dtype == np.float32 and small.shape == (rows,)
    np.testing.assert_allclose(small, large, rtol=1e-6, atol=0)


def test_a_model_with_a_nan_weight_is_named():
    bad = np.array([[1.0], [np.nan], [0.0]], np.float32)
    with pytest.raises(ModelError, match=re.escape("damaged model archive: w1 holds NaN")):
        from_bytes(to_bytes(tiny(w1=bad)), "m.npz")
