"""What INPUT names: one file, a folder, or a glob of Parquet or CSV files, one partition each."""

from __future__ import annotations

import glob
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from houseprice.runtime.errors import InputError
from houseprice.runtime.validate import show

SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


@dataclass(frozen=True)
class Sources:
    format: str  # "parquet" or "csv"
    files: tuple[str, ...]  # sorted; partition i is files[i]

    def read(self) -> Any:
        """A Dask DataFrame with one partition per file, in file order."""
        import dask.dataframe as dd

        if self.format == "parquet":
            return dd.read_parquet(list(self.files), split_row_groups=False, blocksize=None)
        return dd.read_csv(list(self.files), blocksize=None)


def find_sources(spec: str) -> Sources:
    """The files INPUT names; an InputError if none, or if Parquet and CSV are mixed. A URL
    (s3://, gs://, file://, ...) is listed through fsspec, as Dask's readers open it."""
    path = Path(spec)
    if "://" in spec:
        files = _remote_files(spec)
    elif path.is_dir():
        files = sorted(str(p) for p in path.iterdir() if p.suffix.lower() in SUFFIXES)
        if not files:
            raise InputError(f"{spec}: no .parquet or .csv files in this folder")
    elif path.is_file():
        files = [spec]
    else:
        files = sorted(glob.glob(spec))
        if not files:
            raise InputError(f"{spec}: no such file, folder or matching files")
    formats = {SUFFIXES.get(PurePosixPath(f).suffix.lower()) for f in files}
    if None in formats:
        odd = next(f for f in files if PurePosixPath(f).suffix.lower() not in SUFFIXES)
        raise InputError(f"{odd}: not a .parquet or .csv file")
    if len(formats) > 1:
        raise InputError(f"{spec}: mixes Parquet and CSV files; score them separately")
    return Sources(formats.pop(), tuple(files))


def _remote_files(spec: str) -> list[str]:
    import fsspec

    try:
        fs, _, paths = fsspec.core.get_fs_token_paths(spec)
        if len(paths) == 1 and fs.isdir(paths[0]):
            paths = [p for p in fs.ls(paths[0], detail=False)
                     if PurePosixPath(p).suffix.lower() in SUFFIXES]  # fmt: skip
    except (OSError, ValueError, ImportError) as exc:  # unknown protocol, no credentials, ...
        raise InputError(f"{spec}: cannot list ({str(exc).splitlines()[0][:200]})") from None
    if not paths:
        raise InputError(f"{spec}: no such file, folder or matching files")
    return sorted(fs.unstrip_protocol(p) for p in paths)


def diagnose(sources: Sources, columns: Sequence[str], error: Exception) -> InputError:
    """The first file and row that made reading fail (a missing column, a string cell), found
    by reading the files again one by one, in the client. Only ever run after a failure."""
    for file in sources.files:
        try:
            frame = _read_text(sources.format, file)
        except Exception as exc:  # any reader error is this file's
            return InputError(f"{file}: unreadable ({_first_line(exc)})")
        lower = {str(c).lower(): c for c in frame.columns}
        for column in columns:
            if column.lower() not in lower:
                return InputError(f"{file}: no column {column}")
            error = non_number(frame[lower[column.lower()]], column,
                               lambda i, file=file: f"{file}: row {i + 1}")  # fmt: skip
            if error is not None:
                return error
    return InputError(f"reading the input failed: {_first_line(error)}")


def non_number(values: pd.Series, column: str, locate: Callable[[int], str]) -> InputError | None:
    """The error for the first cell of ``values`` that is neither missing nor a number."""
    numbers = pd.to_numeric(values, errors="coerce")
    bad = (numbers.isna() & values.notna()).to_numpy().nonzero()[0]
    if not len(bad):
        return None
    i = int(bad[0])
    return InputError(f"{locate(i)}: {column}: expected a number, got {show(str(values.iloc[i]))}")


def _read_text(fmt: str, file: str) -> pd.DataFrame:
    if fmt == "csv":
        return pd.read_csv(file, dtype=str)
    return pd.read_parquet(file)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
