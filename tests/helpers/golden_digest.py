"""What a graded class says, times aside: the rows, each feedback page's status banner, and each test
cell's errors. Recorded from the sample class before the autograder was rebuilt (issue 22) and
compared after, so a redesign that changes a grade, a reason or a learner's message is caught.

Regenerate (only when a change of grades is intended):
    python tests/helpers/golden_digest.py OUT > tests/golden/sample_class.json
where OUT is the --out folder of the sample class graded as tests/e2e/test_sample_class.py does.
"""

from __future__ import annotations

import csv
import html
import json
import re
import sys
from pathlib import Path

import nbformat

TIME_COLUMNS = ("submitted_at",)  # the hand-in's mtime: the checkout's time, not the grader's doing
_NUMBER = re.compile(r"\d+\.\d+")  # seconds measured in a run (wall times, overlaps) vary run to run
# Test cells whose message (never their score) may differ between two runs of the same notebook.
VARYING = {
    ("dev_wrong_ideas/crew_processes/02_hierarchical.ipynb", "test_hier_answers"):
        "CrewAI 1.15.30 fails async tasks under the hierarchical process only sometimes (docs/crewai-facts.md), "
        "so the learner's cell either stopped (the test says `extra_calls` is missing) or ran (it names the "
        "async tasks); either way the test fails",
}


def digest(out: Path) -> dict:
    with open(out / "grades.csv", newline="", encoding="utf-8") as handle:
        rows = [{k: v for k, v in row.items() if k not in TIME_COLUMNS} for row in csv.DictReader(handle)]
    pages, tests = {}, {}
    for page in sorted((out / "feedback").rglob("*.html")):
        key = page.relative_to(out / "feedback").as_posix()
        match = re.search(r'<div class="autograder-status".*?</div>', page.read_text(encoding="utf-8"), re.S)
        pages[key] = _text(match.group(0)) if match else None
    for path in sorted((out / "autograded").rglob("*.ipynb")):
        key = path.relative_to(out / "autograded").as_posix()
        tests[key] = _test_errors(nbformat.read(str(path), as_version=4))
        for (notebook, grade_id) in VARYING:
            if notebook == key and grade_id in tests[key]:
                tests[key][grade_id] = ["fails"] if tests[key][grade_id] else []
    return {"rows": rows, "banners": pages, "test_errors": tests}


def _test_errors(nb) -> dict[str, list[str]]:
    found = {}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") == "code" and meta.get("grade") and not meta.get("solution"):
            found[meta.get("grade_id", "?")] = [
                _NUMBER.sub("#", f"{o.get('ename')}: {o.get('evalue')}") for o in cell.get("outputs", [])
                if o.get("output_type") == "error"]
    return found


def _text(fragment: str) -> str:
    return _NUMBER.sub("#", " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split()))


if __name__ == "__main__":
    json.dump(digest(Path(sys.argv[1])), sys.stdout, indent=1, sort_keys=True, ensure_ascii=False)
    sys.stdout.write("\n")
