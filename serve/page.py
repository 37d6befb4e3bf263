"""The pricing page at `/`: one HTML file with its style and script inline (nothing fetched from
elsewhere, so it works offline and behind a locked-down network), and a Content-Security-Policy
that allows exactly those two blocks and requests to this server."""

from __future__ import annotations

import base64
import hashlib
import re
from importlib import resources

from starlette.requests import Request
from starlette.responses import Response

PAGE = resources.files(__package__).joinpath("page.html").read_bytes()


def _hash(kind: str) -> str:
    tag = kind.encode()
    (block,) = re.findall(rb"<" + tag + rb">(.*?)</" + tag + rb">", PAGE, re.S)
    return f"'sha256-{base64.b64encode(hashlib.sha256(block).digest()).decode()}'"


POLICY = (
    f"default-src 'none'; script-src {_hash('script')}; style-src {_hash('style')}; "
    "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {"content-security-policy": POLICY, "x-content-type-options": "nosniff"}


async def page(request: Request) -> Response:
    return Response(PAGE, media_type="text/html; charset=utf-8", headers=HEADERS)
