"""hp-infer as a user runs it: real subprocesses, exit codes, stdout and stderr."""

from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest

from houseprice.runtime.predictor import Predictor
from tests.conftest import EXAMPLES, run_cli, script
from tests.runtime.conftest import hp_infer as _infer
from tests.runtime.conftest import infer_fails as _fails
from tests.runtime.model_files import sum_model

HOUSE = json.loads((EXAMPLES / "house.json").read_text())
HOUSES = str(EXAMPLES / "houses.jsonl")


def test_example_house_prints_a_price(exported):
    result = _infer(exported, str(EXAMPLES / "house.json"))
    assert result.returncode == 0, result.stderr
    price = json.loads(result.stdout)["price"]
    assert price == pytest.approx(float(Predictor.load(exported.onnx).predict(HOUSE)[0]), abs=1e-4)
    assert result.stderr == b""


def test_jsonl_example_and_stdin(exported):
    from_file = _infer(exported, str(EXAMPLES / "houses.jsonl"))
    from_stdin = _infer(exported, "-", input=(EXAMPLES / "houses.jsonl").read_bytes())
    assert from_file.returncode == 0 and from_file.stdout == from_stdin.stdout
    assert len(from_file.stdout.splitlines()) == len(
        (EXAMPLES / "houses.jsonl").read_text().splitlines()
    )


def test_csv_gets_a_price_column(exported, tmp_path):
    path = tmp_path / "houses.csv"
    path.write_text(",".join(HOUSE) + "\n" + ",".join(str(v) for v in HOUSE.values()) + "\n")
    result = _infer(exported, str(path))
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.decode().splitlines()
    assert header.endswith(",price") and row.startswith(",".join(str(v) for v in HOUSE.values()))


def test_output_file_is_written_atomically(exported, tmp_path):
    out = tmp_path / "prices.jsonl"
    ok = _infer(exported, str(EXAMPLES / "houses.jsonl"), "--output", str(out))
    assert ok.returncode == 0 and ok.stdout == b"" and len(out.read_text().splitlines()) == 10
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes((EXAMPLES / "houses.jsonl").read_bytes() + b'{"CRIM": "x"}\n')
    _fails(_infer(exported, str(bad), "--output", str(out)), 1, "bad.jsonl:11")
    assert len(out.read_text().splitlines()) == 10  # the earlier result is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl", "prices.jsonl"]


def test_late_error_in_a_large_file_leaves_stdout_empty(exported, tmp_path):
    line = json.dumps(HOUSE) + "\n"
    path = tmp_path / "many.jsonl"
    path.write_text(line * 150_000 + '{"CRIM": 1}\n')
    _fails(_infer(exported, str(path)), 1, "many.jsonl:150001: missing feature")


def test_a_reader_that_leaves_early_ends_the_run_quietly(exported, tmp_path):
    path = tmp_path / "many.jsonl"
    path.write_text(
        (json.dumps(HOUSE) + "\n") * 20_000
    )  # ~400 KB of prices: more than a pipe holds
    command = [script("hp-infer"), str(path), "--model", str(exported.onnx)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.read(1) == b"{"
        process.stdout.close()  # as `hp-infer many.jsonl | head -c 1` does
        err = process.stderr.read()
    assert process.returncode == 5 and err == b"", err  # no traceback, no noise


def test_fast_exit_still_flushes_everything(exported, tmp_path):
    path = tmp_path / "few.jsonl"
    path.write_text((json.dumps(HOUSE) + "\n") * 3)
    result = _infer(exported, str(path))  # stdout is a pipe: block-buffered, flushed at exit
    assert result.returncode == 0 and result.stdout.count(b"\n") == 3, result.stderr


def _with(**change) -> bytes:
    return json.dumps({**HOUSE, **change}).encode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            json.dumps({k: v for k, v in HOUSE.items() if k != "RM"}).encode(),
            "<stdin>: missing feature RM",
        ),
        (_with(GARDEN=1), "<stdin>: unknown feature 'GARDEN'"),
        (
            _with(RM="6.5"),
            "<stdin>: RM: expected a number, got the string '6.5' (to accept numbers written as strings: hp-infer --coerce,",
        ),
        (_with(RM=True), "RM: expected a number, got a boolean"),
        (_with(RM=None), "RM: expected a number, got null"),
        (_with(RM={"v": 6}), "RM: expected a number, got an object"),
        (_with(RM=float("nan")), "RM: nan is not a finite"),
        (_with(RM=float("inf")), "RM: inf is not a finite"),
        (b"", "<stdin>: empty input"),
        (b'{"CRIM": ', "malformed JSON"),
        (b"CRIM,ZN\n1,2", "missing column"),
        (b'{"CRIM": "\xe9"}', "not UTF-8"),
    ],
)
def test_every_validation_error_is_one_line_with_exit_1(exported, data, message):
    _fails(_infer(exported, "-", input=data), 1, message)


