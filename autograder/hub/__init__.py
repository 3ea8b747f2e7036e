"""A class on JupyterHub (issue 24): the instructor's and the learners' servers on one machine.

    python -m autograder hub demo                                        (make hub: all below, a demo class)
    python -m autograder hub setup  [--root DIR] [--env DIR]              (as root)
    python -m autograder hub users  INSTRUCTOR STUDENT...                 (as root; prints passwords)
    python -m autograder hub course INSTRUCTOR                           (as root: the course folder)
    python -m autograder hub start  INSTRUCTOR STUDENT... [--ip ADDR] [--port N]  (as root)

- ``site.py``: where a hub keeps its files (``HubSite``) and the installing of each: the learners'
  Python environment (read-only for them, without source/ or any solution), the proxy (Node's
  configurable-http-proxy, pinned in ``proxy/package-lock.json``), nbgrader's exchange and the
  hub's configuration.
- ``accounts.py``: real, unprivileged system users for a demo class (PAM logs them in).
- ``singleuser.py``: what each user's server runs: the lab's configuration (warm kernels, offline,
  no news), with the Assignment List for everyone and the Formgrader for the instructor.
- ``exchange.py``: nbgrader's collect that refuses a hand-in whose folder belongs to another user.
- ``server.py``: the hub process, started and stopped; the ``hub`` command.

The test that runs a whole term through it in Chromium: tests/e2e/test_hub.py.
"""
