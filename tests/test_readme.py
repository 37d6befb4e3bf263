"""The README, followed line by line: its one-example-per-command block and its Python snippet
run in a fresh folder as a newcomer would run them (but `hp-train --cv`, `hp-serve` and
`hp-bench`, which take minutes or run until stopped), and print what the README shows."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.conftest import BIN, REPO

pytestmark = pytest.mark.slow
SKIPPED = ("--cv", "hp-serve", "hp-bench")  # minutes, or a server that runs until stopped
TRAIN_FILES = {"checkpoint.pt", "metrics.json"}
ALL_FORMATS_FILES = {
    "model.onnx",
    "model.ort",
    "required_operators.config",
    "model.npz",
    "model.pte",
    "model.tflite",
    "model.torchscript.pt",
    "houseprice_model.h",
    "houseprice_model.c",
    "houseprice_model.mjs",
    "manifest.json",
}


def blocks(language: str) -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text[text.index("## One example per command") :]
    return re.findall(rf"```{language}\n(.*?)```", section, re.DOTALL)


def test_the_readme_commands_run_as_written(tmp_path):
    shutil.copytree(REPO / "examples", tmp_path / "examples", symlinks=True)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    ran = []
    for line in blocks("sh")[0].splitlines():
        command = line.split("#", 1)[0].strip()
        if not command or any(word in command for word in SKIPPED):
            continue
        args = [sys.executable if a == "python" else a for a in command.split()]
        done = subprocess.run(
            args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, (command, done.stderr[-2000:])
        ran.append(command)
        if command == "hp-infer examples/house.json":
            shown = re.search(r"# (\{\"price\": [\d.]+\})", line)[1]
            assert set(json.loads(done.stdout)) == set(json.loads(shown))  # the same shape
    assert len(ran) == 7, ran
    # `hp-export --format all` wrote every format beside hp-train's files (the export tests
    # share one model and export the formats they test; this is the one run of them all)
    exported = {p.name for p in (tmp_path / "artifacts").iterdir()}
    assert exported == TRAIN_FILES | ALL_FORMATS_FILES, exported
    # This is also the ship path's seed 0 on every row (tests/export/test_ship_path.py has the
    # other seeds): every format passed the gate, the C export well inside its bound.
    manifest = json.loads((tmp_path / "artifacts" / "manifest.json").read_text())
    parity = {a["format"]: a["parity"] for a in manifest["artifacts"] if "parity" in a}
    assert all(p["passed"] for p in parity.values()), parity
    assert parity["c"]["max_rel_diff"] < 5e-6, parity["c"]
    assert (tmp_path / "prices.jsonl").read_text().count("\n") == 10
    assert (tmp_path / "prices.csv").read_text().splitlines()[0].endswith(",price")
    assert len(list((tmp_path / "priced").glob("*.parquet"))) == 4
    snippet = blocks("python")[0]
    done = subprocess.run(
        [sys.executable, "-c", snippet], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