def test_coerce_flag(exported):
    data = json.dumps({k: str(v) for k, v in HOUSE.items()}).encode()
    _fails(_infer(exported, "-", input=data), 1, "--coerce")
    ok = _infer(exported, "-", "--coerce", input=data)
    assert ok.returncode == 0 and "price" in json.loads(ok.stdout)


def test_extrapolation_is_a_warning(exported):
    result = _infer(exported, "-", input=_with(LSTAT=400))
    assert result.returncode == 0 and "price" in json.loads(result.stdout)
    assert result.stderr.decode().startswith(
        "hp-infer: warning: 1 house(s) have LSTAT outside the training range"
    )


def test_model_problems_exit_3(exported, tmp_path):
    house = str(EXAMPLES / "house.json")
    _fails(
        run_cli("hp-infer", house, "--model", str(tmp_path / "none.onnx")),
        3,
        "no model there; export one",
    )
    (tmp_path / "junk.onnx").write_bytes(b"\x00\x01junk")
    _fails(
        run_cli("hp-infer", house, "--model", str(tmp_path / "junk.onnx")),
        3,
        "not an ONNX model (starts with byte 0x00)",
    )
    (tmp_path / "junk.onnx").write_bytes(b"\x08\x0ajunk")  # an ONNX-like first byte, then junk
    _fails(
        run_cli("hp-infer", house, "--model", str(tmp_path / "junk.onnx")),
        3,
        "not a loadable ONNX model",
    )
    plain = sum_model(tmp_path / "plain.onnx", 13, None)
    _fails(run_cli("hp-infer", house, "--model", str(plain)), 3, "without houseprice metadata")


def test_usage_errors_exit_2(exported, tmp_path):
    _fails(_infer(exported), 2, "missing INPUT")
    _fails(_infer(exported, "x", "--format", "xml"), 2, "--format: invalid choice: 'xml'")
    _fails(_infer(exported, "x", "--margin", "lots"), 2, "'lots' is not a number")
    _fails(_infer(exported, "x", "--bogus"), 2, "unrecognized arguments: --bogus")
    _fails(_infer(exported, "x", "--threads", "0"), 2, "--threads")
    _fails(_infer(exported, str(tmp_path / "absent.json")), 1, "absent.json: no such file")
    _fails(_infer(exported, str(tmp_path)), 1, "is a directory")


