"""Tests of autograder/lab/: `make lab`'s JupyterLab launcher."""
