"""`pip install` through uv, with pip's own configuration: what builds the venv of `make test`.

uv installs the same packages as pip in a third of the time (measured on a fresh clone: 97 s
against 268 s for torch and every extra, both byte-compiled; docs/testing.md), because it
unpacks and compiles in parallel. It does not read pip's configuration, though, and this machine's
indexes, local wheel folders and constraints live there (`pip config list`): this script hands
them on, so uv sees what pip would see. Standard library only: it runs before anything is
installed.

    .venv/bin/python tools/uv_install.py -r requirements/torch.txt   # into .venv
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

# pip's options that choose where packages come from, and uv's flag for each.
FLAGS = {
    "index-url": "--index-url",
    "extra-index-url": "--extra-index-url",
    "find-links": "--find-links",
    "constraint": "--constraint",
    "trusted-host": "--allow-insecure-host",
}
# Where pip reads an option, the strongest first: the environment, then `install`, then `global`.
SECTIONS = (":env:", "install", "global")
# Keys pip reads as one option (its long names' aliases), under the name used here.
ALIASES = {"default-timeout": "timeout"}


def pip_settings(listing: str) -> dict[str, list[str]]:
    """pip's effective value of each option for `pip install`, from `pip config list`'s lines
    (`section.key='value'`): the strongest section's, split as pip splits lists (on whitespace)."""
    settings: dict[str, list[str]] = {}
    for section in reversed(SECTIONS):  # the weakest first, so a stronger section overwrites it
        for line in listing.splitlines():
            name, sep, value = line.partition("=")
            if sep and name.startswith(section + "."):
                key = name.removeprefix(section + ".").replace("_", "-")  # pip's spelling rule
                settings[ALIASES.get(key, key)] = value.strip("'\"").split()
    return settings


def uv_arguments(settings: dict[str, list[str]]) -> list[str]:
    """uv's flags for pip's sources. `unsafe-best-match` is pip's rule: the best version from
    any index, not the first index that has the package."""
    arguments = ["--index-strategy", "unsafe-best-match"]
    for key, flag in FLAGS.items():
        for value in settings.get(key, []):
            arguments += [flag, value]
    return arguments


def uv_environment(settings: dict[str, list[str]]) -> dict[str, str]:
    """pip's certificate bundle and timeout, as uv reads them."""
    environment = dict(os.environ)
    if settings.get("cert"):
        environment.setdefault("SSL_CERT_FILE", settings["cert"][0])
    timeout = settings.get("timeout")
    if timeout:
        environment.setdefault("UV_HTTP_TIMEOUT", timeout[0])
    return environment


def main(arguments: list[str]) -> int:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        print(
            "uv_install: uv is not installed: pip install -r requirements/uv.txt", file=sys.stderr
        )
        return 2
    listing = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=True
    ).stdout
    settings = pip_settings(listing)
    target = [] if "--python" in arguments else ["--python", sys.executable]
    command = [uv, "pip", "install", "--quiet", *target, *uv_arguments(settings), *arguments]
    return subprocess.run(command, env=uv_environment(settings)).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
