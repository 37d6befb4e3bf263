"""JSON input, read one way everywhere: json's parser, with every repeated key caught.

json keeps a repeated key's last value silently; a house must give each feature once, so the
readers, the JSON Lines fast path and the server's one-house path all ask this module: a cheap
count says when an object *may* repeat a key, and only then is the text parsed again, keeping
every pair, so that validation names the key given twice.
"""

from __future__ import annotations

import json
from typing import Any


class KeysGivenTwice(dict):
    """A JSON object in which a key appeared more than once (json keeps the last silently).
    Readers build these through `object_pairs`; validation rejects them by name."""

    twice: str = ""


def object_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json's ``object_pairs_hook``: a plain dict, or a `KeysGivenTwice` naming the first key
    given twice, so that the error names the record like every other validation error."""
    record = dict(pairs)
    if len(record) == len(pairs):
        return record
    seen: set[str] = set()
    flagged = KeysGivenTwice(record)
    for key, _ in pairs:
        if key in seen:
            flagged.twice = key
            break
        seen.add(key)
    return flagged


def may_repeat_keys(text: str, keys: int) -> bool:
    """In flat objects of numbers the text holds one ':' per key-value pair: as many as the
    parsed objects have keys means none was repeated. More (a repeat, or a ':' inside a string)
    means the text must be parsed again, keeping every pair."""
    return text.count(":") != keys


def flag_repeated_keys(value: Any, text: str) -> Any:
    """``value`` (parsed from ``text``) with every object whose keys repeat turned into a
    `KeysGivenTwice`; the text is parsed again only when `may_repeat_keys` says it must be."""
    records = [value] if isinstance(value, dict) else value if isinstance(value, list) else []
    keys = sum(len(r) for r in records if type(r) is dict)
    if not may_repeat_keys(text, keys):
        return value
    return json.loads(text, object_pairs_hook=object_pairs)


def lines_with_repeated_keys(lines: list[str], records: list[Any]) -> list[int]:
    """Lines that may repeat a key (see `flag_repeated_keys`)."""
    return [
        i
        for i, (line, record) in enumerate(zip(lines, records, strict=True))
        if type(record) is dict and may_repeat_keys(line, len(record))
    ]
