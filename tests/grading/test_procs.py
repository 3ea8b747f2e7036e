"""autograder/grading/procs.py: a process a notebook leaves behind is found and killed."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder.grading import procs


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs Linux /proc")
def test_a_process_left_behind_is_found_and_killed():
    assert procs.become_subreaper()
    before = procs.descendants()
    # A grandchild in its own session, its parent gone: what `nohup ... &` from a kernel leaves.
    subprocess.run([sys.executable, "-c",
                    "import subprocess; subprocess.Popen(['sleep', '300'], start_new_session=True)"], check=True)
    time.sleep(0.2)
    killed = procs.kill_new_descendants(before)
    assert any("sleep 300" in k for k in killed)
    assert not (procs.descendants() - before)
