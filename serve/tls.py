"""TLS for hp-serve: the certificate and key proven usable before serving, and the warnings an
operator should see (a key others can read, a token sent in clear text)."""

from __future__ import annotations

import ipaddress
import ssl
import stat
from pathlib import Path


class TlsError(Exception):
    """The certificate and key cannot serve HTTPS."""


def check_pair(cert: Path, key: Path) -> list[str]:
    """Warnings about a usable pair; TlsError (one line) if it is not one."""
    for path in (cert, key):
        if not path.is_file():
            raise TlsError(f"{path}: no such file")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        reason = exc.reason or str(exc)
        raise TlsError(f"{cert} and {key} are not a certificate and its key ({reason})") from None
    except OSError as exc:
        raise TlsError(f"cannot read {exc.filename or key}: {exc.strerror}") from None
    if key.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH):
        return [f"{key} is readable by other users: chmod 600 {key}"]
    return []


def clear_text_warning(host: str, token: str | None, tls: bool) -> str | None:
    """The warning for a token that would cross the network unencrypted, if it would."""
    if token is None or tls:
        return None
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if loopback:
        return None
    return (
        f"--host {host} with a token and no TLS: the token crosses the network in clear text; "
        "pass --tls-cert and --tls-key, or serve behind a TLS proxy"
    )
