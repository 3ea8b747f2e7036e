"""What runs inside a learner's kernel or its sandbox, besides the checks: the witness client and the zygote.

With ``autograder/checks/`` and ``autograder/paths.py`` this is all of the grader a kernel's kit holds
(``paths.KIT_PARTS``); the rest of ``autograder`` stays on the host.
"""
