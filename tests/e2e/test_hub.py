"""A whole term on the class hub (issue 24), in Chromium, with real system users.

The hub is made by the project's own set-up (autograder/hub/: `python -m autograder hub setup`),
started, and stopped again; the users it makes are removed after. The instructor releases
`crew_processes`; Ada (correct work) and Bo (partly) log in, fetch it in the Assignment List,
Validate and submit; the due date passes, and Cleo submits late; the instructor collects, grades with
`grade` (sandbox and witness on, as the instructor's user) into the course gradebook, looks at the
Formgrader, exports for Canvas and releases feedback; Ada fetches hers and sees only her own page,
without any hidden test. Bo attacks his classmates and the instructor through the hub, the exchange
and his own code. Screenshots: test-artifacts/hub/.
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from autograder.hub import accounts, course
from autograder.hub.server import HubServer
from autograder.hub.singleuser import COURSE_FOLDER
from autograder.hub.site import DEFAULT_ENV, HubSite, setup
from autograder.paths import ASSIGNMENT, COURSE_ID, SAMPLE_CLASS
from tests.helpers import ROOT
from tests.helpers.browser.jupyterlab import CHROMIUM, LabNotebook, Shots, launch_chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ARTIFACTS = ROOT / "test-artifacts" / "hub"
TEACH, ADA, BO, CLEO = "crewhubteach", "crewhubada", "crewhubbo", "crewhubcleo"
# Whose work each learner hands in: the sample class's (autograder/sample_class/expected.csv).
WORK = {ADA: "ada_perfect", BO: "cleo_partial", CLEO: "ada_perfect"}
TOTALS = {ADA: 28, BO: 14, CLEO: 0}  # Cleo's is late, and this course's policy then gives 0


@pytest.fixture(scope="module")
def hub():
    if os.geteuid() != 0:
        pytest.skip("the hub test makes system users and runs the hub as root: run make test as root")
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make browser` (part of `make test`) installs Debian's chromium")
    for name in (TEACH, ADA, BO, CLEO):
        accounts.remove(name)  # left by a run that was killed (only users the hub made)
    root = Path(tempfile.mkdtemp(prefix="crewhub-test-", dir="/tmp"))
    root.chmod(0o755)
    site = HubSite(root, DEFAULT_ENV, TEACH, (ADA, BO, CLEO))
    passwords = {}
    server = None
    try:
        setup(site, say=lambda line: None)
        passwords = {name: accounts.make(name) for name in site.users}
        course.make(TEACH, site.exchange)
        server = HubServer(site).start()
        yield site, server, passwords
    finally:
        if server is not None:
            server.stop()
        for name in site.users:
            accounts.remove(name)
        shutil.rmtree(root, ignore_errors=True)


def as_user(site: HubSite, name: str, *argv: str, cwd: Path | None = None) -> str:
    """A command as ``name``, as a terminal of their server runs it; fails the test if it fails."""
    done = accounts.run_as(name, list(argv), cwd=cwd, env={"PATH": f"{site.env / 'bin'}:/usr/bin:/bin"})
    assert done.returncode == 0, f"{' '.join(argv)} as {name} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout + done.stderr


def code_as(site: HubSite, name: str, code: str) -> str:
    """Python run as ``name`` (what a notebook cell of theirs can do); its output."""
    return accounts.run_as(name, [str(site.python), "-c", code], env={"PATH": "/usr/bin:/bin"}).stdout.strip()


def teacher(site: HubSite, *argv: str) -> str:
    return as_user(site, TEACH, *argv, cwd=accounts.home(TEACH) / COURSE_FOLDER)


def log_in(page, hub: HubServer, name: str, password: str) -> None:
    page.goto(f"{hub.url}/hub/login")
    page.fill("#username_input", name)
    page.fill("#password_input", password)
    page.click("#login_submit")
    page.wait_for_url(f"**/user/{name}/**", timeout=120_000)
    expect(page.locator(".jp-LabShell")).to_be_visible(timeout=120_000)


def assignment_list(page, hub: HubServer, name: str):
    page.goto(f"{hub.url}/user/{name}/lab")
    expect(page.locator(".jp-LabShell")).to_be_visible(timeout=120_000)
    page.locator(".lm-MenuBar-item", has_text="Nbgrader").click()
    page.locator(".lm-Menu-item", has_text="Assignment List").click()
    panel = page.locator(".lm-DockPanel")
    expect(panel.locator("#released_assignments_list, #fetched_assignments_list").first).to_be_visible()
    return panel


def hand_in_work(site: HubSite, name: str) -> None:
    """The learner's work, saved into the fetched notebooks as files of theirs."""
    folder = accounts.home(name) / ASSIGNMENT
    owner = folder.stat()
    for notebook in sorted((SAMPLE_CLASS / WORK[name] / ASSIGNMENT).glob("*.ipynb")):
        shutil.copyfile(notebook, folder / notebook.name)  # the sample class is root's alone on a hub
        os.chown(folder / notebook.name, owner.st_uid, owner.st_gid)