def test_unwritable_output_exits_5(exported, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    _fails(
        _infer(exported, str(EXAMPLES / "house.json"), "-o", str(blocker / "out.json")),
        5,
        "cannot write",
    )


def test_version_describe_and_help(exported):
    version = run_cli("hp-infer", "--version")
    assert version.returncode == 0 and version.stdout.startswith(b"hp-infer (houseprice) ")
    described = _infer(exported, "--describe")
    text = described.stdout.decode()
    assert (
        described.returncode == 0
        and "MEDV ($1000s)" in text
        and "LSTAT" in text
        and "sha256" in text
    )
    helped = run_cli("hp-infer", "--help")
    assert helped.returncode == 0 and b"$1000s" in helped.stdout and b"exit codes" in helped.stdout


def test_describe_says_when_a_model_had_no_held_out_test(tmp_path):
    from dataclasses import replace

    from houseprice.train.run import NO_TEST_NOTE
    from tests.runtime.model_files import info, sum_model

    metrics = {"n_train": 506, "n_test": 0, "test": None, "note": NO_TEST_NOTE}
    model = sum_model(
        tmp_path / "all-rows.onnx", 13, replace(info(), metrics=metrics).to_metadata()
    )
    described = run_cli("hp-infer", "--describe", "--model", str(model))
    assert described.returncode == 0, described.stderr
    assert f"test metrics none: {NO_TEST_NOTE}" in described.stdout.decode()


def test_cli_prices_equal_the_predictor(exported):
    lines = (EXAMPLES / "houses.jsonl").read_text().splitlines()
    result = _infer(exported, str(EXAMPLES / "houses.jsonl"))
    got = [json.loads(line)["price"] for line in result.stdout.splitlines()]
    expected = Predictor.load(exported.onnx).predict([json.loads(line) for line in lines])
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_non_finite_flags_are_usage_errors(exported):
    _fails(_infer(exported, "x", "--margin", "nan"), 2, "nan is not a finite number")
    _fails(_infer(exported, "x", "--margin", "inf"), 2, "inf is not a finite number")


def test_threads_and_jobs_are_bounded_by_the_cpus(exported, tmp_path, monkeypatch):
    from houseprice.runtime import cli, infer

    seen: dict[str, int] = {}
    real_load, real_stream = Predictor.load.__func__, infer.infer_stream

    def load(cls, path, *, threads):
        seen["threads"] = threads
        return real_load(cls, path, threads=threads)

    def stream(*args, jobs, **options):
        seen["jobs"] = jobs
        return real_stream(*args, jobs=jobs, **options)

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(Predictor, "load", classmethod(load))
    monkeypatch.setattr(infer, "infer_stream", stream)
    out = tmp_path / "out.jsonl"
    flags = ["--threads", "10000", "-j", "64", "-o", str(out), "--model", str(exported.onnx)]
    cli.run(cli.build_parser().parse_args([HOUSES, *flags]))
    assert seen == {"threads": 2, "jobs": 2} and len(out.read_text().splitlines()) == 10


def test_hostile_models_fail_fast_with_nothing_on_stdout(tmp_path):
    from tests.runtime.model_files import info

    house = str(EXAMPLES / "house.json")
    huge = tmp_path / "huge.onnx"
    with open(huge, "wb") as handle:  # sparse: 2 GB of zeros that take no disk
        handle.truncate(2**31 + 10)
    _fails(run_cli("hp-infer", house, "--model", str(huge)), 3, "more than an ONNX file can hold")
    column = sum_model(tmp_path / "column.onnx", 13, info().to_metadata(), output="column")
    _fails(
        run_cli("hp-infer", house, "--model", str(column)),
        3,
        "expected tensor(float) of shape [batch]",
    )
    twice = sum_model(tmp_path / "twice.onnx", 13, info().to_metadata(), output="twice")
    _fails(
        run_cli("hp-infer", HOUSES, "--model", str(twice)), 3, "for 1 houses, expected one price"
    )
    names = {**info().to_metadata(), "houseprice.feature_names": json.dumps(["CRIM"] * 13)}
    dup = sum_model(tmp_path / "dup.onnx", 13, names)
    _fails(
        run_cli("hp-infer", house, "--model", str(dup)),
        3,
        "damaged houseprice metadata: duplicate feature name CRIM",
    )


def test_a_house_the_model_cannot_price_is_an_error_not_inf(tmp_path):
    from tests.runtime.model_files import info

    model = sum_model(tmp_path / "sum.onnx", 13, info().to_metadata())
    far = {**HOUSE, "INDUS": 3e38, "TAX": 3e38}
    path = tmp_path / "far.json"
    path.write_text(json.dumps(far))
    result = run_cli("hp-infer", str(path), "--model", str(model))
    _fails(
        result,
        1,
        "far.json: the model gives no finite price (inf) for this house; far outside the training range: INDUS=3e+38",
    )


def test_describe_shows_the_declared_signature_and_no_terminal_escapes(exported, tmp_path):
    from tests.runtime.model_files import info

    text = _infer(exported, "--describe").stdout.decode()
    assert "input        'features': float32 (" in text and ", 13)" in text
    assert "output       'price': float32 (" in text
    props = {**info().to_metadata(), "houseprice.target_name": "MEDV\x1b[2J\x07"}
    model = sum_model(tmp_path / "ansi.onnx", 13, props)
    shown = run_cli("hp-infer", "--describe", "--model", str(model))
    assert shown.returncode == 0 and b"\x1b" not in shown.stdout and b"\x07" not in shown.stdout
    assert "MEDV\\x1b[2J\\x07" in shown.stdout.decode()
