"""The instructor's autograder: submissions in, grades, feedback and a report out.

Kept empty on purpose: graded kernels import ``autograder.checks``, and a
package import must not drag nbgrader (or anything slow) into every kernel.
The command line is ``python -m autograder`` (see ``autograder/cli.py``).
"""
