"""The hp-infer pipeline in-process: formats, chunking, error locations, and fuzzing."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from houseprice.runtime import InputError, MalformedInputError, uniform_lines
from houseprice.runtime.predictor import Predictor
from houseprice.runtime.readers import Format
from tests.runtime.conftest import as_csv as _csv
from tests.runtime.conftest import as_jsonl as _jsonl
from tests.runtime.conftest import run_pipeline as _run
from tests.runtime.model_files import NAMES


def _expected(predictor, houses) -> list[float]:
    return np.round(predictor.predict(houses).astype(np.float64), 5).tolist()


def test_object_array_jsonl_and_csv_mirror_their_input(predictor, houses):
    expected = _expected(predictor, houses)
    out, summary = _run(predictor, json.dumps(houses[0], indent=2).encode())
    assert json.loads(out) == {"price": expected[0]} and summary.format is Format.json
    out, _ = _run(predictor, json.dumps(houses).encode())
    assert json.loads(out) == [{"price": p} for p in expected]
    out, summary = _run(predictor, _jsonl(houses))
    assert [json.loads(line) for line in out.splitlines()] == [{"price": p} for p in expected]
    assert summary.format is Format.jsonl and summary.houses == 20
    out, summary = _run(predictor, _csv(houses), "houses.csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == [*houses[0].keys(), "price"]
    assert [float(r[-1]) for r in rows[1:]] == expected
    assert [float(v) for v in rows[1][:-1]] == list(houses[0].values())


def test_uniform_json_lines_take_the_vectorised_path_with_the_same_answer(
    predictor, houses, monkeypatch
):
    data, expected = _jsonl(houses), _expected(predictor, houses)
    calls = []
    real = uniform_lines.parse_uniform_lines
    monkeypatch.setattr(
        uniform_lines, "parse_uniform_lines", lambda *a: calls.append(real(*a)) or calls[-1]
    )
    vectorised, _ = _run(predictor, data, "in.jsonl")
    assert calls and calls[0] is not None, "json.dumps lines should take the vectorised path"
    assert [json.loads(line) for line in vectorised.splitlines()] == [
        {"price": p} for p in expected
    ]
    monkeypatch.setattr(uniform_lines, "parse_uniform_lines", lambda *a: None)  # json only
    assert _run(predictor, data, "in.jsonl")[0] == vectorised


def _split_prices(out: str) -> tuple[list, list[float]]:
    """JSON Lines or CSV output as (everything but the prices, the prices)."""
    if out.startswith("{"):
        return [], [json.loads(line)["price"] for line in out.splitlines()]
    header, *rows = csv.reader(io.StringIO(out))
    return [header, *(row[:-1] for row in rows)], [float(row[-1]) for row in rows]


def _assert_same_printed_prices(got: str, want: str) -> None:
    """Equal but for float32 rounding of each price, plus one unit of its printed 5th decimal.

    onnxruntime rounds a few rows differently by the batch's row count, and a chunk is a batch.
    """
    (got_rest, got_prices), (want_rest, want_prices) = _split_prices(got), _split_prices(want)
    assert got_rest == want_rest and len(got_prices) == len(want_prices)
    assert got_prices == pytest.approx(want_prices, rel=1e-6, abs=1.01e-5)


@pytest.mark.parametrize("chunk_rows", [1, 3, 7, 64])
def test_chunking_does_not_change_the_answer(predictor, houses, chunk_rows):
    whole, _ = _run(predictor, _jsonl(houses))
    chunked, _ = _run(predictor, _jsonl(houses), chunk_rows=chunk_rows)
    _assert_same_printed_prices(chunked, whole)
    csv_whole, _ = _run(predictor, _csv(houses), "x.csv")
    csv_chunked, _ = _run(predictor, _csv(houses), "x.csv", chunk_rows=chunk_rows)
    _assert_same_printed_prices(csv_chunked, csv_whole)
    array_out, _ = _run(predictor, json.dumps(houses).encode(), chunk_rows=chunk_rows)
    assert len(json.loads(array_out)) == 20


def test_errors_name_the_line_even_across_chunks(predictor, houses):
    lines = [json.dumps(h) for h in houses]
    lines[13] = lines[13].replace('"RM": ', '"RM": "x", "_": ')
    data = ("\n".join(lines[:5]) + "\n\n" + "\n".join(lines[5:]) + "\n").encode()  # a blank line 6
    with pytest.raises(InputError, match=r"^in:15: RM: expected a number, got the string 'x'"):
        _run(predictor, data, chunk_rows=4)
    with pytest.raises(InputError, match=r"^in:3: malformed JSON"):
        _run(predictor, b"\n".join([_jsonl(houses[:1]).strip()] * 2) + b"\n{oops}\n", chunk_rows=2)


def test_blank_lines_and_crlf_are_fine(predictor, houses):
    data = _jsonl(houses[:3]).replace(b"\n", b"\r\n\r\n")
    out, summary = _run(predictor, data, "in.jsonl")
    assert summary.houses == 3 and len(out.splitlines()) == 3


def test_two_objects_on_one_line_is_an_error(predictor, houses):
    one = json.dumps(houses[0])
    with pytest.raises(InputError, match=r"^in.jsonl:2: malformed JSON: Extra data"):
        _run(predictor, f"{one}\n{one}, {one}\n".encode(), "in.jsonl")


@pytest.mark.parametrize(
    ("data", "name", "message", "malformed"),
    [
        (b"", "in", "empty input", True),
        (b"  \n\n", "in", "empty input", True),
        (b"[]", "in", "empty array", True),
        (b"42", "in.json", "expected a JSON object or an array", True),
        (b'{"CRIM": 1,', "in", "in:1: malformed JSON", True),
        (b'{"CRIM": [[[[' * 100_000, "in", "nested too deeply", True),
        (b'[{"CRIM": 1}, 3]', "in", r"\$\[0\]: missing feature ZN", False),
        (b"[1]", "in", r"\$\[0\]: expected an object of feature values, got int", False),
        (b'{"CRIM": \xff}', "in", "not UTF-8", True),
        (b'{"CRIM": "malformed JSON"}', "in", "CRIM: expected a number", False),
        (b"CRIM,ZN\n1,2\n", "in.csv", "in.csv:1: missing column INDUS", False),
        (b"CRIM,GARDEN\n1,2\n", "in.csv", "in.csv:1: unknown column 'GARDEN'", False),
        (b"a\n", "in.csv", "unknown column 'a'", False),
        (b'"unclosed\n', "in.csv", "malformed CSV", True),
        (b"CRIM,CRIM\n", "in.csv", "appears twice", False),
    ],
)
def test_input_errors(predictor, data, name, message, malformed):
    """Malformed input (no house can be read) is its own type: hp-serve answers it 400, not 422."""
    with pytest.raises(InputError, match=message) as caught:
        _run(predictor, data, name)
    assert isinstance(caught.value, MalformedInputError) is malformed


def test_csv_cell_errors(predictor, houses):
    data = _csv(houses[:4]).decode().splitlines()
    data[3] = data[3].replace(data[3].split(",")[5], "six", 1)
    with pytest.raises(InputError, match=r"^x.csv:4: RM: 'six' is not a number"):
        _run(predictor, ("\n".join(data) + "\n").encode(), "x.csv")
    with pytest.raises(MalformedInputError, match=r"^x.csv:3: 2 values, the header has 13"):
        _run(predictor, _csv(houses[:1]) + b"1,2\n", "x.csv")
    with pytest.raises(MalformedInputError, match="a header row but no houses"):
        _run(predictor, _csv(houses[:1]).splitlines()[0] + b"\n", "x.csv")
    nan = _csv(houses[:2]).replace(b"\r\n", b"\n").splitlines()
    nan[2] = b"nan" + nan[2][nan[2].index(b",") :]
    with pytest.raises(InputError, match=r"x.csv:3: CRIM: nan is not a finite"):
        _run(predictor, b"\n".join(nan) + b"\n", "x.csv")


def test_out_of_range_values_are_reported_not_rejected(predictor, houses):
    far = [dict(h) for h in houses[:3]]
    far[1]["LSTAT"] = 500.0
    _, summary = _run(predictor, _jsonl(far), "far.jsonl")
    assert [(r.feature, r.count, r.first) for r in summary.out_of_range] == [
        ("LSTAT", 1, "far.jsonl:2")
    ]
    _, summary = _run(predictor, _jsonl(houses), "ok.jsonl")
    assert summary.out_of_range == []


def _with_repeat(house: dict[str, float], key: str = "CRIM", text: str = "99") -> str:
    """The house as one JSON line with ``key`` given a second time, last."""
    return json.dumps(house)[:-1] + f', "{key}": {text}}}'


@pytest.mark.parametrize("key", ["CRIM", "crim"])
def test_a_feature_given_twice_is_an_error_in_every_shape(predictor, houses, key):
    twice = _with_repeat(houses[0], key)
    cases = [
        (twice, "in.json", r"^in.json: feature CRIM given twice"),
        (
            f"[{json.dumps(houses[1])}, {twice}]",
            "in.json",
            r"^in.json: \$\[1\]: feature CRIM given",
        ),
        (f"{json.dumps(houses[1])}\n{twice}\n", "in.jsonl", r"^in.jsonl:2: feature CRIM given"),
        (f"{twice}\n{twice}\n", "in.jsonl", r"^in.jsonl:1: feature CRIM given twice"),  # uniform
    ]
    for text, name, message in cases:
        with pytest.raises(InputError, match=message):
            _run(predictor, text.encode(), name)
        with pytest.raises(InputError, match=message.replace("in.json", "in.jsonl", 0)):
            _run(predictor, text.encode(), name, chunk_rows=1)


def test_colons_inside_keys_do_not_hide_or_invent_repeats(predictor, houses):
    """The repeat check counts ':' per line; a ':' in a key only sends the line to the exact
    check, which must then accept a house without repeats and still see a real one."""
    odd = json.dumps(houses[0])[:-1] + ', "a:b": 1}'
    with pytest.raises(InputError, match=r"in.jsonl:1: unknown feature 'a:b'"):
        _run(predictor, f"{odd}\n{odd}\n".encode(), "in.jsonl")
    out, _ = _run(predictor, _jsonl(houses[:2]), "in.jsonl")
    assert len(out.splitlines()) == 2


@pytest.mark.parametrize("name", ["<stdin>", "in.csv", "in.jsonl"])
def test_leading_blank_lines_keep_their_line_numbers(predictor, houses, name):
    body = _csv(houses[:2]).replace(b"\r\n", b"\n") if name != "in.jsonl" else _jsonl(houses[:2])
    fmt = {"<stdin>": None, "in.csv": None, "in.jsonl": None}[name]
    _, summary = _run(predictor, b"\n \r\n" + body, name, fmt=fmt)
    assert summary.houses == 2 and summary.format is (
        Format.jsonl if "jsonl" in name else Format.csv
    )
    broken = b"\n\n" + body.replace(b"\n", b"\nx\n", 1) if name != "in.jsonl" else b"\n\n{oops}\n"
    with pytest.raises(InputError, match=rf"^{name}:[34]: "):
        _run(predictor, broken, name)


def test_json_lines_in_a_json_file_get_a_hint(predictor, houses):
    with pytest.raises(InputError, match=r"in.json:2: malformed JSON: Extra data .*--format jsonl"):
        _run(predictor, _jsonl(houses[:2]), "in.json")
    out, summary = _run(predictor, _jsonl(houses[:2]), "in.json", fmt=Format.jsonl)
    assert summary.format is Format.jsonl and len(out.splitlines()) == 2


@pytest.mark.parametrize("name", ["in.json", "in.jsonl"])
def test_absurd_numbers_and_nesting_are_input_errors(predictor, houses, name):
    line = json.dumps(houses[0])

    def document(first: str) -> bytes:  # two houses, as an array or as two lines
        return (f"[{first}, {line}]" if name == "in.json" else f"{first}\n{line}\n").encode()

    for digits, message in [
        (400, "an integer of 400 digits is too large"),
        (5000, "unreadable JSON number"),
    ]:
        text = line.replace(json.dumps(houses[0]["TAX"]), "9" * digits, 1)
        with pytest.raises(InputError) as caught:
            _run(predictor, document(text), name)
        assert message in str(caught.value) and len(str(caught.value)) < 200, caught.value
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(InputError, match=r"nested too deeply|malformed JSON"):
        _run(predictor, document(f'{{"CRIM": {deep}}}'), name)
    with pytest.raises(InputError, match=r"nested too deeply|malformed JSON"):
        _run(predictor, f"{deep}\n".encode(), name)


def test_echoed_values_are_capped(predictor, houses):
    long = dict(houses[0], RM="x" * 5000)
    with pytest.raises(InputError) as caught:
        _run(predictor, _jsonl([long]), "in.jsonl", coerce=True)
    assert "'xxxxxxxx" in str(caught.value) and len(str(caught.value)) < 120
    rows = _csv([long]).decode()
    with pytest.raises(InputError) as caught:
        _run(predictor, rows.encode(), "in.csv")
    assert "..." in str(caught.value) and len(str(caught.value)) < 120
    with pytest.raises(InputError) as caught:
        _run(predictor, _jsonl([{**houses[0], "k" * 5000: 1}]), "in.jsonl")
    assert "unknown feature 'kkkk" in str(caught.value) and len(str(caught.value)) < 300


def test_a_non_finite_price_names_the_line(tmp_path):
    from tests.runtime.model_files import info, sum_model

    summer = Predictor.load(sum_model(tmp_path / "sum.onnx", 13, info().to_metadata()))
    base = dict.fromkeys(NAMES, 0.5)
    far = {**base, "INDUS": 3e38, "TAX": 3e38}
    for name, chunk_rows in [("in.jsonl", 1), ("in.jsonl", 16), ("in.json", 16)]:
        data = _jsonl([base, base, far]) if name.endswith("l") else json.dumps([base, far]).encode()
        where = "in.jsonl:3" if name.endswith("l") else r"in.json: \$\[1\]"
        with pytest.raises(InputError, match=rf"^{where}: the model gives no finite price \(inf\)"):
            _run(summer, data, name, chunk_rows=chunk_rows)
