"""Batch scoring on a Dask cluster: Parquet or CSV partitions in, the same partitions with a price
column out. Needs the `dask` extra."""
