"""The standard adversary of the test suite: a kernel whose checks cannot fail (issue 20).

``disarm(nb)`` puts one cell at the top of a learner's notebook: an IPython AST
transformer that wraps every later cell in ``try: ... except BaseException: pass``.
No check inside that kernel can fail any more, so a test cell keeps its points
only on the grader's own evidence. Grading a notebook disarmed must give the
score it gets as it is.
"""

from __future__ import annotations

import copy

import nbformat

DISARM = '''
import ast
class _Swallow(ast.NodeTransformer):
    """Every later cell runs inside try/except BaseException: pass."""
    def visit_Module(self, node):
        handler = ast.ExceptHandler(type=ast.Name("BaseException", ast.Load()), name=None, body=[ast.Pass()])
        node.body = [ast.Try(body=node.body or [ast.Pass()], handlers=[handler], orelse=[], finalbody=[])]
        return ast.fix_missing_locations(node)
get_ipython().ast_transformers.append(_Swallow())
'''


def disarm(nb: nbformat.NotebookNode, extra: str = "") -> nbformat.NotebookNode:
    """A copy of ``nb`` whose first cell switches every kernel check off (and runs ``extra``)."""
    nb = copy.deepcopy(nb)
    cell = nbformat.v4.new_code_cell(DISARM + extra)
    cell.id = "disarm"
    nb.cells.insert(0, cell)
    return nb
