"""TLS for hp-serve: the certificate and key proven usable before serving, and the warnings an
operator should see (a key others can read, a token sent in clear text)."""

from __future__ import annotations

import ipaddress
import re
import ssl
import stat
from pathlib import Path

from houseprice.core.files import unreadable
from houseprice.core.reading import read_regular

MAX_PEM_BYTES = 1 << 20  # a certificate chain of a few dozen certificates


class TlsError(Exception):
    """The certificate and key cannot serve HTTPS."""


def check_pair(cert: Path, key: Path) -> list[str]:
    """Warnings about a usable pair; TlsError (one line) if it is not one."""
    for flag, path in (("--tls-cert", cert), ("--tls-key", key)):
        try:
            read_regular(path, MAX_PEM_BYTES)  # a FIFO or device would block or never end
        except OSError as exc:
            raise TlsError(
                f"{flag} {unreadable(path, exc, missing='no such file', kind='a PEM file')}"
            ) from None
    server_context(cert, key)
    if key.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH):
        return [f"{key} is readable by other users: chmod 600 {key}"]
    return []


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """The server's TLS context (TLS 1.2 and later); TlsError for files that are no pair, or
    a key encrypted with a pass phrase (OpenSSL would ask for it on the terminal, blocking)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    asked: list[bool] = []

    def no_pass_phrase() -> bytes:
        asked.append(True)
        return b""

    try:
        context.load_cert_chain(cert, key, password=no_pass_phrase)
    except ssl.SSLError as exc:
        if asked:
            raise TlsError(
                f"{key} is encrypted with a pass phrase; hp-serve needs the key unencrypted "
                f"(openssl pkey -in {key} -out plain.pem; chmod 600 plain.pem)"
            ) from None
        raise TlsError(
            f"{cert} and {key} are not a certificate and its key ({_reason(exc)})"
        ) from None
    except OSError as exc:
        raise TlsError(f"cannot read {exc.filename or cert}: {exc.strerror}") from None
    return context


def _reason(exc: ssl.SSLError) -> str:
    """OpenSSL's reason without the source location Python appends ("(_ssl.c:3905)")."""
    text = exc.reason or str(exc)
    text = re.sub(r"\s*\(_ssl\.c:\d+\)", "", text)
    return re.sub(r"^\[\w+\]\s*", "", text).strip() or "not PEM"


def open_to_all_warning(host: str, token: str | None) -> str | None:
    """The warning for a server other machines reach with no token asked of them."""
    if token is not None or _loopback(host):
        return None
    return (
        f"--host {host} and no --token-file: anyone who reaches this address can use every "
        "route; pass --token-file, or keep the default 127.0.0.1 behind a proxy"
    )


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def clear_text_warning(host: str, token: str | None, tls: bool) -> str | None:
    """The warning for a token that would cross the network unencrypted, if it would."""
    if token is None or tls or _loopback(host):
        return None
    return (
        f"--host {host} with a token and no TLS: the token crosses the network in clear text; "
        "pass --tls-cert and --tls-key, or serve behind a TLS proxy"
    )
