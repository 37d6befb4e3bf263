"""A bounded load generator for tests: N requests over C persistent connections (threads with
http.client), every answer checked. Stops by itself: a request count and a deadline."""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    statuses: Counter = field(default_factory=Counter)
    wrong: list[str] = field(default_factory=list)  # answers that failed the check
    errors: list[str] = field(default_factory=list)  # connection-level failures
    seconds: float = 0.0

    @property
    def sent(self) -> int:
        return sum(self.statuses.values()) + len(self.errors)


def run_load(
    host: str,
    port: int,
    body: bytes,
    check: Callable[[int, bytes], str | None],
    *,
    requests: int,
    connections: int,
    deadline_s: float = 60.0,
    headers: dict[str, str] | None = None,
    during: Callable[[], None] | None = None,
    path: str = "/v1/predict",
) -> LoadResult:
    """POST ``body`` to ``path`` ``requests`` times; ``check(status, answer)`` returns what is
    wrong with an answer, or None. ``during`` runs once, a quarter of the way in."""
    result, lock = LoadResult(), threading.Lock()
    remaining = [requests]
    quarter = threading.Event()
    stop_at = time.monotonic() + deadline_s
    send_headers = {"Content-Type": "application/json", **(headers or {})}

    def take() -> bool:
        with lock:
            if remaining[0] <= 0 or time.monotonic() > stop_at:
                return False
            remaining[0] -= 1
            if remaining[0] <= requests * 3 // 4:
                quarter.set()
            return True

    def client() -> None:
        connection = http.client.HTTPConnection(host, port, timeout=10)
        while take():
            try:
                connection.request("POST", path, body, send_headers)
                answer = connection.getresponse()
                status, data = answer.status, answer.read()
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    result.errors.append(f"{type(exc).__name__}: {exc}")
                connection.close()
                connection = http.client.HTTPConnection(host, port, timeout=10)
                continue
            problem = check(status, data)
            with lock:
                result.statuses[status] += 1
                if problem:
                    result.wrong.append(problem)
        connection.close()

    start = time.monotonic()
    threads = [threading.Thread(target=client, daemon=True) for _ in range(connections)]
    for thread in threads:
        thread.start()
    if during is not None:
        quarter.wait(timeout=deadline_s)
        during()
    for thread in threads:
        thread.join(timeout=max(0.0, stop_at - time.monotonic()) + 15)
    result.seconds = time.monotonic() - start
    return result
