"""Loaded by schemathesis (SCHEMATHESIS_HOOKS) in tests/serve/test_openapi.py: JSON Lines bodies
for /v1/predict, which schemathesis has no serializer of its own for."""

from __future__ import annotations

import json

import schemathesis


@schemathesis.serializer("application/x-ndjson", "application/jsonl")
def json_lines(ctx, value):
    """A generated string goes as it is; anything else as one JSON line."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value).encode() + b"\n"
