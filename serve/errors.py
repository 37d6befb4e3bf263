"""How a runtime InputError becomes an HTTP answer: 400 for a body that is not well-formed JSON or
CSV, 422 for well-formed houses that fail validation, with the record and field named."""

from __future__ import annotations

import re
from typing import Any

BODY = "body"  # the name the runtime's messages give the request body
# The runtime's messages start "body:LINE: ", "body: $[i]: " or "body: ", then maybe "FIELD: ".
_WHERE = re.compile(r"^body(?::(?P<line>\d+)|: \$\[(?P<index>\d+)\])?: (?:(?P<field>[^\s:]+): )?")
_MALFORMED = (
    "malformed JSON",
    "malformed CSV",
    "not UTF-8",
    "nested too deeply",
    "unreadable JSON number",
    "empty input",
    "empty array",
    "expected a JSON object or an array",
    "values, the header has",
)


def input_error_body(message: str, features: tuple[str, ...]) -> tuple[int, dict[str, Any]]:
    """(status, JSON body) for an InputError message about the request body."""
    match = _WHERE.match(message)
    record = field = None
    if match:
        if match["line"]:
            record = f"line {match['line']}"
        elif match["index"]:
            record = f"$[{match['index']}]"
        if match["field"] in features:
            field = match["field"]
    status = 400 if any(m in message for m in _MALFORMED) else 422
    return status, {"error": message, "record": record, "field": field}
