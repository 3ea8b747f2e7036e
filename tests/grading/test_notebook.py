"""autograder/grading/notebook.py: the grading process's reused gradebook engines."""

from __future__ import annotations


def test_a_reused_gradebook_engine_reads_the_file_that_is_there_now(tmp_path, monkeypatch):
    """The grading process keeps nbgrader's SQLAlchemy engine per gradebook URL (grading._reuse_engines)
    while each notebook replaces the file under that URL: the next notebook must never see the last one's."""
    import nbgrader.api
    from nbgrader.api import Gradebook

    from autograder.grading import notebook as grading
    from autograder.paths import with_venv_on_path

    monkeypatch.setenv("PATH", with_venv_on_path()["PATH"])  # a new gradebook asks the alembic command
    original = nbgrader.api.create_engine
    try:
        grading._reuse_engines()
        url = f"sqlite:///{tmp_path / 'gradebook.db'}"
        for student in ("first_student", "second_student"):
            (tmp_path / "gradebook.db").unlink(missing_ok=True)
            with Gradebook(url, "crew-processes") as gb:
                gb.add_student(student)
                engine = gb.engine
                assert [s.id for s in gb.students] == [student]
        assert nbgrader.api.create_engine(url, echo=False, future=True) is engine  # one engine, kept
    finally:
        nbgrader.api.create_engine = original
