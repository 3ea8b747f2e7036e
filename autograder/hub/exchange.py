"""nbgrader's collect, refusing hand-ins that a user put in the exchange under a classmate's name.

The exchange's inbound folder is writable by every learner (that is how they submit), and a
hand-in's folder name says whose it is: ``bo+crew_processes+<time>+<random>``. Anyone can make a
folder named ``ada+...``, and stock nbgrader only warns ("cheating attempt?") and collects it, a
newer one replacing Ada's own. Here a hand-in counts only for the user who owns its folder; the
others are left out of the collection and named in the log. Configured for the hub's instructor
in ``~/crew_course/nbgrader_config.py`` (``c.ExchangeFactory.collect``, autograder/hub/course.py);
tests/e2e/test_hub.py attacks it.
"""

from __future__ import annotations

import os
import pwd

from nbgrader.exchange.default.collect import ExchangeCollect

_REFUSED = "\0refused:"


def owner(path: str) -> str:
    try:
        return pwd.getpwuid(os.stat(path).st_uid).pw_name
    except (KeyError, OSError):
        return "an unknown user"


class OwnerCheckedCollect(ExchangeCollect):
    def _path_to_record(self, path):
        record = super()._path_to_record(path)
        made_by = owner(path)
        if made_by != record["username"]:
            # Grouped apart from the student's own hand-ins, so that their newest real one is collected.
            record["claimed"], record["owner"] = record["username"], made_by
            record["username"] = f"{_REFUSED}{record['username']}:{made_by}"
        return record

    def init_src(self):
        super().init_src()
        kept = []
        for record in self.src_records:
            if record["username"].startswith(_REFUSED):
                self.log.error("Not collected: %s claims to be by %s but belongs to %s.",
                               record["filename"], record["claimed"], record["owner"])
            else:
                kept.append(record)
        self.src_records = kept
