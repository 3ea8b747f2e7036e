"""The guide's execution controls, made to work offline, repeatably and quietly.

- ``memory=True``: CrewAI's default embedder is OpenAI's (a key and the
  network). ``activate()`` (run by ``import course``) makes the local
  ``LocalEmbedder`` the default; ``local_embedder()`` is the explicit
  ``embedder={...}`` form. Memory is stored under CREWAI_STORAGE_DIR.
  ``without_local_embedder()`` gives CrewAI its own default back for one block,
  so a lesson can show memory failing silently.
- ``cache=True``: CrewAI caches *tool results*, keyed by tool name and input.
  ``FactLookupTool`` counts its real runs, so a lesson can show a cache hit.
- ``max_rpm``: once the budget is spent CrewAI sleeps a hard-coded 60 s.
  ``short_minute(1.0)`` makes that pause last one second inside a ``with`` block.
- Errors: ``run_with_retry`` / ``arun_with_retry`` are the guide's
  "retry or use fallback" comment written out. ``quiet_failure_logs()``
  keeps CrewAI's log lines about a failed call ("Error executing listener ...",
  one per retry) out of the output of one block, and lists what it kept back.
- ``verbose=True``: one stray debug line of CrewAI's is dropped.

The CrewAI internals touched here are guarded by ``tests/course/test_controls.py``.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np
from chromadb.api.types import EmbeddingFunction as ChromaEmbeddingFunction
from crewai.rag.embeddings.providers.custom.embedding_callable import CustomEmbeddingFunction
from crewai.tools import BaseTool
from pydantic import BaseModel, Field, PrivateAttr

# --- memory: a local embedder ------------------------------------------------------

DIMENSIONS = 256
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an and are as at be by for from has have in is it its of on or that the this to was were will with "
    "task agent result expected".split()
)


def embed(text: str, dimensions: int = DIMENSIONS) -> list[float]:
    """A bag-of-words vector: each word (and word pair) hashed to a signed slot.

    Texts that share words point the same way, which is all a classroom demo
    of recall needs. A stable hash (not Python's salted ``hash``) keeps vectors
    identical across processes, so stored memories stay findable.
    """
    vector = [0.0] * dimensions
    words = [w for w in _WORD.findall(text.lower()) if w not in _STOP]
    features = words + [f"{a} {b}" for a, b in zip(words, words[1:])]
    for feature in features:
        digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
        slot = int.from_bytes(digest[:4], "little") % dimensions
        vector[slot] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0.0:
        vector[0] = 1.0  # an empty text still needs a valid, non-zero vector
        return vector
    return [v / norm for v in vector]


class LocalEmbedder(CustomEmbeddingFunction, ChromaEmbeddingFunction):
    """CrewAI's ``custom`` embedder: no model, no download, no network.

    Both bases are needed: CrewAI's provider checks for its own class, while
    ``Crew(embedder=...)`` validates the config against chromadb's. The chromadb
    methods below keep chromadb from warning that they are missing.
    """

    def __init__(self, dimensions: int = DIMENSIONS, **_: Any) -> None:
        self.dimensions = int(dimensions)

    def __call__(self, input: list[str]) -> list[np.ndarray]:  # noqa: A002 (CrewAI's name)
        texts = [input] if isinstance(input, str) else list(input)
        return [np.asarray(embed(str(t), self.dimensions), dtype=np.float32) for t in texts]

    @staticmethod
    def name() -> str:
        return "course-local"

    def get_config(self) -> dict[str, Any]:
        return {"dimensions": self.dimensions}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> LocalEmbedder:
        return LocalEmbedder(**config)


def local_embedder(dimensions: int = DIMENSIONS) -> dict[str, Any]:
    """The ``embedder=`` setting for Crew, Agent or Memory: the local embedder."""
    return {"provider": "custom", "config": {"embedding_callable": LocalEmbedder, "dimensions": dimensions}}


# --- the default embedder ----------------------------------------------------------
# CrewAI 1.15.30 builds the embedder of ``Memory(embedder=None)`` (what
# ``Crew(memory=True)`` makes when the crew has no ``embedder=``) by calling the
# module function ``crewai.memory.unified_memory._default_embedder()``, which
# returns OpenAI's. Replacing that one function changes nothing else.

_state: dict[str, Any] = {"original_default": None}


def _local_default() -> LocalEmbedder:
    return LocalEmbedder()


def use_local_embedder_by_default(active: bool = True) -> None:
    """Make (or stop making) ``LocalEmbedder`` the embedder of memory without ``embedder=``."""
    from crewai.memory import unified_memory

    if _state["original_default"] is None:
        _state["original_default"] = unified_memory._default_embedder
    unified_memory._default_embedder = _local_default if active else _state["original_default"]


@contextmanager
def without_local_embedder() -> Iterator[None]:
    """Inside the block, ``memory=True`` without ``embedder=`` gets CrewAI's own default (OpenAI's)."""
    was_default = local_embedder_is_default()
    use_local_embedder_by_default(False)
    try:
        yield
    finally:
        use_local_embedder_by_default(was_default)


def local_embedder_is_default() -> bool:
    from crewai.memory import unified_memory

    return unified_memory._default_embedder is _local_default


# --- cache: a tool that counts its real runs ----------------------------------------

class FactLookupInput(BaseModel):
    query: str = Field(..., description="What to look up, e.g. 'boiling point of water'.")


class FactLookupTool(BaseTool):
    """Looks a phrase up in a tiny offline fact book and counts every real run.

    With ``Crew(cache=True)`` the second identical call is answered by CrewAI's
    cache: the tool does not run, so ``runs`` stays 1.
    """

    name: str = "Fact lookup"
    description: str = "Look up a short fact about a phrase. Input: the phrase to look up."
    args_schema: type[BaseModel] = FactLookupInput

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _queries: list[str] = PrivateAttr(default_factory=list)

    def __deepcopy__(self, memo: dict[int, Any]) -> FactLookupTool:
        # Locks cannot be copied, and a copy would count runs the lesson never sees.
        return self

    def _run(self, query: str, **_: Any) -> str:
        with self._lock:
            self._queries.append(query)
        code = hashlib.sha256(query.strip().lower().encode("utf-8")).hexdigest()[:4]
        return f"Fact sheet {code} on '{query}': the offline fact book has one entry, checked by the course team."

    @property
    def runs(self) -> int:
        """How many times the tool really ran (cache hits are not runs)."""
        with self._lock:
            return len(self._queries)

    @property
    def queries(self) -> list[str]:
        with self._lock:
            return list(self._queries)

    def reset(self) -> None:
        with self._lock:
            self._queries.clear()


# --- max_rpm: a shorter "minute" ------------------------------------------------------
# RPMController.check_or_wait calls self._wait_for_next_minute() once the
# budget is spent; in CrewAI 1.15.30 that is ``time.sleep(60)`` and a reset of
# the count. Only that method is replaced, and only inside the block.

@dataclass
class ShortMinute:
    """What a ``short_minute`` block saw: the pauses the rate limiter took."""

    seconds: float
    pauses: list[float] = field(default_factory=list)  # measured length of each pause, in seconds


_minute_lock = threading.Lock()
_minute_stack: list[ShortMinute] = []
_original_wait: dict[str, Any] = {}


def _short_wait(self: Any) -> None:
    with _minute_lock:
        current = _minute_stack[-1] if _minute_stack else None
    if current is None:  # a thread still inside the patch after the block ended
        _original_wait["wait"](self)
        return
    began = time.perf_counter()
    time.sleep(current.seconds)
    self._current_rpm = 0
    with _minute_lock:
        current.pauses.append(time.perf_counter() - began)


@contextmanager
def short_minute(seconds: float = 1.0) -> Iterator[ShortMinute]:
    """While active, a crew whose ``max_rpm`` is used up waits ``seconds``, not 60 s.

    ``with short_minute(1.0) as minute: ...`` then ``minute.pauses`` lists each pause.
    Blocks may nest (the innermost wins); CrewAI's method is back when the last ends.
    """
    from crewai.utilities.rpm_controller import RPMController

    if seconds <= 0:
        raise ValueError("short_minute needs a positive number of seconds.")
    record = ShortMinute(seconds=float(seconds))
    with _minute_lock:
        if not _minute_stack:
            _original_wait["wait"] = RPMController.__dict__["_wait_for_next_minute"]
            RPMController._wait_for_next_minute = _short_wait  # type: ignore[method-assign]
        _minute_stack.append(record)
    try:
        yield record
    finally:
        with _minute_lock:
            _minute_stack.remove(record)
            if not _minute_stack:
                RPMController._wait_for_next_minute = _original_wait.pop("wait")  # type: ignore[method-assign]


# --- errors: retry, then fall back -------------------------------------------------------

@dataclass
class RetryOutcome:
    """The result of ``run_with_retry``: the output, and what failed on the way."""

    result: Any
    errors: list[str]
    used_fallback: bool = False

    @property
    def attempts(self) -> int:
        return len(self.errors) + (0 if self.used_fallback else 1)


def _fallback_value(fallback: Any, error: BaseException) -> Any:
    return fallback(error) if callable(fallback) else fallback


def run_with_retry(crew_factory: Callable[[], Any], attempts: int = 2, fallback: Any = None,
                   inputs: dict[str, Any] | None = None) -> RetryOutcome:
    """Kick off a fresh crew from ``crew_factory()`` up to ``attempts`` times.

    A fresh crew each time, because a crew that failed mid-run keeps its
    half-finished state. If every attempt fails: ``fallback`` (a value, or a
    function of the last error) is returned when given, else the error is raised.
    Not for notebook cells, which run inside an event loop: use ``arun_with_retry``.
    """
    errors: list[str] = []
    for _ in range(max(1, attempts)):
        try:
            result = crew_factory().kickoff(inputs=inputs) if inputs else crew_factory().kickoff()
            return RetryOutcome(result, errors)
        except Exception as error:  # the guide's lesson: a failed run is an ordinary exception
            errors.append(f"{type(error).__name__}: {error}")
            last = error
    if fallback is None:
        raise last
    return RetryOutcome(_fallback_value(fallback, last), errors, used_fallback=True)


async def arun_with_retry(crew_factory: Callable[[], Any], attempts: int = 2, fallback: Any = None,
                          inputs: dict[str, Any] | None = None) -> RetryOutcome:
    """``run_with_retry`` for notebook cells: ``outcome = await arun_with_retry(...)``."""
    errors: list[str] = []
    for _ in range(max(1, attempts)):
        try:
            crew = crew_factory()
            result = await (crew.kickoff_async(inputs=inputs) if inputs else crew.kickoff_async())
            return RetryOutcome(result, errors)
        except Exception as error:
            errors.append(f"{type(error).__name__}: {error}")
            last = error
    if fallback is None:
        raise last
    return RetryOutcome(_fallback_value(fallback, last), errors, used_fallback=True)


# --- errors: CrewAI's log lines about a failed call ---------------------------------------
# Each failed model call makes CrewAI 1.15.30 log, at ERROR level,
# "Error executing listener call_llm_and_parse: <error>" (logger
# ``crewai.flow.runtime``, once per retry) and, from its OpenAI client,
# "OpenAI API call failed: <error>" (the root logger); a call made outside a
# crew also prints "[CrewAIEventsBus] Warning: Ending event ... with empty scope
# stack". Red lines before the error that matters reaches the learner's
# try/except. Inside the block those records are kept in a list instead; every
# other record still goes out.

FAILURE_LOGS = {"crewai.flow.runtime": "Error executing listener", "root": "OpenAI API call failed"}


class _KeepFailureLogs(logging.Filter):
    def __init__(self, prefix: str, kept: list[str], lock: threading.Lock) -> None:
        super().__init__()
        self.prefix, self.kept, self._lock = prefix, kept, lock

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith(self.prefix):
            with self._lock:
                self.kept.append(message)
            return False
        return True


@contextmanager
def quiet_failure_logs() -> Iterator[list[str]]:
    """``with quiet_failure_logs() as kept:`` CrewAI's failed-call log lines go to ``kept``, not the output."""
    from crewai.events import event_context

    kept: list[str] = []
    lock = threading.Lock()
    filters = []
    for name, prefix in FAILURE_LOGS.items():
        logger = logging.getLogger() if name == "root" else logging.getLogger(name)
        keeper = _KeepFailureLogs(prefix, kept, lock)
        logger.addFilter(keeper)
        filters.append((logger, keeper))
    quiet = event_context.EventContextConfig(mismatch_behavior=event_context.MismatchBehavior.SILENT,
                                             empty_pop_behavior=event_context.MismatchBehavior.SILENT)
    token = event_context._event_context_config.set(quiet)
    try:
        yield kept
    finally:
        event_context._event_context_config.reset(token)
        for logger, keeper in filters:
            logger.removeFilter(keeper)