def fetch_work_validate_submit(page, hub, site, name, password, shots) -> tuple[bool, str]:
    log_in(page, hub, name, password)
    panel = assignment_list(page, hub, name)
    released = panel.locator("#released_assignments_list")
    expect(released).to_contain_text(ASSIGNMENT)
    shots(page, f"{name}-released")
    released.get_by_role("button", name="Fetch").click()
    fetched = panel.locator("#fetched_assignments_list")
    expect(fetched).to_contain_text(ASSIGNMENT)
    shots(page, f"{name}-fetched")
    hand_in_work(site, name)
    notebook = LabNotebook(page, f"{ASSIGNMENT}/02_hierarchical.ipynb")
    notebook.open(f"{hub.url}/user/{name}/lab/tree/{ASSIGNMENT}/02_hierarchical.ipynb?reset")
    passed, message, dialog = notebook.validate()
    shots(page, f"{name}-validate")
    notebook.close_dialog(dialog)
    panel = assignment_list(page, hub, name)
    panel.locator("#fetched_assignments_list").get_by_role("button", name="Submit").click()
    expect(panel.locator("#submitted_assignments_list")).to_contain_text(ASSIGNMENT)
    shots(page, f"{name}-submitted")
    return passed, message


def test_a_term_on_the_hub_release_fetch_submit_collect_grade_feedback(hub):
    site, server, passwords = hub
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.iterdir():
        old.unlink()
    shots = Shots(ARTIFACTS)
    course_folder = accounts.home(TEACH) / COURSE_FOLDER
    started = time.monotonic()

    # 1. The instructor releases the assignment into the exchange (a terminal of their server).
    teacher(site, "nbgrader", "generate_assignment", ASSIGNMENT, "--force")
    teacher(site, "nbgrader", "release_assignment", ASSIGNMENT)

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, site.root / "chromium")  # removed with the hub's folder
        try:
            pages = {}
            for name in (ADA, BO, CLEO, TEACH):
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                pages[name] = context.new_page()
                pages[name].set_default_timeout(60_000)

            # 2. Ada and Bo fetch, work, Validate and submit in time.
            ada_passed, _ = fetch_work_validate_submit(pages[ADA], server, site, ADA, passwords[ADA], shots)
            bo_passed, bo_message = fetch_work_validate_submit(pages[BO], server, site, BO, passwords[BO], shots)
            assert ada_passed, "Ada's correct 02 failed Validate on the hub"
            assert not bo_passed, f"Bo's unworked 02 passed Validate: {bo_message[:300]}"

            # 3. The due date passes; Cleo hands in after it.
            # Whole seconds, rounded up: Bo's hand-in of a moment ago stays in time.
            due = (datetime.now(timezone.utc) + timedelta(seconds=2)).strftime("%Y-%m-%d %H:%M:%S UTC")
            config = course_folder / "nbgrader_config.py"
            code_as(site, TEACH, f"p = {str(config)!r}; open(p, 'a').write("
                                 f"'\\nc.DueDates.assignments = {{\"{ASSIGNMENT}\": \"{due}\"}}\\n"
                                 f"c.LateSubmissionPlugin.penalty_method = \"zero\"\\n')")
            fetch_work_validate_submit(pages[CLEO], server, site, CLEO, passwords[CLEO], shots)

            # 4. Bo attacks: classmates' folders, the instructor's, the exchange, the hub's secrets.
            attack_classmates_and_the_instructor(site, server, pages[BO], shots)

            # 5. The instructor collects (Bo's hand-in in Ada's name is refused), grades, exports.
            collected = teacher(site, "nbgrader", "collect", ASSIGNMENT)
            assert f"claims to be by {ADA} but belongs to {BO}" in collected, collected[-2000:]
            graded = teacher(site, str(site.python), "-m", "autograder", "grade", "submitted", "--out", "grades",
                             "--export", "canvas", "--workers", "2")
            assert "bwrap sandbox" in graded, graded[-1500:]
            totals, rows = scores(course_folder / "grades" / "grades.csv")
            assert totals == TOTALS, f"grades: {totals}\n" + "\n".join(map(str, rows))
            canvas = (course_folder / "grades" / "canvas.csv").read_text()
            assert all(name in canvas for name in (ADA, BO, CLEO)), canvas

            # 6. The Formgrader shows the class from the course gradebook.
            log_in(pages[TEACH], server, TEACH, passwords[TEACH])
            pages[TEACH].goto(f"{server.url}/user/{TEACH}/formgrader/manage_students")
            table = pages[TEACH].locator("table")
            for name in (ADA, BO, CLEO):
                expect(table).to_contain_text(name)
            shots(pages[TEACH], "formgrader-students")

            # 7. Feedback released; Ada fetches hers and reads it; Bo cannot reach it.
            teacher(site, "nbgrader", "release_feedback", ASSIGNMENT)
            url, text = fetch_feedback(pages[ADA], server, ADA, shots)
            assert "02_hierarchical: Graded: 6 / 6 points." in text, text[:800]
            bo_url, bo_text = fetch_feedback(pages[BO], server, BO, shots)
            assert "02_hierarchical: Graded: 0 / 6 points." in bo_text, bo_text[:800]
            for page in (pages[ADA], pages[BO]):
                assert "HIDDEN TESTS" not in page.content() and "BEGIN SOLUTION" not in page.content()
            listed = code_as(site, BO, f"import os\ntry:\n    print(os.listdir({str(site.exchange / COURSE_ID / 'feedback')!r}))\n"
                                       "except PermissionError:\n    print('DENIED')")
            assert listed == "DENIED", f"Bo could list the released feedback: {listed}"
            other = pages[BO].goto(url)
            assert other.status in (403, 404) or "02_hierarchical" not in pages[BO].content(), other.status
            shots(pages[BO], "bo-denied-ada-feedback")
        finally:
            browser.close()
    (ARTIFACTS / "steps.txt").open("a").write(f"whole term: {time.monotonic() - started:.0f} s\n")


