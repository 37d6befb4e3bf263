"""grpcio's settings: ours unless the operator's, and only before grpc is imported."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from houseprice.serve.grpc_setup import EXPERIMENTS, before_grpc_import


def _experiments_seen(environment: dict[str, str]) -> str:
    """GRPC_EXPERIMENTS as a fresh process that imports grpc next sees it."""
    code = (
        "import os; from houseprice.serve.grpc_setup import before_grpc_import; "
        "before_grpc_import(); import grpc; print(os.environ['GRPC_EXPERIMENTS'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "Unknown experiment" not in result.stderr, result.stderr  # grpcio still knows ours
    return result.stdout.strip()


def test_ours_unless_the_environment_names_its_own():
    bare = {k: v for k, v in os.environ.items() if k != "GRPC_EXPERIMENTS"}
    assert _experiments_seen(bare) == EXPERIMENTS
    assert _experiments_seen({**bare, "GRPC_EXPERIMENTS": "-event_engine_client"}) == (
        "-event_engine_client"
    )


def test_too_late_once_grpc_is_imported():
    import grpc  # noqa: F401  (this process has it already: the settings could do nothing)

    with pytest.raises(RuntimeError, match="imported before its settings"):
        before_grpc_import()
