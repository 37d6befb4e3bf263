from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from houseprice.export.cli import app
from tests.conftest import loaded_by, run_cli, script

runner = CliRunner()


def _error(result, code: int, pattern: str, out: Path) -> None:
    """One error line, the exit code, and no model written where the export was sent."""
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hp-export: error: ") and pattern in lines[0], (
        result.stderr
    )
    assert not (out / "model.onnx").exists() and not (out / "manifest.json").exists()


def test_defaults_export_onnx_from_artifacts(exported, tmp_path, monkeypatch):
    """`hp-export --format onnx` exactly as written: artifacts/checkpoint.pt -> artifacts/model.onnx."""
    (tmp_path / "artifacts").mkdir()
    shutil.copy(exported.checkpoint, tmp_path / "artifacts" / "checkpoint.pt")
    result = run_cli("hp-export", "--format", "onnx", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert b"onnx" in result.stdout and b"pass" in result.stdout
    written = sorted(p.name for p in (tmp_path / "artifacts").iterdir())
    assert written == ["checkpoint.pt", "manifest.json", "model.onnx"]
    assert result.stderr == b"", result.stderr  # no exporter noise


@pytest.mark.parametrize("kind", ["missing", "corrupt", "incompatible"])
def test_checkpoint_errors(exported, tmp_path, kind):
    path = tmp_path / "checkpoint.pt"
    if kind == "corrupt":
        path.write_bytes(exported.checkpoint.read_bytes()[:300])
    elif kind == "incompatible":
        payload = torch.load(exported.checkpoint, weights_only=True)
        payload["format"] = 0
        torch.save(payload, path)
    result = runner.invoke(app, ["--checkpoint", str(path), "--out", str(tmp_path)])
    _error(
        result,
        3,
        {
            "missing": "no checkpoint there",
            "corrupt": "not a readable checkpoint",
            "incompatible": "retrain",
        }[kind],
        tmp_path,
    )


def test_unknown_format_and_unwritable_output(exported, tmp_path):
    result = runner.invoke(app, ["--format", "coreml", "--checkpoint", str(exported.checkpoint)])
    assert result.exit_code == 2 and "coreml" in result.output
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = runner.invoke(
        app, ["--checkpoint", str(exported.checkpoint), "--out", str(blocker / "x")]
    )
    _error(result, 5, "cannot write", blocker / "x")


def test_parity_failure_exits_4_through_the_cli(exported, tmp_path, monkeypatch):
    from houseprice.export import onnx_export
    from tests.export.test_export import _corrupt_first_weight

    real = onnx_export.export_onnx
    monkeypatch.setattr(onnx_export, "export_onnx", lambda *a: _corrupt_first_weight(real(*a)))
    result = runner.invoke(app, ["--checkpoint", str(exported.checkpoint), "--out", str(tmp_path)])
    _error(result, 4, "disagrees with PyTorch", tmp_path)
    # the gate's table is printed on a failure too, the failing row last
    table = result.stdout.strip().splitlines()
    assert table[0].startswith("format") and table[-1].startswith("onnx")
    assert table[-1].endswith("FAIL"), result.stdout
    assert "still holds the previous export" not in result.stderr  # no previous export there


def test_a_failed_export_says_out_holds_the_previous_one(exported, tmp_path, monkeypatch):
    from houseprice.export import npz_export

    ok = runner.invoke(
        app, ["-f", "npz", "--checkpoint", str(exported.checkpoint), "--out", str(tmp_path)]
    )
    assert ok.exit_code == 0, ok.output
    before = (tmp_path / "model.npz").read_bytes()
    real = npz_export.fused_arrays

    def skewed(fused, info):
        arrays = real(fused, info)
        return type(arrays)(**{**arrays.__dict__, "b2": arrays.b2 + 1.0})

    monkeypatch.setattr(npz_export, "fused_arrays", skewed)
    result = runner.invoke(
        app, ["-f", "all", "--checkpoint", str(exported.checkpoint), "--out", str(tmp_path)]
    )
    assert result.exit_code == 4, result.output
    assert (
        f"({tmp_path} still holds the previous export, from the checkpoint its manifest.json"
        in (" ".join(result.stderr.split()))
    )
    assert (tmp_path / "model.npz").read_bytes() == before
    rows = [line.split()[0] for line in result.stdout.strip().splitlines()[1:]]
    assert rows == ["onnx", "torchscript", "ort", "npz"], result.stdout


def test_a_full_stdout_is_exit_5_after_a_complete_export(exported, tmp_path):
    with open("/dev/full", "wb") as full:
        result = subprocess.run(
            # npz: the cheapest format to convert (the ONNX exporter is ~6 s of CPU more)
            [
                script("hp-export"),
                *("--format", "npz", "--checkpoint", str(exported.checkpoint)),
                "--out",
                str(tmp_path),
            ],
            stdout=full,
            stderr=subprocess.PIPE,
            timeout=300,
        )
    err = result.stderr.decode()
    assert result.returncode == 5 and err.count("\n") == 1 and "Traceback" not in err, err
    assert "cannot write to stdout: No space left on device" in err
    assert (tmp_path / "model.npz").is_file()  # the export itself completed


def test_non_finite_tolerance_is_a_usage_error(exported, tmp_path):
    for value in ("nan", "inf"):
        result = runner.invoke(
            app, ["--checkpoint", str(exported.checkpoint), "--out", str(tmp_path), "--atol", value]
        )
        _error(result, 2, "--atol must be a finite number", tmp_path)


def test_a_usage_error_is_found_before_torch_is_imported():
    args = ("-f", "onnx", "--arith", "int16", "--atol", "nan")
    result, loaded = loaded_by("houseprice.export.cli", *args)
    assert (result.returncode, loaded) == (2, "[]"), result.stderr
    assert "--atol must be a finite number" in result.stderr


def test_a_missing_checkpoint_is_found_before_torch_is_imported(tmp_path):
    missing, out = tmp_path / "checkpoint.pt", tmp_path / "out"
    result, loaded = loaded_by(
        "houseprice.export.cli", "--checkpoint", str(missing), "--out", str(out)
    )
    assert (result.returncode, loaded) == (3, "[]"), result.stderr
    assert (
        result.stderr
        == f"hp-export: error: {missing}: no checkpoint there; train one with `hp-train`\n"
    )
    assert not out.exists()


def test_errors_map_to_exit_codes_by_type(exported, tmp_path, monkeypatch):
    from houseprice.export import onnx_export

    monkeypatch.setattr(onnx_export, "export_onnx", lambda *a: b"\x08\x0anot a graph")
    result = runner.invoke(app, ["--checkpoint", str(exported.checkpoint), "--out", str(tmp_path)])
    # The message text says "cannot load"; the code comes from the type (ConversionError), not it.
    _error(result, 3, "the runtime cannot load the exported graph", tmp_path)


@pytest.mark.slow
def test_sigterm_mid_export_leaves_no_files(exported, tmp_path):
    process = subprocess.Popen(
        [
            script("hp-export"),
            "--format",
            "all",
            "--checkpoint",
            str(exported.checkpoint),
            "--out",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    time.sleep(2.0)  # torch is imported and the export under way (it takes several seconds)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    assert err.decode() == "hp-export: interrupted; nothing written\n"
    assert list(tmp_path.iterdir()) == []
