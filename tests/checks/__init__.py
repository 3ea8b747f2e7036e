"""Tests of autograder/checks/: the grading checks the notebooks' test cells call."""
