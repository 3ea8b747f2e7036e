"""The course kit: ``import course`` makes CrewAI safe for a classroom.

After the import, CrewAI runs offline and quietly, writes nothing under $HOME,
and every model it would build (agents without ``llm=``, ``llm="gpt-4o"``,
``manager_llm="gpt-4o"``) is the deterministic ``ScriptedLLM``. Each kickoff
is recorded: ``course.last_run()`` tells what happened.
"""

from course import offline

offline.apply()  # must precede the first ``import crewai``
offline.install_network_guard()

with offline.private_home():
    import crewai  # noqa: E402,F401

from course import recording as _recording  # noqa: E402
from course import routing as _routing  # noqa: E402
from course.recording import RecordedRun, Recording, TaskRecord, last_run, record  # noqa: E402
from course.routing import default_llm, reset_default_llm  # noqa: E402
from course.offline import OfflineError, network_attempts  # noqa: E402
from course.scripted_llm import InjectedFailure, LLMCall, ScriptedLLM  # noqa: E402

_routing.activate()
_recording.install()
from course import controls as _controls  # noqa: E402
_controls.activate()  # memory=True embeds locally; verbose drops a stray debug line

__all__ = [
    "InjectedFailure", "LLMCall", "OfflineError", "RecordedRun", "Recording", "ScriptedLLM", "TaskRecord",
    "default_llm", "last_run", "network_attempts", "record", "reset_default_llm",
]
