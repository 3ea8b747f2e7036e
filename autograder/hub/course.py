"""The instructor's course folder on the hub: ``~INSTRUCTOR/crew_course``, theirs alone (run as root).

A copy of what the repository holds for nbgrader (``nbgrader_config.py``, ``source/``, ``release/``)
and for ``grade`` (``course/``, ``autograder/``), as if the instructor had cloned the course there,
with the hub's exchange and the owner-checked collect (autograder/hub/exchange.py) added to its
nbgrader configuration. Learners never see it: the home is 0700 and nothing of it is in the
learners' environment (autograder/hub/site.py).
"""

from __future__ import annotations

import os
import pwd
import shutil
from pathlib import Path

from autograder.hub.singleuser import COURSE_FOLDER
from autograder.hub.site import CODE, CODE_IGNORE, HubError
from autograder.paths import ROOT

COPIED = ("nbgrader_config.py", "source", "release", *CODE)

HUB_SETTINGS = '''
# The class hub (python -m autograder hub): nbgrader's exchange is the hub's, and a hand-in counts
# only for the user who owns it (autograder/hub/exchange.py).
c.Exchange.root = {exchange!r}
c.Exchange.assignment_dir = here
c.ExchangeFactory.collect = "autograder.hub.exchange.OwnerCheckedCollect"
'''


def make(instructor: str, exchange: Path) -> Path:
    """The course folder in the instructor's home, owned by them; refused if one exists (their work)."""
    user = pwd.getpwnam(instructor)
    folder = Path(user.pw_dir) / COURSE_FOLDER
    if folder.exists():
        raise HubError(f"{folder} exists already: it may hold the class's grades. Move it away to make a new one.")
    folder.mkdir(mode=0o700)
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, folder / name, ignore=CODE_IGNORE)
        else:
            shutil.copy2(source, folder / name)
    config = folder / "nbgrader_config.py"
    config.write_text(config.read_text() + HUB_SETTINGS.format(exchange=str(exchange)))
    for place, dirs, files in os.walk(folder):
        for name in [place, *(os.path.join(place, f) for f in dirs + files)]:
            os.chown(name, user.pw_uid, user.pw_gid)
    return folder
