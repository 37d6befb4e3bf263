"""A copy of the session's model that a test may replace, and a token file beside it."""

from __future__ import annotations

import shutil

import pytest

from tests.serve.test_server import TOKEN


@pytest.fixture
def model(exported, tmp_path):
    path = tmp_path / "model.onnx"
    shutil.copy(exported.onnx, path)
    (tmp_path / "token").write_text(TOKEN)
    return path
