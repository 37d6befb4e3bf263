"""How a runtime InputError becomes an HTTP answer: 400 for a body from which no house can be read
(a MalformedInputError: empty, not UTF-8, not well-formed JSON or CSV), 422 for well-formed houses
that fail validation, with the record and field named."""

from __future__ import annotations

import re
from typing import Any

from houseprice.core.errors import InputError, MalformedInputError

BODY = "body"  # the name the runtime's messages give the request body
# The runtime's messages start "body:LINE: ", "body: $[i]: " or "body: ", then maybe "FIELD: ".
_WHERE = re.compile(r"^body(?::(?P<line>\d+)|: \$\[(?P<index>\d+)\])?: (?:(?P<field>[^\s:]+): )?")


def input_error_body(exc: InputError, features: tuple[str, ...]) -> tuple[int, dict[str, Any]]:
    """(status, JSON body) for an InputError about the request body."""
    message = str(exc)
    match = _WHERE.match(message)
    record = field = None
    if match:
        if match["line"]:
            record = f"line {match['line']}"
        elif match["index"]:
            record = f"$[{match['index']}]"
        if match["field"] in features:
            field = match["field"]
    status = 400 if isinstance(exc, MalformedInputError) else 422
    return status, {"error": message, "record": record, "field": field}
