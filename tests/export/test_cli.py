from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from houseprice.export.cli import app
from tests.conftest import run_cli

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


def test_all_formats(exported, tmp_path):
    result = runner.invoke(
        app, ["--format", "all", "--checkpoint", str(exported.checkpoint), "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "model.onnx").is_file() and (tmp_path / "model.torchscript.pt").is_file()


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
    result = runner.invoke(app, ["--format", "tflite", "--checkpoint", str(exported.checkpoint)])
    assert result.exit_code == 2 and "tflite" in result.output
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = runner.invoke(
        app, ["--checkpoint", str(exported.checkpoint), "--out", str(blocker / "x")]
    )
    _error(result, 5, "cannot write", blocker / "x")


def test_parity_failure_exits_4_through_the_cli(exported, tmp_path, monkeypatch):
    from houseprice.export import api
    from tests.export.test_export import _corrupt_first_weight

    real = api.export_onnx
    monkeypatch.setattr(api, "export_onnx", lambda *a: _corrupt_first_weight(real(*a)))
    result = runner.invoke(app, ["--checkpoint", str(exported.checkpoint), "--out", str(tmp_path)])
    _error(result, 4, "disagrees with PyTorch", tmp_path)
