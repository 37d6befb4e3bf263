from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from houseprice.train.cli import app
from tests.conftest import assert_one_line_error, loaded_by, run_cli, script

runner = CliRunner()
# One process: a fit in two spawned workers costs each its own `import torch` (~3 s of CPU) for
# five epochs; the workers have their own tests (test_fit, test_cv, the signal tests below,
# and the README's default `hp-train`).
FAST = ["--epochs", "5", "--quiet", "--jobs", "1"]


def _invoke(*args: str):
    return runner.invoke(app, list(args))


def _one_line_error(result, code: int, pattern: str) -> None:
    assert_one_line_error(result, code, pattern, "hp-train")
    assert "Traceback" not in result.output


def test_trains_and_writes_checkpoint_and_metrics(tmp_path: Path):
    result = _invoke("--out", str(tmp_path), *FAST)
    assert result.exit_code == 0, result.output
    assert "test" in result.stdout and "RMSE" in result.stdout
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert {"rmse", "mae", "mse", "r2"} <= metrics["test"].keys()
    assert metrics["n_train"] + metrics["n_test"] == 506
    assert (tmp_path / "checkpoint.pt").stat().st_size > 0
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_drop_and_custom_data_and_target(tmp_path: Path):
    data = tmp_path / "small.csv"
    rows = "\n".join(f"{i},{i % 7},{2 * i + 1}" for i in range(60))
    data.write_text("size,age,value\n" + rows + "\n")
    result = _invoke(
        "--data", str(data), "--target", "value", "--drop", "age", "--out", str(tmp_path), *FAST
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "metrics.json").read_text())["features"] == ["size"]


def test_cv_reports_every_model_on_the_same_folds(tmp_path: Path, monkeypatch):
    from houseprice.train import config as config_module

    # The reference recipe's 10,000 iterations are not what this test is about.
    quick_tutorial = config_module.TrainConfig(
        **{**config_module.TUTORIAL_RECIPE.to_dict(), "epochs": 20, "drop": ()}
    )
    monkeypatch.setattr(
        "houseprice.train.cv.TUTORIAL_RECIPE", quick_tutorial
    )  # one process: --jobs 1
    result = _invoke("--cv", "3", "--repeats", "2", "--out", str(tmp_path), *FAST)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "cv.json").read_text())
    names = [s["name"] for s in report["scores"]]
    assert names[:3] == [
        "tutorial recipe (--recipe tutorial)",
        "houseprice (this config)",
        "linear least squares",
    ]
    assert report["folds"] == 3 and report["repeats"] == 2 and report["fold_seeds"] == [0, [0, 1]]
    assert all(len(s["fold_rmse"]) == 6 and len(s["repeat_mean"]) == 2 for s in report["scores"])
    # Every other model is compared with ours, fold by fold, on the same folds.
    ours = next(s for s in report["scores"] if s["name"] == "houseprice (this config)")
    assert [p["baseline"] for p in report["paired"]] == [n for n in names if n != ours["name"]]
    for paired in report["paired"]:
        theirs = next(s for s in report["scores"] if s["name"] == paired["baseline"])
        mean = sum(a - b for a, b in zip(ours["fold_rmse"], theirs["fold_rmse"], strict=True)) / 6
        assert paired["mean_difference"] == pytest.approx(mean)
        low, high = paired["interval_95"]
        assert low < mean < high and paired["verdict"] in {"better", "worse", "tie"}
    assert "3-fold cross-validation, 2 shuffles from seed 0" in result.stdout
    assert "paired with houseprice (this config), same 6 folds" in result.stdout


