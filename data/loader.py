"""Read a tabular data set into named numpy columns (numpy and the standard library only).

Two layouts are accepted:
- the UCI ``housing.data`` layout: whitespace-separated numbers, no header, the 14 Boston columns;
- a CSV file whose first row is a header naming the columns.
"""

from __future__ import annotations

import csv
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from houseprice.core.files import unreadable
from houseprice.core.reading import open_regular

BOSTON_COLUMNS = (
    "CRIM",
    "ZN",
    "INDUS",
    "CHAS",
    "NOX",
    "RM",
    "AGE",
    "DIS",
    "RAD",
    "TAX",
    "PTRATIO",
    "B",
    "LSTAT",
    "MEDV",
)
DEFAULT_TARGET = "MEDV"
# Units of the Boston target; any other target column is reported without a unit.
TARGET_UNITS = {"MEDV": "$1000s"}


class DataError(ValueError):
    """A data file cannot be read; the message names the file, and the line and column when known."""


@dataclass(frozen=True)
class Dataset:
    """Features and target of one data file, columns named, rows in file order."""

    features: np.ndarray  # (n_rows, n_features) float64
    target: np.ndarray  # (n_rows,) float64
    feature_names: tuple[str, ...]
    target_name: str
    target_unit: str
    source: str
    sha256: str

    @property
    def n_rows(self) -> int:
        return self.features.shape[0]

    def feature_matrix(self, names: Sequence[str]) -> np.ndarray:
        """The features in the order of ``names`` (exact names), e.g. a model's input columns."""
        missing = [n for n in names if n not in self.feature_names]
        if missing:
            raise DataError(f"{self.source}: no feature {', '.join(missing)}")
        return self.features[:, [self.feature_names.index(n) for n in names]]

    def drop(self, names: list[str] | tuple[str, ...]) -> Dataset:
        """The same data without the named feature columns (names matched case-insensitively)."""
        lookup = {name.lower(): i for i, name in enumerate(self.feature_names)}
        unknown = [n for n in names if n.lower() not in lookup]
        if unknown:
            raise DataError(
                f"cannot drop {', '.join(unknown)}: not a feature of {self.source} "
                f"(features: {', '.join(self.feature_names)})"
            )
        dropped = {lookup[n.lower()] for n in names}
        keep = [i for i in range(len(self.feature_names)) if i not in dropped]
        if not keep:
            raise DataError("cannot drop every feature: at least one must remain")
        return Dataset(
            features=self.features[:, keep],
            target=self.target,
            feature_names=tuple(self.feature_names[i] for i in keep),
            target_name=self.target_name,
            target_unit=self.target_unit,
            source=self.source,
            sha256=self.sha256,
        )


def bundled_data_path() -> Path:
    """Path of the Boston data file shipped inside the package."""
    return Path(str(resources.files("houseprice.data").joinpath("housing.data")))


def load_dataset(path: str | Path | None = None, target: str = DEFAULT_TARGET) -> Dataset:
    """Load ``path`` (the bundled Boston data when None) and split off the ``target`` column."""
    file = Path(path) if path is not None else bundled_data_path()
    raw = _read_bytes(file)
    text = _decode(raw, file)
    lines = text.splitlines()
    first = _first_content_line(lines, file)
    if _looks_like_header(lines[first]):
        names, rows = _parse_csv(lines, file)
    else:
        names, rows = BOSTON_COLUMNS, _parse_whitespace(lines, file)
    table = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(names))
    return _split_target(table, names, target, file, hashlib.sha256(raw).hexdigest())


def _read_bytes(file: Path) -> bytes:
    try:
        with open_regular(file) as handle:  # not a FIFO or device: those block or never end
            return handle.read()
    except OSError as exc:
        message = unreadable(file, exc, missing="no such file", kind="a data file")
        raise DataError(message) from None


def _decode(raw: bytes, file: Path) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{file}: not UTF-8 text (byte {exc.start})") from None


def _first_content_line(lines: list[str], file: Path) -> int:
    for i, line in enumerate(lines):
        if line.strip():
            return i
    raise DataError(f"{file}: empty file, no rows")


def _looks_like_header(line: str) -> bool:
    """A header row is a comma-separated line whose cells are not all numbers."""
    if "," not in line:
        return False
    return not all(_is_number(cell) for cell in line.split(","))


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _parse_whitespace(lines: list[str], file: Path) -> list[list[float]]:
    rows = []
    for lineno, line in enumerate(lines, start=1):
        cells = line.split()
        if not cells:
            continue
        if len(cells) != len(BOSTON_COLUMNS):
            raise DataError(
                f"{file}:{lineno}: expected {len(BOSTON_COLUMNS)} whitespace-separated values "
                f"({' '.join(BOSTON_COLUMNS)}), found {len(cells)}; "
                "for other columns use a CSV file with a header row"
            )
        rows.append([_cell(c, file, lineno, BOSTON_COLUMNS[j]) for j, c in enumerate(cells)])
    return rows


def _parse_csv(lines: list[str], file: Path) -> tuple[tuple[str, ...], list[list[float]]]:
    reader = csv.reader(lines)
    header: tuple[str, ...] | None = None
    rows: list[list[float]] = []
    for cells in reader:
        lineno = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if header is None:
            header = _check_header(cells, file, lineno)
            continue
        if len(cells) != len(header):
            raise DataError(
                f"{file}:{lineno}: expected {len(header)} comma-separated values, found {len(cells)}"
            )
        rows.append([_cell(c, file, lineno, header[j]) for j, c in enumerate(cells)])
    if header is None or not rows:
        raise DataError(f"{file}: header row but no data rows")
    return header, rows


def _check_header(cells: list[str], file: Path, lineno: int) -> tuple[str, ...]:
    names = tuple(c.strip() for c in cells)
    if any(not n for n in names):
        raise DataError(f"{file}:{lineno}: empty column name in the header row")
    seen: set[str] = set()
    for name in names:
        if name.lower() in seen:
            raise DataError(f"{file}:{lineno}: column {name!r} appears twice in the header row")
        seen.add(name.lower())
    return names


FLOAT32_MAX = 3.4028234663852886e38


def _cell(text: str, file: Path, lineno: int, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise DataError(
            f"{file}:{lineno}: column {column}: {text.strip()!r} is not a number"
        ) from None
    if not math.isfinite(value):
        raise DataError(
            f"{file}:{lineno}: column {column}: {text.strip()!r} is not a finite number"
        )
    if abs(value) > FLOAT32_MAX:  # training and the exported graph compute in float32
        raise DataError(
            f"{file}:{lineno}: column {column}: {text.strip()!r} is beyond float32's range "
            f"(+-{FLOAT32_MAX:.4g})"
        )
    return value


def _split_target(
    table: np.ndarray, names: tuple[str, ...], target: str, file: Path, sha256: str
) -> Dataset:
    lookup = {name.lower(): i for i, name in enumerate(names)}
    if target.lower() not in lookup:
        raise DataError(
            f"{file}: no target column {target!r} (columns: {', '.join(names)}); "
            "pick one with --target"
        )
    t = lookup[target.lower()]
    if len(names) < 2:
        raise DataError(f"{file}: only the target column {names[t]!r}, no features")
    keep = [i for i in range(len(names)) if i != t]
    return Dataset(
        features=np.ascontiguousarray(table[:, keep]),
        target=table[:, t].copy(),
        feature_names=tuple(names[i] for i in keep),
        target_name=names[t],
        target_unit=TARGET_UNITS.get(names[t].upper(), ""),
        source=str(file),
        sha256=sha256,
    )
