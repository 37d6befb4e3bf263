"""A CSV house's line, for messages: hp-infer names a CSV house by the line it ends on
(`houses.csv:5`, the header being line 1), and hp-batch names the same cell the same way.

pandas reads the rows but keeps no line numbers (it skips blank lines, and a quoted value may span
lines), so the lines are counted again with the csv module, the way hp-infer's reader counts
them, and only when a message needs one: pricing never pays for it.
"""

from __future__ import annotations

import csv
import io

from houseprice.runtime.csv_reader import is_blank


class CsvLines:
    """``locate(row)`` -> ``"file:line"`` for a data row of ``file`` counted from 0."""

    def __init__(self, file: str):
        self.file = file
        self._ends: list[int] | None = None

    def __call__(self, row: int) -> str:
        if self._ends is None:
            self._ends = _record_ends(self.file)
        if 0 <= row < len(self._ends):
            return f"{self.file}:{self._ends[row]}"
        return f"{self.file}: row {row + 1}"  # the file changed under us: say what pandas saw


def _record_ends(file: str) -> list[int]:
    """The line each data record ends on, blank lines skipped as pandas and hp-infer skip them."""
    import fsspec  # a dask dependency; local paths and URLs alike

    ends: list[int] = []
    try:
        with fsspec.open(file, "rb") as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
            reader = csv.reader(text)
            header_seen = False
            for row in reader:
                if is_blank(row):
                    continue
                if header_seen:
                    ends.append(reader.line_num)
                header_seen = True
    except (OSError, csv.Error):
        pass  # the rows counted so far still name their lines; later ones fall back to "row N"
    return ends