def test_test_fraction_zero_trains_on_every_row_and_says_so(tmp_path: Path):
    result = _invoke("--test-fraction", "0", "--out", str(tmp_path), *FAST)
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["n_train"] == 506 and metrics["n_test"] == 0 and metrics["test"] is None
    assert "no held-out test set" in metrics["note"] and "--cv" in metrics["note"]
    assert "no held-out test set" in result.stdout
    from houseprice.train.checkpoint import load_checkpoint

    trained = load_checkpoint(tmp_path / "checkpoint.pt")
    assert trained.config.test_fraction == 0 and trained.info.metrics["test"] is None


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--data", "/nonexistent/houses.csv"], 1, "no such file"),
        (["--target", "PRICE"], 1, "no target column 'PRICE'"),
        (["--drop", "NOPE"], 1, "cannot drop NOPE"),
        (["--cv", "1"], 2, "--cv needs at least 2 folds"),
        (["--cv", "3", "--repeats", "0"], 2, "--repeats needs at least 1"),
        (["--cv", "3", "--jobs", "-1"], 2, "--jobs needs 0 (one per CPU) or more"),
        (["--repeats", "3"], 2, "--repeats applies to cross-validation: add --cv K"),
        (["--jobs", "-1"], 2, "--jobs needs 0 (one per CPU) or more"),
        (["--test-fraction", "1"], 2, "test_fraction must be in [0, 1)"),
        (["--lr", "0"], 2, "lr must be in (0, 10]"),
        (["--lr", "1e9"], 2, "lr must be in (0, 10]"),
        (["--lr", "inf"], 2, "lr must be a finite number"),
        (["--lr", "nan"], 2, "lr must be a finite number"),
        (["--test-fraction", "nan"], 2, "test_fraction must be a finite number"),
        (["--seed", "-1"], 2, "seed must be >= 0"),
        (
            ["--test-fraction", "0.999"],
            2,
            "--test-fraction 0.999 leaves 505 test and 1 training rows of 506",
        ),
    ],
)
def test_user_errors_are_one_line(tmp_path: Path, args, code, message):
    # args last: a repeated option's last value wins, and FAST names --jobs too
    _one_line_error(_invoke("--out", str(tmp_path), *FAST, *args), code, message)


def test_a_constant_target_is_nothing_to_learn(tmp_path: Path):
    data = tmp_path / "flat.csv"
    data.write_text("a,b,MEDV\n" + "".join(f"{i},{i % 3},5\n" for i in range(40)))
    result = _invoke("--data", str(data), "--out", str(tmp_path / "out"), *FAST)
    _one_line_error(result, 1, "the target is 5 in every training row: there is nothing to learn")
    assert not (tmp_path / "out" / "checkpoint.pt").exists()


