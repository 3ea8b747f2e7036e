"""nbgrader configuration: the repository root is the course directory."""

import os

c = get_config()  # noqa: F821 (provided by nbgrader)

here = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.root = here
c.CourseDirectory.course_id = "crew-processes"
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.db_assignments = [dict(name="crew_processes")]
# Never copy editor or cache litter into the release.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "*.egg-info", ".DS_Store"]
# Self-study set-up: no shared exchange directory, so the Assignment List and
# Course List (which need one) are not used; see the README.
c.Exchange.root = os.path.join(here, "build", "exchange")
c.Exchange.assignment_dir = here
