"""Hostile model files: each is refused in one line (exit 3 from hp-infer) in bounded memory and
time, from Predictor and hp-infer alike; never a traceback, a hang, or numpy's own words."""

from __future__ import annotations

import io
import json
import os
import re
import struct
import subprocess
import warnings
import zipfile

import numpy as np
import pytest

from houseprice.core.errors import ModelError
from houseprice.runtime.contract import ModelInfo
from houseprice.runtime.predictor import Predictor
from tests.conftest import EXAMPLES, run_cli, script
from tests.runtime.conftest import infer_fails
from tests.runtime.model_files import info, sum_model


def arrays_of(exported) -> dict[str, np.ndarray]:
    with np.load(exported.npz, allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def npy(array: np.ndarray) -> bytes:
    item = io.BytesIO()
    np.save(item, array, allow_pickle=False)
    return item.getvalue()


def archive(members: list[tuple[str, bytes]], compress: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w", compress) as zipped:
        warnings.simplefilter("ignore")  # "Duplicate name": one case writes w1 twice on purpose
        for name, data in members:
            zipped.writestr(name + ".npy", data)
    return buffer.getvalue()


def with_member(exported, name: str, data: bytes) -> bytes:
    arrays = arrays_of(exported)
    return archive([(n, data if n == name else npy(a)) for n, a in arrays.items()])


def with_metadata(exported, change) -> bytes:
    arrays = arrays_of(exported)
    metadata = json.loads(str(arrays["metadata"]))
    text = change(metadata)
    return with_member(exported, "metadata", npy(np.array(text)))


def hostile(exported) -> dict[str, tuple[bytes, str]]:
    """name -> (file bytes, what the one line must say)."""
    deep = with_metadata(exported, lambda m: "[" * 100_000 + "]" * 100_000)
    huge = with_metadata(
        exported,
        lambda m: json.dumps({**m, "houseprice.feature_min": "[" + "1" + "0" * 400 + "]"}),
    )
    weights = arrays_of(exported)
    duplicate = archive(
        [(n, npy(a)) for n, a in weights.items()] + [("w1", npy(np.zeros_like(weights["w1"])))]
    )
    longer = npy(weights["order"]) + b"\0" * 64
    hidden = {**weights, "w1": weights["w1"][:, :0], "w2": weights["w2"][:0]}
    loud = {**weights, "w1": np.full_like(weights["w1"], 3e38)}
    header = b"{'descr': eval('1'), 'fortran_order': False, 'shape': (13,), }"
    header += b" " * (63 - len(header) % 64) + b"\n"
    ast_call = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + b"\0" * 104
    return {
        "not a .npy": (with_member(exported, "w1", b"plain bytes, no header"), "w1 is not a .npy"),
        "nested metadata": (deep, "nested too deeply"),
        "range of 10**400": (huge, "feature_min holds an integer beyond the float range"),
        "two w1 members": (duplicate, "member 'w1' appears twice"),
        "a member longer than its shape": (with_member(exported, "order", longer), "order holds"),
        "no hidden units": (archive([(n, npy(a)) for n, a in hidden.items()]), "no hidden units"),
        "weights of 3e38": (archive([(n, npy(a)) for n, a in loud.items()]), "no finite price"),
        "a header numpy cannot parse": (with_member(exported, "order", ast_call), "not a .npy"),
    }


CASES = [
    "not a .npy",
    "nested metadata",
    "range of 10**400",
    "two w1 members",
    "a member longer than its shape",
    "no hidden units",
    "weights of 3e38",
    "a header numpy cannot parse",
]


@pytest.fixture(scope="module")
def files(exported):
    return hostile(exported)


@pytest.mark.parametrize("case", CASES)
def test_a_hostile_archive_is_a_model_error(files, case):
    data, message = files[case]
    with pytest.raises(ModelError, match=re.escape(message)) as e:
        Predictor(data, source="m.npz")
    assert "<" not in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("case", ["not a .npy", "nested metadata", "range of 10**400"])
def test_hp_infer_refuses_a_hostile_archive_in_one_line(files, case, tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(files[case][0])
    result = run_cli("hp-infer", str(EXAMPLES / "house.json"), "--model", str(path))
    infer_fails(result, 3, files[case][1])


def test_an_onnx_range_of_10_to_the_400_is_a_model_error(tmp_path):
    metadata = info().to_metadata()
    metadata["houseprice.feature_max"] = "[" + ", ".join(["1" + "0" * 400] * 13) + "]"
    path = sum_model(tmp_path / "m.onnx", 13, metadata)
    result = run_cli("hp-infer", str(EXAMPLES / "house.json"), "--model", str(path))
    infer_fails(result, 3, "feature_max holds an integer beyond the float range")


def test_a_range_that_is_not_numbers_is_a_model_error():
    metadata = info().to_metadata()
    for value in ('["1", 2]', "[true]"):
        metadata["houseprice.feature_min"] = value
        with pytest.raises(ModelError, match=r"feature_min holds .* not a number"):
            ModelInfo.from_metadata(metadata, "m")


@pytest.mark.slow
def test_a_zip_bomb_is_refused_unread_in_bounded_memory(exported, tmp_path):
    """An ~8 MB archive whose `order` member unpacks to 1.9 GB of zeros: refused from the sizes
    the archive declares, in seconds, under an address-space limit below what reading it takes."""
    path = tmp_path / "model.npz"
    rows = 1_900_000_000 // 8
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zipped:
        for name, array in arrays_of(exported).items():
            if name != "order":
                zipped.writestr(name + ".npy", npy(array))
                continue
            with zipped.open("order.npy", "w", force_zip64=True) as member:
                member.write(npy(np.zeros(0, np.int64)).replace(b"(0,)", f"({rows},)".encode()))
                for _ in range(rows * 8 // CHUNK):
                    member.write(ZEROS)
    assert path.stat().st_size < 20_000_000
    result = _limited("hp-infer", str(EXAMPLES / "house.json"), "--model", str(path))
    infer_fails(result, 3, "refused unread")


CHUNK = 16 << 20
ZEROS = bytes(CHUNK)


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_model_that_is_not_a_regular_file_is_refused_at_once(tmp_path, kind):
    if kind == "fifo":
        path = tmp_path / "model.onnx"
        os.mkfifo(path)
        said = "is a FIFO, not a model file"
    else:
        path, said = "/dev/zero", "is a device, not a model file"
    result = run_cli("hp-infer", str(EXAMPLES / "house.json"), "--model", str(path), timeout=30)
    infer_fails(result, 3, said)
    with pytest.raises(ModelError, match=said):
        Predictor.load(path)


def _limited(*args: str) -> subprocess.CompletedProcess:
    """A console script run under an address-space limit of 1.2 GB (prlimit)."""
    command = ["prlimit", f"--as={1200 * 2**20}", "--", script(args[0]), *args[1:]]
    return subprocess.run(command, capture_output=True, timeout=120)
