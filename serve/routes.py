"""hp-serve's routes as one table of `Endpoint`s: the Starlette app is built from it, and so are
the OpenAPI document, the metrics' route labels and the routes open without the token, so none
of them can drift from the code that answers."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, compile_path

Handler = Callable[[Request], Awaitable[Response]]
JSON = "application/json"
_REMEMBERED = 1024  # request paths whose route label is kept


@dataclass(frozen=True)
class Answer:
    """One status a route gives: what it means, and its body by media type (a schema name
    under the document's components, or None for a body with no schema, such as text)."""

    description: str
    media: dict[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Param:
    name: str
    where: str  # "query" or "header"
    description: str
    schema: dict = field(default_factory=lambda: {"type": "string"})


@dataclass(frozen=True)
class Endpoint:
    path: str  # a Starlette path: "/v2/models/{name}/infer"
    method: str
    handler: Handler
    summary: str
    answers: dict[int, Answer]
    body: dict[str, str | None] = field(default_factory=dict)  # request media type -> schema
    params: tuple[Param, ...] = ()
    open: bool = False  # answered without the bearer token (health checks for probes)
    hot: bool = False  # where the houses go: matched first (Starlette tries routes in order)
    tag: str = "v1"


def error(description: str) -> Answer:
    return Answer(description, {JSON: "Error"})


def starlette_routes(endpoints: Sequence[Endpoint]) -> list[Route]:
    """One Route per path, with every method the table gives it, the hot ones first: Starlette
    tries routes in order, a regular expression each."""
    handlers: dict[str, dict[str, Handler]] = {}
    for e in sorted(endpoints, key=lambda e: not e.hot):
        handlers.setdefault(e.path, {})[e.method] = e.handler
    return [Route(path, _by_method(h), methods=list(h)) for path, h in handlers.items()]


def _by_method(handlers: dict[str, Handler]) -> Handler:
    if len(handlers) == 1:
        return next(iter(handlers.values()))

    async def dispatch(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await handlers[method](request)

    return dispatch


class RouteLabels:
    """A request path -> the route it matches, as the table writes it ("/v2/models/{name}"), or
    "other": a metric label that does not grow with the paths clients invent."""

    def __init__(self, endpoints: Sequence[Endpoint]):
        paths = dict.fromkeys(e.path for e in endpoints)
        self._exact = {p for p in paths if "{" not in p}
        self._templates = [(compile_path(p)[0], p) for p in paths if "{" in p]
        self.open = frozenset(e.path for e in endpoints if e.open)
        self._seen: dict[str, str] = {}  # path -> label, for the templated routes

    def __call__(self, path: str) -> str:
        if path in self._exact:
            return path
        label = self._seen.get(path)
        if label is None:
            label = next((t for p, t in self._templates if p.match(path)), "other")
            if len(self._seen) < _REMEMBERED:  # bounded: clients can invent any number of paths
                self._seen[path] = label
        return label


def path_parameters(path: str) -> list[str]:
    return re.findall(r"{(\w+)}", path)
