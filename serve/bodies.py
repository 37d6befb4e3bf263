"""Request bodies read within the server's limit, and the one shape of every error answer."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse


async def read_body(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it is known to exceed ``limit`` (never buffered whole).
    Raises ClientDisconnect when the client goes (or the request deadline closes it)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        return None
    parts, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
    return b"".join(parts)


def json_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def too_large(limit: int) -> JSONResponse:
    return json_error(413, f"body larger than {limit:,} bytes")


def cut_short() -> JSONResponse:
    return json_error(408, "the request did not arrive whole")