def test_bad_data_file_names_line_and_column(tmp_path: Path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,MEDV\n1,2\nx,3\n")
    _one_line_error(
        _invoke("--data", str(bad), "--out", str(tmp_path), *FAST), 1, "bad.csv:3: column a"
    )


def test_unwritable_output_folder(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("I am a file, not a folder")
    _one_line_error(_invoke("--out", str(blocker / "sub"), *FAST), 5, "cannot write")


def test_plot_without_matplotlib_gives_install_hint(tmp_path: Path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    _one_line_error(_invoke("--plot", "--out", str(tmp_path), *FAST), 6, "pip install '.[plot]'")
    assert not (tmp_path / "checkpoint.pt").exists()


def test_plot_writes_png_files(tmp_path: Path):
    result = _invoke("--plot", "--out", str(tmp_path), *FAST)
    assert result.exit_code == 0, result.output
    for name in ("loss.png", "pred_vs_actual.png"):
        data = (tmp_path / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5000


def test_subprocess_run_and_error(tmp_path: Path):
    ok = run_cli("hp-train", "--out", str(tmp_path), *FAST)
    assert ok.returncode == 0, ok.stderr
    assert b"test" in ok.stdout
    bad = run_cli("hp-train", "--data", str(tmp_path / "missing.data"), "--out", str(tmp_path))
    assert bad.returncode == 1
    assert bad.stderr.decode().count("\n") == 1 and b"Traceback" not in bad.stderr
    assert bad.stdout == b""


@pytest.mark.slow
def test_tutorial_recipe_reproduces_the_tutorials_range(tmp_path: Path):
    """The tutorial's unseeded script lands around MSE 6-12 on the last 10 rows."""
    ok = run_cli("hp-train", "--recipe", "tutorial", "--quiet", "--out", str(tmp_path))
    assert ok.returncode == 0 and ok.stderr == b"", ok.stderr
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["n_test"] == 10 and metrics["n_train"] == 496
    assert 4.0 < metrics["test"]["mse"] < 14.0


def test_training_that_diverges_saves_nothing(tmp_path: Path):
    data = tmp_path / "huge.csv"  # finite in float32, but its squares are not: scaling overflows
    data.write_text("a,MEDV\n" + "".join(f"{i * 1e37},{i + 1}\n" for i in range(30)))
    result = _invoke("--data", str(data), "--out", str(tmp_path / "out"), *FAST)
    _one_line_error(result, 1, "training diverged")
    assert not (tmp_path / "out" / "checkpoint.pt").exists()


def test_the_install_hint_pins_torch_as_the_install_files_do():
    from houseprice.core.cli import PINNED_TORCH
    from tests.conftest import REPO

    pins = [line.strip() for line in (REPO / "requirements" / "torch.txt").read_text().splitlines()]
    assert PINNED_TORCH in pins
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.modules['torch'] = None; "
            "from houseprice.train.cli import main; main()",
            "--quiet",
        ],
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 6
    assert (
        f"`pip install {PINNED_TORCH} && pip install '.[train]'` in the houseprice checkout"
        in result.stderr.decode()
    )


@pytest.mark.slow
def test_sigterm_mid_training_leaves_no_files(tmp_path: Path):
    out = tmp_path / "out"
    process = subprocess.Popen(
        [script("hp-train"), "--out", str(out), "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not out.exists() and time.monotonic() < deadline:  # made just before training starts
        time.sleep(0.01)
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    assert err.decode() == "hp-train: interrupted; nothing written\n"
    assert not out.exists()  # the folder hp-train made is removed with nothing in it


@pytest.mark.slow
@pytest.mark.parametrize(
    ("mode", "signum"),
    [(["--cv", "5"], signal.SIGINT), (["--test-fraction", "0"], signal.SIGTERM)],
    ids=["cv-SIGINT", "members-SIGTERM"],  # each mode and each signal once: one handler for both
)
def test_a_signal_mid_cv_or_training_stops_every_worker_and_writes_nothing(
    tmp_path: Path, signum: int, mode: list[str]
):
    from tests.processes import alive, descendants

    out = tmp_path / "out"
    process = subprocess.Popen(
        [script("hp-train"), *mode, "--jobs", "2", "--out", str(out), "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline, workers = time.monotonic() + 60, set()
    while len(workers) < 3 and time.monotonic() < deadline:  # the forkserver and 2 workers
        workers = descendants(process.pid)
        time.sleep(0.05)
    assert len(workers) >= 3, workers
    time.sleep(1.0)  # the workers are fitting
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signum, err
    assert err.decode() == "hp-train: interrupted; nothing written\n"
    assert not out.exists() or list(out.iterdir()) == []  # no cv.json, no checkpoint
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in workers if alive(pid)]


def test_the_old_name_of_the_tutorial_still_works_with_a_note(tmp_path: Path):
    result = _invoke("--recipe", "seed", "--split", "seed", "--out", str(tmp_path), *FAST)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[:2] == [
        "hp-train: note: --recipe seed is now --recipe tutorial",
        "hp-train: note: --split seed is now --split tutorial",
    ]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert (metrics["n_train"], metrics["n_test"]) == (496, 10)


def test_a_checkpoint_from_before_the_rename_loads(tmp_path: Path):
    import torch

    from houseprice.train.checkpoint import load_checkpoint

    assert _invoke("--split", "tutorial", "--out", str(tmp_path), *FAST).exit_code == 0
    payload = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    key = "houseprice.config"
    config = json.loads(payload["info"][key])
    assert config["split"] == "tutorial"
    payload["info"][key] = json.dumps({**config, "split": "seed"})
    torch.save(payload, tmp_path / "old.pt")
    assert load_checkpoint(tmp_path / "old.pt").config.split == "tutorial"


def test_a_failed_run_removes_only_the_folders_it_made(tmp_path: Path):
    from houseprice.train.cli import output_folder

    kept = tmp_path / "kept"
    kept.mkdir()
    with pytest.raises(KeyboardInterrupt), output_folder(kept / "new" / "deeper"):
        raise KeyboardInterrupt
    assert kept.exists() and list(kept.iterdir()) == []
    with pytest.raises(RuntimeError), output_folder(kept):
        raise RuntimeError
    assert kept.exists()


def test_a_usage_error_is_found_before_torch_is_imported():
    result, loaded = loaded_by("houseprice.train.cli", "--lr", "0")
    assert (result.returncode, loaded) == (2, "[]"), result.stderr
    assert "lr must be in (0, 10]" in result.stderr


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--data", "missing.data"), "missing.data"),
        (("--drop", "NOSUCH"), "NOSUCH"),
    ],
    ids=["no data", "unknown column"],
)
def test_bad_data_is_found_before_torch_is_imported(tmp_path, flags, message):
    data_flags = tuple(str(tmp_path / f) if f.endswith(".data") else f for f in flags)
    result, loaded = loaded_by("houseprice.train.cli", *data_flags, "--out", str(tmp_path / "o"))
    assert (result.returncode, loaded) == (1, "[]"), result.stderr
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "o").exists()
