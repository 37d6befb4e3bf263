"""hp-serve's argument types: each turns a flag's text into a value or says why it cannot."""

from __future__ import annotations

import argparse
import re

_SIZE = re.compile(r"^\s*(\d+)\s*(|B|KB|MB|GB|K|M|G)\s*$", re.IGNORECASE)
_UNITS = {
    "": 1,
    "B": 1,
    "K": 1024,
    "KB": 1024,
    "M": 1024**2,
    "MB": 1024**2,
    "G": 1024**3,
    "GB": 1024**3,
}


def size(text: str) -> int:
    match = _SIZE.match(text)
    if not match or int(match[1]) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 16MB")
    return int(match[1]) * _UNITS[match[2].upper()]


def digits(text: str, most: int = 18) -> bool:
    """Plain ASCII digits, not too many: str.isdigit() also takes '²', which int() refuses."""
    return text.isascii() and text.isdigit() and len(text) <= most


def port(text: str) -> int:
    if not digits(text, 5) or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return int(text)


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 3600:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (0-3600)")
    return value


def count(text: str) -> int:
    if not digits(text, 9):
        raise argparse.ArgumentTypeError(f"{text!r} is not a count (0 or more)")
    return int(text)


def host(text: str) -> str:
    """An address or host name to bind; an empty one would silently mean every interface."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            "an empty address; for every interface say 0.0.0.0 (IPv4) or :: (IPv6)"
        )
    return text


def addresses(text: str) -> str:
    """A comma-separated list of proxy addresses or networks, or '*' (uvicorn's syntax)."""
    import ipaddress

    for item in (part.strip() for part in text.split(",")):
        try:
            if item != "*":
                ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{item!r} is not an address or network (e.g. 10.0.0.1,10.1.0.0/16 or *)"
            ) from None
    return text


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def model_name(text: str) -> str:
    """A name that goes in a URL path as it is (/v2/models/NAME), as Triton's model names do."""
    if not _NAME.match(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a model name (letters, digits, '_', '.', '-'; at most 64)"
        )
    return text
