"""Settings that keep CrewAI offline, quiet and out of $HOME.

They must be in the environment before ``crewai`` is imported, because CrewAI
reads several of them at import time; ``course/__init__.py`` applies them first.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Each of these stops CrewAI from reaching a server or asking a question:
# telemetry holds process exit ~10 s trying its collector, tracing asks
# "Share this execution trace?" and waits, verbose=True asks PyPI for a version.
QUIET_ENV = {
    "CREWAI_DISABLE_TELEMETRY": "true",
    "OTEL_SDK_DISABLED": "true",
    "CREWAI_TRACING_ENABLED": "false",
    "CREWAI_DISABLE_VERSION_CHECK": "true",
    "CREWAI_DISABLE_TRACKING": "true",
    "ANONYMIZED_TELEMETRY": "false",  # chromadb, used by memory
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def storage_dir() -> Path:
    """Where CrewAI may write (kickoff outputs, memory): never under $HOME.

    A folder per process in the temp dir, so that two notebooks or two graders
    never share (or lock) one SQLite file, and a run leaves nothing in the repo.
    """
    chosen = os.environ.get("COURSE_STORAGE_DIR")
    if chosen:
        path = Path(chosen)
    else:
        path = Path(tempfile.gettempdir()) / "crew-course" / f"storage-{os.getpid()}"
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def apply() -> None:
    """Put the quiet settings in the environment.

    They overwrite what the shell had: a course that runs offline for everyone
    cannot let a stray CREWAI_TRACING_ENABLED=true reach a server.
    """
    os.environ.update(QUIET_ENV)
    os.environ["CREWAI_STORAGE_DIR"] = str(storage_dir())
