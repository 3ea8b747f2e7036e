"""The whole product end to end: notebooks run, the sample class graded, nbgrader's own commands, a browser."""
