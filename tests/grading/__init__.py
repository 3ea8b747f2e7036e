"""Tests of autograder/grading/ (one notebook graded: sandbox, witness, feedback, tamper) and of autograder/kernel/."""
