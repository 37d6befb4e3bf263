"""`hp-serve`: the torch-free runtime as an HTTP service (Starlette on uvicorn, `serve` extra)."""