def fetch_feedback(page, hub: HubServer, name: str, shots) -> tuple[str, str]:
    """Assignment List > Fetch Feedback, then the learner's own 02 page: (its URL, its text)."""
    panel = assignment_list(page, hub, name)
    panel.locator("#submitted_assignments_list").get_by_role("button", name="Fetch Feedback").click()
    folder = accounts.home(name) / ASSIGNMENT / "feedback"
    deadline = time.monotonic() + 60
    while not list(folder.glob("*/02_hierarchical.html")) and time.monotonic() < deadline:
        time.sleep(0.5)  # waits for a file, asserts no time
    found = sorted(folder.glob("*/02_hierarchical.html"))
    assert found, f"no feedback fetched into {folder}"
    url = f"{hub.url}/user/{name}/files/{ASSIGNMENT}/feedback/{found[0].parent.name}/02_hierarchical.html"
    page.goto(url)
    shots(page, f"{name}-feedback")
    return url, page.locator("body").inner_text()


def scores(path: Path) -> tuple[dict[str, int], list[dict]]:
    """Each student's total, and the rows (for a failure's message)."""
    totals: dict[str, int] = {}
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        totals[row["student_id"]] = totals.get(row["student_id"], 0) + int(float(row["score"] or 0))
    return totals, [{k: row[k] for k in ("student_id", "notebook", "score", "status", "reason", "seconds_late")}
                    for row in rows]


