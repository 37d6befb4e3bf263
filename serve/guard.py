"""The ASGI wrapper around hp-serve's app: the bearer-token check (constant time) and the
per-request metrics, for every route, before any route's code runs."""

from __future__ import annotations

import hmac
import json
import time
from typing import Any

from starlette.applications import Starlette

from houseprice.serve.metrics import Metrics
from houseprice.serve.routes import RouteLabels


class Guard:
    def __init__(self, app: Starlette, token: str | None, metrics: Metrics, labels: RouteLabels):
        self.app, self.metrics, self.labels = app, metrics, labels
        self.state = app.state
        self._token = f"Bearer {token}".encode() if token else None
        self._children: dict[tuple[str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = self.labels(scope["path"])
        start, status, counted = time.perf_counter(), [500], [False]

        async def sending(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                # Counted before the answer's last bytes leave: a client that reads /metrics
                # right after its answer (perhaps from another worker) finds its request there.
                counted[0] = True
                self._count(route, status[0], time.perf_counter() - start)
            await send(message)

        try:
            if self._token and route not in self.labels.open and not self._authorized(scope):
                await _send_json(
                    sending,
                    401,
                    {"error": "missing or wrong bearer token"},
                    [(b"www-authenticate", b"Bearer")],
                )
            else:
                await self.app(scope, receive, sending)
        finally:
            if not counted[0]:  # no whole answer was sent: a failure, counted as it ended
                self._count(route, status[0], time.perf_counter() - start)

    def _count(self, route: str, status: int, seconds: float) -> None:
        # The labelled children, looked up once each: ``labels()`` costs more than ``inc()``.
        key = (route, status)
        children = self._children.get(key)
        if children is None:
            metrics = self.metrics
            children = (
                metrics.requests.labels(route=route, status=str(status)),
                metrics.latency.labels(route=route),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def _authorized(self, scope: dict) -> bool:
        given = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
        return hmac.compare_digest(given, self._token or b"")


async def _send_json(send: Any, status: int, content: dict, headers: list) -> None:
    body = json.dumps(content).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
