"""Tests of autograder/kernel/: what runs inside a graded kernel and its warm process."""
