"""Process pools that stop now: what an interrupted command needs from concurrent.futures."""

from __future__ import annotations

from typing import Any


def stop_workers(pool: Any) -> None:
    """End a ProcessPoolExecutor's workers now instead of waiting for the tasks they run. The
    executor has no public way to do this; ``_processes`` (pid -> Process) has been there since
    Python 3.2."""
    processes = getattr(pool, "_processes", None) or {}
    for process in list(processes.values()):
        process.terminate()
