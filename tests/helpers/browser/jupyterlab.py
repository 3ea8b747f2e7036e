"""A learner's hands in JupyterLab: open a notebook, Run All, edit a cell, Validate.

Every wait is on a state JupyterLab shows (no fixed sleeps):

- kernel ready: the status bar's kernel item reads "Python 3 (ipykernel) | Idle".
  The toolbar's execution indicator says idle while the kernel is still starting,
  and a Run All clicked then does nothing (seen 3 times in 10), so it is not used;
- Run All finished: no code cell shows ``[*]`` and the cells that must have run
  show an execution count (or the error that stopped the run);
- Validate finished: the "Validation Results" dialog is open.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, Locator, Page, Playwright, expect

CHROMIUM = Path("/usr/bin/chromium")
# Debian's Chromium, never a downloaded one; nothing leaves the machine.
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
TIMEOUT_MS = 45_000  # Playwright's 5 s default is too short on 2 busy cores
KERNEL_READY = "Python 3 (ipykernel) | Idle"

# One object per code cell: its prompt ("[ ]:", "[*]:", "[3]:"), whether it shows an
# error, and its output kinds. Read in one round trip so the snapshot is consistent.
_CELLS_JS = """() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell')]
  .map((cell, index) => ({
    index,
    code: cell.classList.contains('jp-CodeCell'),
    prompt: (cell.querySelector('.jp-InputArea-prompt')?.textContent || '').trim(),
    error: !!cell.querySelector('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'),
    // textContent, not innerText: a cell scrolled out of view is not laid out (JupyterLab's
    // content-visibility), and innerText then reads ''.
    text: cell.querySelector('.jp-OutputArea')?.textContent || '',
  }))"""


def launch_chromium(playwright: Playwright, profile: Path) -> Browser:
    """Headless Debian Chromium; its config and cache in ``profile``, not under $HOME."""
    env = dict(os.environ)
    env["XDG_CONFIG_HOME"] = str(profile / "config")
    env["XDG_CACHE_HOME"] = str(profile / "cache")
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, chromium_sandbox=False, args=CHROMIUM_ARGS, env=env
    )


@dataclass
class Shots:
    """Numbered screenshots of each step, kept as test artifacts, with a timing log (steps.txt)."""

    folder: Path
    taken: list[Path] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def __call__(self, page: Page, name: str, *, element: Locator | None = None) -> Path:
        path = self.folder / f"{len(self.taken) + 1:02d}-{name}.png"
        if element is not None:
            element.scroll_into_view_if_needed()
        page.screenshot(path=str(path))
        self.taken.append(path)
        with open(self.folder / "steps.txt", "a") as log:
            log.write(f"{time.monotonic() - self.started:6.1f} s  {path.name}\n")
        return path


# nbgrader's dialog puts each failed cell's source, then its error, in a <pre> of its own; the
# dialog grows with its widest line up to a limit, past which a line's end is hidden (the box
# scrolls sideways). `shown` is that limit in characters, found with a line too long for any screen.
DIALOG_ERRORS = """(message) => [...message.querySelectorAll('.jp-RenderedText pre')].filter((_, i) => i % 2 === 1)
  .map((pre) => {
    const lines = pre.innerText.split('\\n');
    const hidden = pre.scrollWidth > pre.clientWidth + 1;
    const probe = document.createElement('span');
    probe.textContent = '\\n' + 'x'.repeat(400);
    pre.appendChild(probe);
    const perChar = probe.getBoundingClientRect().width / 400;
    const style = getComputedStyle(pre);
    const inner = pre.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    probe.remove();
    return {lines, hidden, shown: Math.floor(inner / perChar)};
  })"""


class LabNotebook:
    """One notebook open in JupyterLab, driven the way a learner does it."""

    def __init__(self, page: Page, path: str):
        self.page = page
        self.path = path
        self.name = path.rsplit("/", 1)[-1]
        page.set_default_timeout(TIMEOUT_MS)
        expect.set_options(timeout=TIMEOUT_MS)

    # --- opening -----------------------------------------------------------------------

    def open(self, url: str) -> None:
        """Go to the notebook's URL (a fresh workspace) and wait until its kernel is ready."""
        self.page.goto(url)
        expect(self.panel).to_be_visible()
        expect(self.cells.first).to_be_visible()
        self.wait_kernel_ready(timeout=90_000)

    @property
    def panel(self) -> Locator:
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")

    @property
    def cells(self) -> Locator:
        return self.panel.locator(".jp-Notebook .jp-Cell")

    def cell(self, index: int) -> Locator:
        return self.cells.nth(index)

    def wait_kernel_ready(self, timeout: int = TIMEOUT_MS) -> None:
        item = self.page.locator(f".jp-StatusBar-TextItem[title='Change kernel for {self.name}']")
        expect(item).to_have_text(KERNEL_READY, timeout=timeout)

    # --- running -------------------------------------------------------------------------

    def cell_states(self) -> list[dict]:
        return self.page.evaluate(_CELLS_JS)

    def run_all(self, must_run: list[int], timeout: int = 90_000) -> list[dict]:
        """Run > Run All Cells; wait until every cell in ``must_run`` ran (or the run stopped on an error).

        Returns the cells' final states.
        """
        before = {c["index"]: c["prompt"] for c in self.cell_states()}
        self.page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
        self.page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()
        # Done: nothing queued or running, and each required cell has a new count or an error.
        self.page.wait_for_function(
            "([mustRun, before]) => {"
            f"  const cells = ({_CELLS_JS})();"
            """  if (cells.some(c => c.code && c.prompt.includes('*'))) return false;
                 const ran = c => /\\[\\d+\\]/.test(c.prompt) && c.prompt !== before[c.index];
                 const stopped = cells.find(c => c.error && ran(c));
                 return mustRun.every(i => ran(cells[i]) || (stopped !== undefined && i > stopped.index));
               }""",
            arg=[must_run, before],
            timeout=timeout,
            polling=250,
        )
        self.wait_kernel_ready(timeout=timeout)
        return self.cell_states()

    # --- editing ---------------------------------------------------------------------------

    def set_source(self, index: int, text: str) -> None:
        """Click into the cell's editor, select everything, type ``text`` as is (no auto-indent)."""
        editor = self.cell(index).locator(".cm-content")
        editor.scroll_into_view_if_needed()
        editor.click()
        self.page.keyboard.press("Control+a")
        self.page.keyboard.insert_text(text)
        self.page.keyboard.press("Escape")
        expect(editor).to_contain_text(text.strip().splitlines()[0].strip())

    def append_and_run(self, text: str, timeout: int = 60_000) -> dict:
        """Add a code cell after the last one, type ``text``, Shift+Enter; return the cell's final state."""
        count = self.cells.count()
        last = self.cell(count - 1)
        last.scroll_into_view_if_needed()
        last.locator(".jp-InputPrompt").click()  # the prompt area: selects the cell without editing it
        self.page.keyboard.press("Escape")  # command mode
        self.page.keyboard.press("b")  # insert a cell below
        expect(self.cells).to_have_count(count + 1)
        editor = self.cell(count).locator(".cm-content")
        editor.click()
        self.page.keyboard.insert_text(text)
        expect(editor).to_contain_text(text.strip().splitlines()[0].strip())
        self.page.keyboard.press("Shift+Enter")
        return self._wait_ran(count, before="", timeout=timeout)

    def run_cell(self, index: int, timeout: int = 60_000) -> dict:
        """Select the cell (without editing it), Ctrl+Enter; return the cell's final state once it ran."""
        before = self.cell_states()[index]["prompt"]
        cell = self.cell(index)
        cell.scroll_into_view_if_needed()
        cell.locator(".jp-InputPrompt").click()
        self.page.keyboard.press("Escape")  # command mode
        self.page.keyboard.press("Control+Enter")  # run it, stay on it
        return self._wait_ran(index, before=before, timeout=timeout)

    def _wait_ran(self, index: int, before: str, timeout: int) -> dict:
        """Wait until the cell shows a new execution count (not ``before``) and the kernel is idle."""
        self.page.wait_for_function(
            f"([index, before]) => {{ const c = ({_CELLS_JS})()[index];"
            " return /\\[\\d+\\]/.test(c.prompt) && c.prompt !== before; }",
            arg=[index, before], timeout=timeout, polling=250)
        self.wait_kernel_ready(timeout=timeout)
        return self.cell_states()[index]

    # --- validating -------------------------------------------------------------------------

    def validate(self, timeout: int = 120_000) -> tuple[bool, str, Locator]:
        """Press Validate; return (success?, the message text, the open dialog)."""
        self.panel.locator(".jp-NotebookPanel-toolbar .validate-button").click()
        dialog = self.page.locator(".jp-Dialog", has_text="Validation Results")
        message = dialog.locator("#validation-message")
        expect(message).to_be_visible(timeout=timeout)
        classes = message.get_attribute("class") or ""
        if "validation-success" not in classes and "validation-failed" not in classes:
            raise AssertionError(f"Validate gave neither success nor failure: {classes!r}: {message.inner_text()}")
        return "validation-success" in classes, message.inner_text(), dialog

    def dialog_errors(self, dialog: Locator) -> list[dict]:
        """Each failed cell's error box in the Validate dialog: its lines as shown, how many characters
        of a line it shows without scrolling sideways, and whether anything lies past its edge."""
        return dialog.locator("#validation-message").evaluate(DIALOG_ERRORS)

    def close_dialog(self, dialog: Locator) -> None:
        dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
        expect(dialog).to_have_count(0)

    # --- things a learner must never see ------------------------------------------------------

    def toasts(self) -> list[str]:
        """Texts of the notification toasts on screen (errors, the news question, ...)."""
        return self.page.locator(".Toastify__toast").all_inner_texts()

    def notification_count(self) -> int:
        """The number in the status bar's bell: every notification ever raised, also silent ones."""
        text = self.page.locator(".jp-Notification-Status").inner_text().strip()
        return int(text) if text.isdigit() else 0
