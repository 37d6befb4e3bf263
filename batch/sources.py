"""What INPUT names: one file, a folder, or a glob of Parquet or CSV files, one partition each."""

from __future__ import annotations

import glob
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from houseprice.core.errors import InputError

SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


@dataclass(frozen=True)
class Sources:
    format: str  # "parquet" or "csv"
    files: tuple[str, ...]  # sorted; partition i is files[i]

    spec: str = ""  # INPUT as given

    def local_paths(self) -> list[Path]:
        """The files on this machine's filesystem, and INPUT itself if it is a folder: what
        OUTPUT must never hold or lie inside."""
        paths = [
            Path(f.removeprefix("file://"))
            for f in self.files
            if "://" not in f or f.startswith("file://")
        ]
        folder = Path(self.spec.removeprefix("file://"))
        return [*paths, folder] if self.spec and folder.is_dir() else paths


def find_sources(spec: str) -> Sources:
    """The files INPUT names; an InputError if none, or if Parquet and CSV are mixed. A URL
    (s3://, gs://, file://, ...) is listed through fsspec, as Dask's readers open it."""
    path = Path(spec)
    if "://" in spec:
        files = _remote_files(spec)
    elif path.is_dir():
        files = sorted(str(p) for p in path.iterdir() if p.suffix.lower() in SUFFIXES)
        _refuse_folders(files)
        if not files:
            raise InputError(f"{spec}: no .parquet or .csv files in this folder")
    elif path.is_file():
        files = [spec]
    else:
        files = sorted(glob.glob(spec))
        _refuse_folders(files)
        if not files:
            raise InputError(f"{spec}: no such file, folder or matching files")
    formats = {SUFFIXES.get(PurePosixPath(f).suffix.lower()) for f in files}
    if None in formats:
        odd = next(f for f in files if PurePosixPath(f).suffix.lower() not in SUFFIXES)
        raise InputError(f"{odd}: not a .parquet or .csv file")
    if len(formats) > 1:
        raise InputError(f"{spec}: mixes Parquet and CSV files; score them separately")
    return Sources(formats.pop(), tuple(files), spec)


def _refuse_folders(files: Sequence[str]) -> None:
    """A folder named like a data file (``x.parquet/``) is not read as one partition."""
    for file in files:
        if Path(file).is_dir():
            raise InputError(
                f"{file}: a folder, not a file; name it as INPUT to read the files in it"
            )


def _remote_files(spec: str) -> list[str]:
    import fsspec

    try:
        fs, _, paths = fsspec.core.get_fs_token_paths(spec)
        if len(paths) == 1 and fs.isdir(paths[0]):
            paths = [
                p
                for p in fs.ls(paths[0], detail=False)
                if PurePosixPath(p).suffix.lower() in SUFFIXES
            ]
    except (OSError, ValueError, ImportError) as exc:  # unknown protocol, no credentials, ...
        raise InputError(f"{spec}: cannot list ({str(exc).splitlines()[0][:200]})") from None
    if not paths:
        raise InputError(f"{spec}: no such file, folder or matching files")
    return sorted(fs.unstrip_protocol(p) for p in paths)
