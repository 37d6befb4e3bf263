"""Bundled Boston housing data and a torch-free loader."""

from houseprice.data.loader import (
    BOSTON_COLUMNS,
    DEFAULT_TARGET,
    DataError,
    Dataset,
    bundled_data_path,
    load_dataset,
)

__all__ = [
    "BOSTON_COLUMNS",
    "DEFAULT_TARGET",
    "DataError",
    "Dataset",
    "bundled_data_path",
    "load_dataset",
]
