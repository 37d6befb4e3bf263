"""hp-serve over HTTPS with a certificate made on the fly: a client that trusts it gets prices,
plain HTTP gets none, the connection limits hold, and bad pairs fail fast in one line."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request

import pytest

from houseprice.serve.tls import clear_text_warning
from tests.conftest import EXAMPLES, assert_one_line_error, run_cli
from tests.serve.test_server import serving

HOUSE = (EXAMPLES / "house.json").read_bytes()
OPENSSL = ("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj")
OPENSSL += ("/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1")


def _pair(folder, name: str) -> tuple:
    if shutil.which("openssl") is None:
        pytest.fail("openssl not found: apt-get install openssl (make test installs it)")
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    subprocess.run(
        [*OPENSSL, "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture(scope="module")
def https(exported, tmp_path_factory):
    """hp-serve with TLS (its key left readable by others, to see the warning): (url, cert, log)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = _pair(folder, "server")
    os.chmod(key, 0o644)
    tls = (
        "--workers",
        "1",
        "--tls-cert",
        str(cert),
        "--tls-key",
        str(key),
        "--request-timeout",
        "1",
    )
    with serving(exported.onnx, *tls) as server:
        yield server.url, cert, server.log


def _trusting(cert) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


def _post(url: str, context: ssl.SSLContext) -> tuple[int, bytes]:
    request = urllib.request.Request(url + "/v1/predict", data=HOUSE, method="POST")
    request.add_header("Content-Type", "application/json")
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(request, timeout=10, context=context) as answer:
                return answer.status, answer.read()
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, ssl.SSLError) or time.monotonic() > deadline:
                raise
            time.sleep(0.1)  # still starting


def test_a_client_that_trusts_the_certificate_gets_prices(https):
    url, cert, log = https
    status, body = _post(url, _trusting(cert))
    assert status == 200 and body.startswith(b'{"price": ')
    assert "readable by other users: chmod 600" in log.read_text()


def test_a_client_that_does_not_trust_it_is_refused(https):
    url, _, _ = https
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        _post(url, ssl.create_default_context())


def test_plain_http_to_the_tls_port_gets_no_price(https):
    url, cert, _ = https
    _post(url, _trusting(cert))  # started
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), 5) as s:
        s.sendall(
            b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(HOUSE)
        )
        s.sendall(HOUSE)
        answer = b""
        with contextlib.suppress(OSError):
            while chunk := s.recv(4096):
                answer += chunk
    assert b"price" not in answer and not answer.startswith(b"HTTP/1.1 200")


def test_the_request_deadline_holds_over_tls(https):
    url, cert, _ = https
    _post(url, _trusting(cert))
    port = int(url.rsplit(":", 1)[1])
    raw = socket.create_connection(("127.0.0.1", port), 5)
    with _trusting(cert).wrap_socket(raw, server_hostname="127.0.0.1") as s:
        s.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: x\r\n")  # half a head, then nothing
        started = time.monotonic()
        with contextlib.suppress(OSError):
            assert s.recv(100) == b""
        assert time.monotonic() - started < 4  # --request-timeout 1


def test_bad_pairs_fail_fast_in_one_line(tmp_path):
    cert, key = _pair(tmp_path, "one")
    other_cert, _ = _pair(tmp_path, "two")
    mismatched = run_cli("hp-serve", "--tls-cert", str(other_cert), "--tls-key", str(key))
    assert_one_line_error(mismatched, 3, "are not a certificate and its key", "hp-serve")
    missing = run_cli("hp-serve", "--tls-cert", str(cert), "--tls-key", str(tmp_path / "none"))
    assert_one_line_error(missing, 3, "none: no such file", "hp-serve")
    alone = run_cli("hp-serve", "--tls-cert", str(cert))
    assert_one_line_error(alone, 2, "--tls-cert and --tls-key go together", "hp-serve")


@pytest.mark.parametrize(
    ("host", "token", "tls", "warned"),
    [
        ("0.0.0.0", "t", False, True),
        ("192.168.1.5", "t", False, True),
        ("example.org", "t", False, True),
        ("0.0.0.0", "t", True, False),
        ("0.0.0.0", None, False, False),
        ("127.0.0.1", "t", False, False),
        ("::1", "t", False, False),
        ("localhost", "t", False, False),
    ],
)
def test_a_token_in_clear_text_off_this_machine_is_warned_about(host, token, tls, warned):
    warning = clear_text_warning(host, token, tls)
    assert (warning is not None) == warned
    if warned:
        assert "the token crosses the network in clear text" in warning
