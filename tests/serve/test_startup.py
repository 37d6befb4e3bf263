"""hp-serve's start-up refusals and warnings: files that are not what a flag needs (a device, a
FIFO, a directory, an encrypted key) are one line and an exit code at once, never a hang or a
traceback; proxy headers are believed only from the addresses named."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time

import pytest

from houseprice.serve.tls import open_to_all_warning
from tests.conftest import EXAMPLES, assert_one_line_error, run_cli, script
from tests.serve.test_server import TOKEN, serving
from tests.serve.test_tls import _pair


def _serve(*args: str) -> subprocess.CompletedProcess:
    return run_cli("hp-serve", "--port", "0", *args, timeout=30)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: "/dev/zero", "/dev/zero: is a device, not a token file"),
        (lambda tmp: "/dev/urandom", "/dev/urandom: is a device, not a token file"),
        (lambda tmp: _fifo(tmp / "token"), "token: is a FIFO, not a token file"),
        (lambda tmp: tmp, "is a directory, not a token file"),
        (lambda tmp: _write(tmp / "big", "t" * 5000), "larger than 4,096 bytes"),
        (lambda tmp: _write(tmp / "bin", b"\xff\xfe"), "bin: not text"),
    ],
    ids=["/dev/zero", "/dev/urandom", "fifo", "directory", "5000 bytes", "binary"],
)
def test_a_token_file_that_is_no_token_file_is_one_line_at_once(exported, tmp_path, make, message):
    started = time.monotonic()
    result = _serve("--model", str(exported.onnx), "--token-file", str(make(tmp_path)))
    assert_one_line_error(result, 2, message, "hp-serve")
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    ("which", "make", "message"),
    [
        ("cert", lambda tmp, cert: tmp, "--tls-cert {tmp}: is a directory, not a PEM file"),
        ("cert", lambda tmp, cert: _fifo(tmp / "c.pem"), "--tls-cert {tmp}/c.pem: is a FIFO"),
        ("key", lambda tmp, cert: "/dev/zero", "--tls-key /dev/zero: is a device, not a PEM file"),
        ("key", lambda tmp, cert: tmp / "none", "--tls-key {tmp}/none: no such file"),
        ("key", lambda tmp, cert: cert, "are not a certificate and its key (PEM lib)"),
    ],
    ids=["cert is a directory", "cert is a FIFO", "key is a device", "no key", "cert as key"],
)
def test_tls_files_that_are_not_pem_files_are_named_in_one_line(
    exported, tmp_path, which, make, message
):
    cert, key = _pair(tmp_path, "server")
    bad = str(make(tmp_path, cert))
    pair = (bad, str(key)) if which == "cert" else (str(cert), bad)
    result = _serve("--model", str(exported.onnx), "--tls-cert", pair[0], "--tls-key", pair[1])
    err = assert_one_line_error(result, 3, message.format(tmp=tmp_path), "hp-serve")
    assert "_ssl.c" not in err


def test_an_encrypted_key_is_refused_without_asking_for_its_pass_phrase(exported, tmp_path):
    cert, key = _pair(tmp_path, "server")
    locked = tmp_path / "locked.key"
    subprocess.run(
        ["openssl", "pkey", "-in", key, "-out", locked, "-aes256", "-passout", "pass:secret"],
        check=True,
        capture_output=True,
    )
    result = _serve(
        "--model", str(exported.onnx), "--tls-cert", str(cert), "--tls-key", str(locked)
    )
    assert_one_line_error(result, 3, "is encrypted with a pass phrase", "hp-serve")


def test_an_empty_host_is_a_usage_error_not_every_interface():
    result = run_cli("hp-serve", "--host", "", timeout=30)
    assert_one_line_error(
        result, 2, "an empty address; for every interface say 0.0.0.0", "hp-serve"
    )


@pytest.mark.parametrize(
    ("host", "token", "warned"),
    [
        ("0.0.0.0", None, True),
        ("::", None, True),
        ("192.168.1.5", None, True),
        ("0.0.0.0", "t", False),
        ("127.0.0.1", None, False),
        ("localhost", None, False),
    ],
)
def test_an_open_address_without_a_token_is_warned_about(host, token, warned):
    warning = open_to_all_warning(host, token)
    assert (warning is not None) == warned
    if warned:
        assert "anyone who reaches this address can use every route" in warning


def test_the_start_line_warns_of_every_interface_without_a_token(exported):
    command = [script("hp-serve"), "--model", str(exported.onnx), "--host", "0.0.0.0"]
    process = subprocess.Popen([*command, "--port", "0"], stderr=subprocess.PIPE)
    try:
        first = process.stderr.readline().decode()
    finally:
        process.terminate()
        process.wait(30)
    assert first.startswith("hp-serve: warning: --host 0.0.0.0 and no --token-file"), first


@pytest.mark.parametrize(("trusted", "shown"), [(None, "127.0.0.1"), ("127.0.0.1", "6.6.6.6")])
def test_forwarded_for_is_believed_only_from_named_proxies(exported, tmp_path, trusted, shown):
    model = tmp_path / "model.onnx"
    shutil.copy(exported.onnx, model)
    (tmp_path / "token").write_text(TOKEN)
    flags = ["--access-log", "--workers", "1"]
    flags += ["--forwarded-allow-ips", trusted] if trusted else []
    with serving(model, *flags) as server:
        house = (EXAMPLES / "house.json").read_bytes()
        headers = {"X-Forwarded-For": "6.6.6.6"}
        status = server.call("POST", "/v1/predict", house, kind="application/json", headers=headers)
        assert status[0] == 200
        deadline = time.monotonic() + 10
        while "POST /v1/predict" not in server.log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
    line = next(x for x in server.log.read_text().splitlines() if "POST /v1/predict" in x)
    assert re.search(rf"{re.escape(shown)}:\d+ - ", line), line


def test_forwarded_allow_ips_takes_addresses_only():
    result = run_cli("hp-serve", "--forwarded-allow-ips", "proxy.example", timeout=30)
    assert_one_line_error(result, 2, "'proxy.example' is not an address or network", "hp-serve")


def _fifo(path):
    os.mkfifo(path)
    return path


def _write(path, data):
    (path.write_bytes if isinstance(data, bytes) else path.write_text)(data)
    return path
