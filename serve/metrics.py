"""hp-serve's Prometheus metrics, one set per process or added up across worker processes."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    """The server's Prometheus metrics. With several worker processes (``multiprocess``),
    prometheus_client keeps each worker's values in files under PROMETHEUS_MULTIPROC_DIR and a
    scrape adds them up, whichever worker answers it."""

    def __init__(self, multiprocess: bool = False) -> None:
        self.multiprocess = multiprocess
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "houseprice_requests", "Requests by route and status", ["route", "status"], registry=r
        )
        self.latency = Histogram(
            "houseprice_request_seconds",
            "Request latency",
            ["route"],
            registry=r,
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5),
        )
        self.houses = Counter("houseprice_houses_priced", "Houses priced", registry=r)
        self.warnings = Counter(
            "houseprice_extrapolation_warnings",
            "Houses outside the training range, by feature",
            ["feature"],
            registry=r,
        )
        self.model = Gauge(
            "houseprice_model_info",
            "1 for the sha256 of a model being served, 0 for one served earlier",
            ["sha256"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self.shown: str | None = None
        self.reloads = Counter(
            "houseprice_model_reloads", "Model reloads by result", ["result"], registry=r
        )
        self.connections_open = Gauge(
            "houseprice_connections_open",
            "Open client connections",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.connections_closed = Counter(
            "houseprice_connections_closed",
            "Connections closed by the server's limits: request deadline, idle, per-client cap",
            ["reason"],
            registry=r,
        )

    def show_model(self, sha256: str) -> None:
        # Set to 0, not removed: a worker's file keeps every label it ever wrote.
        if self.shown is not None:
            self.model.labels(sha256=self.shown).set(0)
        self.model.labels(sha256=sha256).set(1)
        self.shown = sha256

    def text(self) -> bytes:
        if not self.multiprocess:
            return generate_latest(self.registry)
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
