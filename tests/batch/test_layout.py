"""One schema for every partition: features matched in any case and cast to float32 in every file,
passthrough columns carried as they are (Parquet) or as written (CSV), drift named or carried,
never dropped; and a bad later partition is one line naming its file and row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from houseprice.batch.job import run_batch
from houseprice.core.errors import InputError
from tests.batch.conftest import houses, job
from tests.conftest import assert_one_line_error, run_cli


def write(frame: pd.DataFrame, path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)


def read_out(folder, fmt: str = "parquet") -> pd.DataFrame:
    parts = sorted(folder.glob(f"part.*.{fmt}"))
    if fmt == "csv":
        return pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False) for p in parts])
    return pa.concat_tables([pq.read_table(p) for p in parts]).to_pandas()


def test_drift_between_parquet_files_is_carried_not_dropped(client, exported, predictor, tmp_path):
    a, b = houses(predictor, 40, seed=1), houses(predictor, 30, seed=2)
    b = b.rename(columns={"CRIM": "crim"})  # another case for a feature
    b["id"] = [f"x{i}" for i in range(30)]  # an id: integers in one file, text in the other
    b["extra"] = 1.5  # a column only the second file has
    b = b[list(reversed(b.columns))]  # in another order
    write(a, tmp_path / "in" / "a.parquet")
    write(b, tmp_path / "in" / "b.parquet")
    run_batch(job(exported, tmp_path / "in", tmp_path / "out"), client)
    out = read_out(tmp_path / "out")
    assert list(out.columns) == [*a.columns, "extra", "price"]
    assert out["id"].tolist() == [str(i) for i in range(40)] + [f"x{i}" for i in range(30)]
    assert out["extra"].isna().sum() == 40 and (out["extra"].iloc[40:] == 1.5).all()
    assert out["address"].tolist() == a["address"].tolist() + b["address"].tolist()
    x = np.vstack(
        [
            f[list(predictor.feature_names)].to_numpy(np.float32)
            for f in (a, b.rename(columns={"crim": "CRIM"}))
        ]
    )
    np.testing.assert_allclose(out["price"], predictor.predict_array(x), rtol=1e-6)
    assert (out["CRIM"].dtype, out["price"].dtype) == (np.float32, np.float32)
    np.testing.assert_array_equal(out[list(predictor.feature_names)].to_numpy(), x)


def test_csv_values_are_carried_as_written(client, exported, predictor, tmp_path):
    a, b = houses(predictor, 3, seed=3), houses(predictor, 3, seed=4)
    a.insert(0, "house_id", ["02134", "00501", "NA"])
    b.insert(0, "house_id", ["7", "", "0x1F"])
    a["TAX"] = a["TAX"].round().astype(int)  # integers in one file, floats in the other
    write(a, tmp_path / "in" / "a.csv")
    write(b, tmp_path / "in" / "b.csv")
    (tmp_path / "in" / "c.csv").write_text(",".join(a.columns) + "\n")  # a header and no rows
    for fmt in ("csv", "parquet"):
        out_folder = tmp_path / f"out-{fmt}"
        result = run_batch(job(exported, tmp_path / "in", out_folder, format=fmt), client)
        assert (result.rows, result.partitions) == (6, 3)
        out = read_out(out_folder, fmt)
        assert out["house_id"].tolist() == ["02134", "00501", "NA", "7", "", "0x1F"]
        assert out["address"].tolist() == [*a["address"], *b["address"]]


@pytest.mark.parametrize(
    ("damage", "name", "message"),
    [
        (lambda f: f.assign(crim=f["CRIM"]), "b.parquet", "b.parquet: columns 'CRIM' and 'crim' both match feature CRIM"),
        (lambda f: f.drop(columns=["RM"]), "b.csv", "b.csv: no column RM"),
        (lambda f: f.assign(CRIM=f["CRIM"].where(f.index != 2, np.inf)), "b.parquet", "b.parquet: row 3: CRIM: inf is not a finite float32 number"),
        (lambda f: f.assign(CRIM=f["CRIM"].where(f.index != 2, 1e300)), "b.parquet", "b.parquet: row 3: CRIM: 1e+300 is not a finite float32 number"),
        (lambda f: f.assign(RAD=pd.array([1, None, 3, 4, 5], dtype="Int64")), "b.parquet", "b.parquet: row 2: RAD: nan is not a finite float32 number"),
        (lambda f: f.assign(CHAS=[True, False, True, False, True]), "b.parquet", "b.parquet: row 1: CHAS: holds bool, not numbers"),
        (lambda f: f.assign(ZN=["1", "2", "cheap", "4", "5"]), "b.parquet", "b.parquet: row 3: ZN: 'cheap' is not a number"),
        (lambda f: f.assign(ZN=["1", "2", "NA", "4", "5"]), "b.csv", "b.csv:4: ZN: nan is not a finite float32 number"),
        (lambda f: f.assign(INDUS=f["INDUS"].where(f.index != 0, 1e30)), "b.parquet", "b.parquet: row 1: the model gives no finite price"),
    ],
)  # fmt: skip
def test_a_bad_later_partition_names_its_file(
    client, exported, predictor, tmp_path, damage, name, message
):
    suffix = name.split(".")[1]
    write(houses(predictor, 5, seed=5), tmp_path / "in" / f"a.{suffix}")
    write(damage(houses(predictor, 5, seed=6)), tmp_path / "in" / name)
    with pytest.raises(InputError) as caught:
        run_batch(job(exported, tmp_path / "in", tmp_path / "out"), client)
    assert str(caught.value).startswith(str(tmp_path / "in" / message)), caught.value
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


@pytest.mark.parametrize("content", [b"", b"PAR1", b"PAR1 not really PAR1", "truncated"])
def test_a_damaged_later_parquet_file_is_named(client, exported, predictor, tmp_path, content):
    write(houses(predictor, 5), tmp_path / "in" / "a.parquet")
    write(houses(predictor, 500), tmp_path / "in" / "b.parquet")
    bad = tmp_path / "in" / "b.parquet"
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2] + data[-8:] if content == "truncated" else content)
    with pytest.raises(InputError, match=r"b\.parquet: unreadable \(") as caught:
        run_batch(job(exported, tmp_path / "in", tmp_path / "out"), client)
    assert "\n" not in str(caught.value)


def test_a_folder_named_like_a_data_file_is_named(exported, predictor, tmp_path):
    write(houses(predictor, 5), tmp_path / "in" / "a.parquet")
    (tmp_path / "in" / "b.parquet").mkdir()
    result = run_cli(
        "hp-batch", str(tmp_path / "in"), str(tmp_path / "out"), "--model", str(exported.onnx)
    )
    assert_one_line_error(result, 1, "b.parquet: a folder, not a file", "hp-batch")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "damage", "message"),
    [
        ("b.csv", lambda f: f.assign(CRIM=["1", "2", "cheap", "4", "5"]), "b.csv:4: CRIM: 'cheap' is not a number"),
        ("b.parquet", lambda f: f.assign(INDUS=f["INDUS"].where(f.index != 0, 1e30)), "b.parquet: row 1: the model gives no finite price"),
    ],
)  # fmt: skip
def test_worker_errors_reach_the_user_as_one_line(
    exported, predictor, tmp_path, name, damage, message
):
    suffix = name.split(".")[1]
    write(houses(predictor, 5, seed=5), tmp_path / "in" / f"a.{suffix}")
    write(damage(houses(predictor, 5, seed=6)), tmp_path / "in" / name)
    result = run_cli(
        "hp-batch",
        str(tmp_path / "in"),
        str(tmp_path / "out"),
        "--model",
        str(exported.onnx),
        "--local-workers",
        "2",
    )
    assert_one_line_error(result, 1, message, "hp-batch")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]
