"""The warm process's kernel side (autograder/kernel/zygote.py): what a forked kernel does as it ends."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from autograder.paths import ROOT

# In a process of its own: it registers exit handlers and makes ipykernel's application singleton.
ENDING = textwrap.dedent("""
    import atexit
    from ipykernel.kernelapp import IPKernelApp
    from autograder.kernel import zygote

    calls = []
    IPKernelApp.close = lambda self: calls.append("IPKernelApp.close")
    app = IPKernelApp.instance()
    atexit.register(app.close)  # as IPKernelApp.init_sockets does
    atexit.register(lambda: calls.append("the course's clean-up"))  # as course/offline.py does
    zygote._run_exit_handlers()
    print(calls)
""")


def test_a_forked_kernel_runs_its_codes_exit_handlers_but_not_ipykernels_close():
    """A kernel that ends runs what its code registered at exit (the course's temp folder goes), but
    not ipykernel's close: that joins the Control thread, which can be waiting 10 s for an IOPub
    thread close() already stopped, and the grader then SIGTERMs the kernel at 2.5 s (one stop in
    five, measured on cleo_partial's 01, before this)."""
    done = subprocess.run([sys.executable, "-c", ENDING], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[\"the course's clean-up\"]", done.stdout