# --- verbose: drop one debug line ------------------------------------------------------------
# With verbose=True, CrewAI 1.15.30's AgentExecutor prints
# "[Finalize] todos_count=0, todos_with_results=0" after every task: a
# developer's trace of a planning feature the course does not use. The
# module's printer is wrapped so that only that line is dropped.

FINALIZE_LINE = "[Finalize] todos_count="


class _QuietPrinter:
    def __init__(self, printer: Any) -> None:
        self._printer = printer

    def print(self, content: Any = "", *args: Any, **kwargs: Any) -> None:
        if isinstance(content, str) and content.startswith(FINALIZE_LINE):
            return
        self._printer.print(content, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._printer, name)


def quiet_finalize_line(active: bool = True) -> None:
    import importlib

    # The module itself: ``from crewai.agents import agent_executor`` looks
    # like base_agent, since crewai/__init__.py copies that module's dict into it.
    agent_executor = importlib.import_module("crewai.agents.agent_executor")

    current = agent_executor.PRINTER
    if active and not isinstance(current, _QuietPrinter):
        agent_executor.PRINTER = _QuietPrinter(current)
    elif not active and isinstance(current, _QuietPrinter):
        agent_executor.PRINTER = current._printer


# --- switching it on ---------------------------------------------------------------------

def activate() -> None:
    """What ``import course`` turns on: the local default embedder and the quiet verbose line."""
    # Memory's LanceDB compacts its table in a background thread; when a second
    # crew opens the same store, the commit races and Rust logs a harmless
    # "WARN lance::dataset::optimize] Compaction commit failed" to stderr. Read
    # once, when lancedb is first imported (by the first memory=True crew).
    os.environ.setdefault("LANCEDB_LOG", "error")
    use_local_embedder_by_default(True)
    quiet_finalize_line(True)


__all__ = [
    "DIMENSIONS", "FactLookupTool", "LocalEmbedder", "RetryOutcome", "ShortMinute", "activate", "arun_with_retry",
    "embed", "local_embedder", "local_embedder_is_default", "quiet_finalize_line", "quiet_failure_logs",
    "run_with_retry", "short_minute", "use_local_embedder_by_default", "without_local_embedder",
]
