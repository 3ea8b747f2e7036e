"""The learner's JupyterLab (``make lab``, ``python -m autograder lab``): runs on a learner's machine, grades nothing."""
