"""Grading a class, on the host: intake of hand-ins, the template course, workers (local or on Dask)."""
