"""Write prices in the shape of the input: object, array, JSON Lines, or CSV with a price column."""

from __future__ import annotations

import csv
import io
from typing import BinaryIO

import numpy as np

from houseprice.runtime.readers import Batch, Format

# Prices are float32 from the graph; 5 decimals keep every digit float32 holds for prices up to
# ~100 in the target's unit, without float64 noise like 23.456790924072266.
DECIMALS = 5


def _prices(prices: np.ndarray) -> list[float]:
    return np.round(prices.astype(np.float64), DECIMALS).tolist()


def jsonl_prices(prices: np.ndarray) -> bytes:
    """One ``{"price": p}`` line per house: JSON Lines output needs no state across chunks."""
    return "".join([f'{{"price": {v!r}}}\n' for v in _prices(prices)]).encode()


class PriceWriter:
    """Receives JSON or CSV batches in order and writes them to ``sink``; ``close`` finishes the
    document. (JSON Lines output is written by `jsonl_prices`, chunk by chunk.)"""

    def __init__(self, sink: BinaryIO, fmt: Format, csv_header: list[str] | None = None):
        self.sink, self.format = sink, fmt
        self.csv_header = csv_header
        self.started = False
        self.single = False

    def write(self, batch: Batch, prices: np.ndarray) -> None:
        values = _prices(prices)
        if self.format is Format.csv:
            self._write_csv(batch, values)
        elif batch.single:
            self.single = True
            self.sink.write(f'{{"price": {values[0]!r}}}\n'.encode())
        else:
            items = ", ".join([f'{{"price": {v!r}}}' for v in values])
            self.sink.write((("[" if not self.started else ", ") + items).encode())
        self.started = True

    def close(self) -> None:
        if self.format is Format.json and not self.single:
            self.sink.write(b"]\n" if self.started else b"[]\n")

    def _write_csv(self, batch: Batch, values: list[float]) -> None:
        text = io.StringIO(newline="")
        writer = csv.writer(text, lineterminator="\n")
        if not self.started:
            writer.writerow([*(self.csv_header or []), "price"])
        rows = batch.csv_rows or []
        writer.writerows([*row, value] for row, value in zip(rows, values, strict=True))
        self.sink.write(text.getvalue().encode())
