"""The kit inside a real Jupyter kernel, as learners and nbgrader run it."""

from __future__ import annotations

import json

import nbformat
import pytest
from nbclient import NotebookClient

CELLS = [
    "import course\nfrom course import examples\ncourse.reset_default_llm(latency=0.2)",
    # The trap the notes describe: plain kickoff inside a running event loop.
    "try:\n    examples.sequential_crew().kickoff()\n    plain = 'ran'\nexcept RuntimeError as e:\n    plain = str(e)",
    "result = await examples.async_crew().kickoff_async()\nrun = course.last_run()",
    "import json\nprint(json.dumps({'plain': plain, 'pairs': len(run.overlapping_pairs()),"
    " 'joined': run.started_after_all('synthesis', [t.name for t in run.tasks if t.async_execution]),"
    " 'attempts': course.network_attempts(),"
    " 'raw': result.raw[:5]}))",
]


@pytest.mark.slow
def test_kickoff_async_in_a_kernel_overlaps_and_joins(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src, id=f"c{i}") for i, src in enumerate(CELLS)]
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    report = json.loads(nb.cells[-1].outputs[0]["text"])
    assert "running event loop" in report["plain"] and "kickoff_async" in report["plain"]
    assert report["pairs"] == 3 and report["joined"] is True
    assert report["raw"] == "[ref:" and report["attempts"] == []
