from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from houseprice.data import BOSTON_COLUMNS, DataError, bundled_data_path, load_dataset

# From ../shared/datasets/README.md: the bundled copy must be exactly that file.
BOSTON_SHA256 = "baadf72995725d76efe787b664e1f083388c79ba21ef9a7990d87f774184735a"


def test_bundled_file_is_the_published_data_set():
    assert hashlib.sha256(bundled_data_path().read_bytes()).hexdigest() == BOSTON_SHA256


def test_bundled_data_has_named_features_and_target():
    data = load_dataset()
    assert data.features.shape == (506, 13)
    assert data.feature_names == BOSTON_COLUMNS[:-1]
    assert data.target_name == "MEDV"
    assert data.target_unit == "$1000s"
    assert data.sha256 == BOSTON_SHA256
    assert data.target.mean() == pytest.approx(22.5328, abs=1e-4)
    # Spot-check the first row against the published file.
    assert data.features[0, :3] == pytest.approx([0.00632, 18.0, 2.31])
    assert data.target[0] == pytest.approx(24.0)


def test_csv_with_header_and_other_target(tmp_path: Path):
    path = tmp_path / "houses.csv"
    path.write_text("rooms,Age,value\n3,10,100.5\n4,20,200\n5,30,300\n")
    data = load_dataset(path, target="VALUE")  # the target is matched case-insensitively
    assert data.feature_names == ("rooms", "Age")
    assert data.target_name == "value"
    assert data.target_unit == ""
    np.testing.assert_array_equal(data.target, [100.5, 200, 300])
    np.testing.assert_array_equal(data.features[:, 1], [10, 20, 30])


def test_drop_removes_features_case_insensitively():
    data = load_dataset().drop(["b", "CHAS"])
    assert "B" not in data.feature_names and "CHAS" not in data.feature_names
    assert data.features.shape == (506, 11)


def test_drop_unknown_feature_is_an_error():
    with pytest.raises(DataError, match="cannot drop NOPE"):
        load_dataset().drop(["NOPE"])


UCI_ROW = " ".join(["1"] * 14)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", r"empty file"),
        (b"\n  \n", r"empty file"),
        (f"{UCI_ROW}\n1 2 3\n".encode(), r":2: expected 14 whitespace-separated values"),
        (
            f"{UCI_ROW}\n{UCI_ROW.replace('1', 'x', 1)}\n".encode(),
            r":2: column CRIM: 'x' is not a number",
        ),
        (f"{UCI_ROW[:-1]}nan\n".encode(), r":1: column MEDV: 'nan' is not a finite number"),
        (b"a,b\n1,2\n3\n", r":3: expected 2 comma-separated values, found 1"),
        (b"a,b,MEDV\n1,oops,3\n", r":2: column b: 'oops' is not a number"),
        (b"a,b\n1,2\n", r"no target column 'MEDV'"),
        (b"a,b,MEDV\n", r"header row but no data rows"),
        (b"a,a,MEDV\n1,2,3\n", r"column 'a' appears twice"),
        (b"\xff\xfe\x00garbage", r"not UTF-8"),
        (b"a,MEDV\n1e300,3\n", r":2: column a: '1e300' is beyond float32's range"),
        (b"a,MEDV\n1,-3.5e38\n", r":2: column MEDV: '-3.5e38' is beyond float32's range"),
    ],
)
def test_bad_files_name_file_line_and_column(tmp_path: Path, content: bytes, message: str):
    path = tmp_path / "bad.data"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as info:
        load_dataset(path)
    assert str(path) in str(info.value)


def test_missing_file_and_directory(tmp_path: Path):
    with pytest.raises(DataError, match="no such file"):
        load_dataset(tmp_path / "missing.csv")
    with pytest.raises(DataError, match="is a directory"):
        load_dataset(tmp_path)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_loader_never_fails_with_anything_but_data_error(tmp_path_factory, blob: bytes):
    path = tmp_path_factory.mktemp("fuzz") / "blob.csv"
    path.write_bytes(blob)
    try:
        data = load_dataset(path)
    except DataError:
        return
    assert np.isfinite(data.features).all() and np.isfinite(data.target).all()


def test_feature_matrix_orders_columns_by_name():
    data = load_dataset()
    picked = data.feature_matrix(["LSTAT", "CRIM"])
    np.testing.assert_array_equal(picked[:, 0], data.features[:, data.feature_names.index("LSTAT")])
    np.testing.assert_array_equal(picked[:, 1], data.features[:, 0])
    with pytest.raises(DataError, match="no feature GARDEN"):
        data.feature_matrix(["CRIM", "GARDEN"])
