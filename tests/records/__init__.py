"""Tests of autograder/records/: grades.csv, the gradebook (SQLite, PostgreSQL), exports."""
