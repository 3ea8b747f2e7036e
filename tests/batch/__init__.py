"""Tests of autograder/batch/: a class graded (intake, the run, the Dask cluster, robustness)."""
