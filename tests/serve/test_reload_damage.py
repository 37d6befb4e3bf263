"""A damaged model file on reload never ends the server: SIGHUP and the admin route both leave
the old model serving, in every worker, whatever the damage (ONNX or npz)."""

from __future__ import annotations

import json
import shutil
import signal
import time

import pytest

from houseprice.core.errors import ModelError
from houseprice.serve import model as serve_model
from tests.conftest import EXAMPLES
from tests.runtime.model_files import info, sum_model
from tests.runtime.test_npz_hostile import hostile
from tests.serve.test_server import TOKEN, serving

HOUSE = (EXAMPLES / "house.json").read_bytes()
FAILED = 'houseprice_model_reloads_total{result="failure"} '


def _failures(server) -> float:
    text = server.call("GET", "/metrics")[2].decode()
    line = next((x for x in text.splitlines() if x.startswith(FAILED)), FAILED + "0")
    return float(line.removeprefix(FAILED))


def _wait(condition, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def _damaged_onnx(tmp_path) -> bytes:
    metadata = info().to_metadata()
    metadata["houseprice.feature_min"] = "[" + ", ".join(["1" + "0" * 400] * 13) + "]"
    return sum_model(tmp_path / "huge-range.onnx", 13, metadata).read_bytes()


@pytest.mark.parametrize("kind", ["npz", "onnx"])
def test_sighup_and_the_admin_route_keep_the_old_model_through_every_damage(
    exported, tmp_path, kind
):
    model = tmp_path / f"model.{kind}"
    shutil.copy(exported.npz if kind == "npz" else exported.onnx, model)
    (tmp_path / "token").write_text(TOKEN)
    files = [data for data, _ in hostile(exported).values()] if kind == "npz" else []
    files.append(_damaged_onnx(tmp_path))
    with serving(model, "--workers", "2", "--token-file", str(tmp_path / "token")) as server:
        # both workers up: one still starting ignores SIGHUP (it loads the supervisor's model)
        assert _wait(lambda: server.output().count("Application startup complete") == 2)
        before = server.price(HOUSE)
        for number, data in enumerate(files, start=1):
            model.write_bytes(data)
            server.process.send_signal(signal.SIGHUP)
            # each worker counts its failed reload; the supervisor keeps its model silently
            assert _wait(lambda n=number: _failures(server) >= 2 * n), server.output()
            assert server.process.poll() is None, server.output()
            assert server.price(HOUSE) == before
        status, _, body = server.call("POST", "/v1/admin/reload")
        assert status == 409 and json.loads(body)["reloaded"] is False, body
        # the supervisor kept the good model: a worker started now would serve it
        assert all(server.price(HOUSE) == before for _ in range(10))
    output = server.output()
    assert "Traceback" not in output and "reload failed" in output, output


def test_a_failure_no_loader_foresaw_is_still_a_failed_reload(exported, tmp_path, monkeypatch):
    """Whatever a loader raises (a bug of ours), the reload fails and the old model stays."""
    model = tmp_path / "model.onnx"
    shutil.copy(exported.onnx, model)
    holder = serve_model.ModelHolder(serve_model.load_model(model))
    serving_now = holder.current

    def broken(path, threads=1):
        raise OverflowError("int too large to convert to float")

    monkeypatch.setattr(serve_model, "load_model", broken)
    with pytest.raises(ModelError, match=r"model.onnx: cannot be loaded \(OverflowError\)"):
        holder.reload()
    assert holder.current is serving_now
