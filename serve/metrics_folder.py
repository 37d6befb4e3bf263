"""The folder where several workers keep their Prometheus metrics (PROMETHEUS_MULTIPROC_DIR).

hp-serve removes its folder when it stops, on any signal it can catch. A supervisor killed by
SIGKILL (or the OOM killer) cannot, so the folder is named by the supervisor's pid, and each new
hp-serve first removes the folders of supervisors that no longer run: at most one leftover per
killed server, and only until the next start."""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

from houseprice.core.files import process_alive

PREFIX = "hp-serve-metrics-"
_NAME = re.compile(rf"^{PREFIX}(?P<pid>\d+)-[^/]+$")


def new_metrics_folder() -> str:
    """A new, empty folder for this server's workers, after a sweep of dead servers' ones."""
    sweep_dead_servers(Path(tempfile.gettempdir()))
    return tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-")


def sweep_dead_servers(scratch: Path) -> list[Path]:
    """Remove the metrics folders in ``scratch`` of our own servers that no longer run; a live
    server's, another user's and anything else stay. The folders removed."""
    removed = []
    try:
        entries = list(scratch.iterdir())
    except OSError:
        return removed
    for path in entries:
        match = _NAME.match(path.name)
        if match is None or process_alive(int(match["pid"])) or not _ours(path):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def _ours(path: Path) -> bool:
    """A real folder (not a link to one) of this user's."""
    try:
        found = path.lstat()
    except OSError:
        return False
    return stat.S_ISDIR(found.st_mode) and found.st_uid == os.getuid()
