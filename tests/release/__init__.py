"""Tests of autograder/release/ and of the authoring guide: the released assignment and its static checks."""