def attack_classmates_and_the_instructor(site: HubSite, server: HubServer, bo_page, shots) -> None:
    ada_home, teach_course = accounts.home(ADA), accounts.home(TEACH) / COURSE_FOLDER
    inbound = site.exchange / COURSE_ID / "inbound"
    attempts = {
        "read Ada's notebook": f"open({str(ada_home / ASSIGNMENT / '01_sequential.ipynb')!r}).read()",
        "list Ada's home": f"os.listdir({str(ada_home)!r})",
        "read the instructor's source": f"os.listdir({str(teach_course / 'source')!r})",
        "read the gradebook": f"open({str(teach_course / 'gradebook.db')!r}, 'rb').read()",
        "list the hand-ins": f"os.listdir({str(inbound)!r})",
        "read the hub's secrets": f"os.listdir({str(site.state)!r})",
        "rename the course in the exchange": f"os.rename({str(site.exchange / COURSE_ID)!r}, {str(site.exchange / 'x')!r})",
        "change the learners' code": f"open({str(site.env / 'pyvenv.cfg')!r}, 'a').write('x')",
        "read the repository's solutions": f"os.listdir({str(ROOT / 'source')!r})",
        "read the sample class's answers": f"os.listdir({str(SAMPLE_CLASS)!r})",
    }
    # In a cell of Bo's own notebook, in his server: his kernel runs as his user.
    cell = "import os\n" + "".join(
        f"try:\n    {action}\n    print({what!r}, 'REACHED')\nexcept PermissionError:\n    print({what!r}, 'DENIED')\n"
        for what, action in attempts.items())
    notebook = LabNotebook(bo_page, f"{ASSIGNMENT}/01_sequential.ipynb")
    notebook.open(f"{server.url}/user/{BO}/lab/tree/{ASSIGNMENT}/01_sequential.ipynb?reset")
    shown = notebook.append_and_run(cell)["text"]
    shots(bo_page, "bo-attacks-from-his-notebook")
    for what in attempts:
        assert f"{what} DENIED" in shown, f"Bo's notebook could {what}: {shown[-1500:]}"
    # No solution or hidden test in what every learner's code can read.
    found = code_as(site, BO, f"import glob; print(len(glob.glob({str(site.env)!r} + '/**/crew_answers.py', recursive=True)))")
    assert found == "0", "the learners' environment holds the course's answers"
    # Through the hub: Bo's own log-in does not open Ada's server or files.
    reply = bo_page.goto(f"{server.url}/user/{ADA}/api/contents/{ASSIGNMENT}")
    assert reply.status in (403, 404) or "01_sequential" not in bo_page.content(), f"Bo read Ada's files: {reply.status}"
    # A hand-in made by Bo under Ada's name, newer than hers: collect must not take it.
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    fake = inbound / f"{ADA}+{ASSIGNMENT}+{stamp}+forged"
    code_as(site, BO, f"import os, shutil; os.mkdir({str(fake)!r}); "
                      f"open({str(fake / 'timestamp.txt')!r}, 'w').write({stamp!r}); "
                      f"shutil.copyfile({str(accounts.home(BO) / ASSIGNMENT / '01_sequential.ipynb')!r}, "
                      f"{str(fake / '01_sequential.ipynb')!r})")
    assert fake.is_dir(), "the forged hand-in was not even made"
