"""A folder of Parquet files to try hp-batch on: the example houses, repeated, in parts.

    python examples/make_parquet.py houses/            # 4 files of 2,500 houses
    hp-batch houses/ priced/

Needs the dask extra (pandas and pyarrow)."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

HOUSES = Path(__file__).with_name("houses.jsonl")


def main(folder: str, parts: int = 4, rows: int = 2500) -> None:
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    base = pd.read_json(HOUSES, lines=True)
    houses = pd.concat([base] * (parts * rows // len(base) + 1), ignore_index=True)
    for part in range(parts):
        houses.iloc[part * rows : (part + 1) * rows].to_parquet(
            out / f"part.{part:03d}.parquet", index=False
        )
    print(f"wrote {parts} Parquet files of {rows:,} houses to {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "houses")
