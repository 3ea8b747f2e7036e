"""Grading one notebook, on the host: the steps (``notebook.py``), the sandbox and warm kernels its
kernel runs in, the model's witness and its rules, and the verdict's wording.

Kept light on purpose: ``autograder.grading.settings`` and ``.result`` cross to the batch without nbgrader.
"""
