"""hp-batch names a bad CSV cell in hp-infer's words and by hp-infer's line, blank lines and values
quoted over two lines included, so the same file gets the same message through either door."""

from __future__ import annotations

import io

import pytest

from houseprice.batch.csv_lines import CsvLines
from houseprice.batch.job import run_batch
from houseprice.core.errors import InputError
from houseprice.runtime.infer import infer_stream
from houseprice.runtime.readers import wrap_text
from tests.batch.conftest import houses, job

# A header, a blank line, a house whose CRIM is quoted over two lines, a whitespace-only line,
# then the bad cell on line 8.
ROWS = [None, "", "QUOTED", " ", "ok", "ok", "cheap"]


def _awkward_csv(predictor, bad: str) -> bytes:
    frame = houses(predictor, 4, seed=8)[list(predictor.schema.names)]
    lines, body = [",".join(frame.columns)], iter(frame.itertuples(index=False))
    for kind in ROWS[1:]:
        if kind in ("", " "):
            lines.append(kind)
            continue
        cells = [repr(float(v)) for v in next(body)]
        if kind == "QUOTED":
            cells[0] = f'"{cells[0]}\n"'  # a value over two lines: float() and pandas read it
        if kind == "cheap":
            cells[0] = bad
        lines.append(",".join(cells))
    return ("\n".join(lines) + "\n").encode()


def test_lines_are_counted_as_hp_infer_counts_them(predictor, tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(_awkward_csv(predictor, "1.5"))
    locate = CsvLines(str(path))
    assert [locate(i) for i in range(4)] == [f"{path}:{n}" for n in (4, 6, 7, 8)]
    assert locate(4) == f"{path}: row 5"  # beyond the file pandas read: its row, not a wrong line


def test_an_unreadable_file_still_names_its_row(tmp_path):
    assert CsvLines(str(tmp_path / "gone.csv"))(2) == f"{tmp_path / 'gone.csv'}: row 3"


@pytest.mark.parametrize("bad", ["cheap", "NA"])
def test_a_bad_cell_gets_the_same_line_from_hp_batch_and_hp_infer(
    client, exported, predictor, tmp_path, bad
):
    data = _awkward_csv(predictor, bad)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_bytes(data)
    with pytest.raises(InputError) as by_batch:
        run_batch(job(exported, tmp_path / "in", tmp_path / "out"), client)
    with pytest.raises(InputError) as by_infer:
        infer_stream(predictor, wrap_text(data), str(tmp_path / "in" / "a.csv"), io.BytesIO())
    assert str(by_batch.value).startswith(f"{tmp_path / 'in' / 'a.csv'}:8: CRIM: ")
    if bad == "cheap":  # hp-infer reads NA as a string, hp-batch as missing: their words differ
        assert str(by_batch.value) == str(by_infer.value)
