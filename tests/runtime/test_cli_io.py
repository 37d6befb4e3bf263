"""hp-infer's output: stdout that is full, closed or left early, -o files written atomically
with their mode kept, destinations that can never be files, and the input never overwritten."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, assert_one_line_error, script
from tests.runtime.conftest import hp_infer as _infer
from tests.runtime.conftest import infer_fails as _fails

HOUSE = json.loads((EXAMPLES / "house.json").read_text())


HOUSES = str(EXAMPLES / "houses.jsonl")


def _into(target: str, *args: str, exported=None, model: Path | None = None):
    """hp-infer with stdout opened on ``target`` (e.g. /dev/full), or closed for None."""
    command = [script("hp-infer"), *args, "--model", str(model or exported.onnx)]
    if target is None:
        return subprocess.run(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            pass_fds=(),
            preexec_fn=lambda: os.close(1),
            timeout=60,
        )
    with open(target, "wb") as sink:
        return subprocess.run(command, stdout=sink, stderr=subprocess.PIPE, timeout=60)


def _one_line(result, code: int, message: str) -> None:
    assert_one_line_error(result, code, message, "hp-infer")


@pytest.mark.parametrize(
    "args", [(HOUSES,), (str(EXAMPLES / "house.json"),), ("--describe",), ("--version",)]
)
def test_a_full_stdout_is_one_line_and_exit_5(exported, args):
    _one_line(_into("/dev/full", *args, exported=exported), 5, "No space left on device")


def test_a_closed_stdout_is_one_line_and_exit_5(exported):
    _one_line(_into(None, HOUSES, exported=exported), 5, "cannot write to stdout: it is closed")
    _one_line(_into(None, "--describe", exported=exported), 5, "it is closed")


def _limit_file_size(limit: int):
    """preexec_fn: files of this process may not grow past ``limit`` bytes (writes beyond fail
    with EFBIG, "File too large": a real write failure, as a full disk gives ENOSPC)."""

    def apply() -> None:
        import resource
        import signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get the error, not the signal
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_failing_output_file_leaves_the_destination_as_it_was(exported, tmp_path):
    out = tmp_path / "prices.jsonl"
    out.write_text("previous prices\n")
    big = tmp_path / "many.jsonl"
    big.write_text((json.dumps(HOUSE) + "\n") * 5000)
    result = subprocess.run(
        [script("hp-infer"), str(big), "-o", str(out), "--model", str(exported.onnx)],
        capture_output=True,
        preexec_fn=_limit_file_size(4096),
        timeout=60,
    )
    _one_line(result, 5, f"cannot write {out}: File too large")
    assert out.read_text() == "previous prices\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["many.jsonl", "prices.jsonl"]


def test_output_paths_that_cannot_be_files(exported, tmp_path):
    house = str(EXAMPLES / "house.json")
    _fails(_infer(exported, house, "-o", str(tmp_path)), 5, "it is a directory")
    _fails(_infer(exported, house, "-o", f"{tmp_path}/new/"), 2, "a file name is needed")
    assert not (tmp_path / "new").exists()
    _fails(_infer(exported, house, "-o", ""), 2, "-o needs a file name")
    _fails(_infer(exported, house, "-o", "/dev/null"), 5, "it is not a regular file")
    assert Path("/dev/null").is_char_device()
    to_stdout = _infer(exported, house, "-o", "-", cwd=tmp_path)
    assert to_stdout.returncode == 0 and b"price" in to_stdout.stdout
    assert not (tmp_path / "-").exists()


def test_output_keeps_the_mode_of_the_file_it_replaces(exported, tmp_path):
    out = tmp_path / "private.json"
    out.write_text("{}")
    out.chmod(0o600)
    assert _infer(exported, str(EXAMPLES / "house.json"), "-o", str(out)).returncode == 0
    assert "price" in out.read_text() and (out.stat().st_mode & 0o777) == 0o600


def test_writing_prices_over_the_input_is_refused(exported, tmp_path, monkeypatch):
    houses = tmp_path / "a.jsonl"
    houses.write_bytes((EXAMPLES / "houses.jsonl").read_bytes())
    (tmp_path / "link.jsonl").symlink_to(houses)
    (tmp_path / "sub").mkdir()
    for output in (str(houses), "./a.jsonl", "sub/../a.jsonl", str(tmp_path / "link.jsonl")):
        _fails(_infer(exported, "a.jsonl", "-o", output, cwd=tmp_path), 2, "is the input file")
    assert houses.read_bytes() == (EXAMPLES / "houses.jsonl").read_bytes()
