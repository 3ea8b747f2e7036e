"""nbgrader configuration: the repository root is the course directory.

Everything nbgrader needs to grade this course safely (time limits, dead
kernels, restored test cells, feedback without hidden tests or server paths)
is set by ``autograder/nbgrader_setup.py``, the one home of the course's
nbgrader configuration; see the README's instructor section.
"""

import os
import sys

c = get_config()  # noqa: F821 (provided by nbgrader)

here = os.path.dirname(os.path.abspath(__file__))
if here not in sys.path:
    sys.path.insert(0, here)  # the course's own packages, also when nbgrader runs from elsewhere

from autograder import nbgrader_setup  # noqa: E402

nbgrader_setup.configure(c, here)
# Due date per assignment, for both `nbgrader autograde` and `python -m autograder grade`
# (autograder/records/late.py), e.g. {"crew_processes": "2026-12-04 23:59:00 UTC"}; a time without
# zone is UTC. Empty: no due date here (one set with `nbgrader db assignment add --duedate`
# still counts for nbgrader's commands).
c.DueDates.assignments = {"crew_processes": ""}
# nbgrader's late policy: "none" (lateness is shown, no penalty) or "zero" (a late notebook
# scores 0); or your own plugin: c.AssignLatePenalties.plugin_class = "mymodule.MyPlugin".
c.LateSubmissionPlugin.penalty_method = "none"
# Self-study set-up: no shared exchange directory, so the Assignment List and
# Course List (which need one) are not used; see the README.
c.Exchange.root = os.path.join(here, "build", "exchange")
c.Exchange.assignment_dir = here
