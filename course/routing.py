"""Send every model CrewAI would build to the course's scripted model.

CrewAI has no provider registry. Every model it builds from a string passes
through ``crewai.LLM.__new__``: ``Agent()`` without ``llm=`` (the environment
fallback builds ``LLM(model=<default>)``), ``llm="gpt-4o"``, and
``manager_llm="gpt-4o"``. Returning the shared scripted model there lets the
guide's code run unchanged and offline. ``__new__`` is a CrewAI internal:
``tests/course/test_routing.py`` fails loudly if this stops working.
"""

from __future__ import annotations

import itertools
import threading
from contextlib import contextmanager
from typing import Any, Iterator

from crewai.llm import LLM

from course.scripted_llm import ScriptedLLM

_original_new = LLM.__dict__["__new__"]
_active = False


class _DefaultModels:
    """Which ScriptedLLM a model built now gets: a base, and a stack of scoped ones on top.

    One per process, not a context variable, on purpose: CrewAI builds models
    in threads the caller did not start with its context (a manager model is
    made inside kickoff, and the explorer and the grader kick off in a
    ``threading.Thread``, which starts from an empty context), and those must
    see the same default as the code that built the agents.

    A stack of (token, model) entries, not one saved "previous": blocks entered
    in two threads may exit in any order, and each exit removes only its own
    entry, so the default is always the innermost block still open.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._base: ScriptedLLM | None = None
        self._scopes: list[tuple[int, ScriptedLLM]] = []
        self._tokens = itertools.count()

    def current(self) -> ScriptedLLM:
        with self._lock:
            if self._scopes:
                return self._scopes[-1][1]
            if self._base is None:
                self._base = ScriptedLLM()
            return self._base

    def replace_current(self, model: ScriptedLLM) -> ScriptedLLM:
        """``reset_default_llm``: inside a ``using`` block it changes that block's model only."""
        with self._lock:
            if self._scopes:
                token, _ = self._scopes[-1]
                self._scopes[-1] = (token, model)
            else:
                self._base = model
            return model

    def push(self, model: ScriptedLLM) -> int:
        with self._lock:
            token = next(self._tokens)
            self._scopes.append((token, model))
            return token

    def pop(self, token: int) -> None:
        with self._lock:
            self._scopes = [entry for entry in self._scopes if entry[0] != token]


_defaults = _DefaultModels()


def default_llm() -> ScriptedLLM:
    """The scripted model every agent without its own ``llm=`` uses."""
    return _defaults.current()


def reset_default_llm(**settings: Any) -> ScriptedLLM:
    """A fresh default model (e.g. ``latency=0.5``) for agents built from now on.

    Inside a ``using`` block it replaces that block's model only: the block's
    exit still brings back the model from before the block.
    """
    return _defaults.replace_current(ScriptedLLM(**settings))


@contextmanager
def using(model: ScriptedLLM | None = None, **settings: Any) -> Iterator[ScriptedLLM]:
    """A fresh deterministic default model inside the block; the previous one is back after it.

    ``with course.routing.using(latency=0.05, fail_roles=["Writer"]) as model:``
    gives every agent built in the block without its own ``llm=`` (and every
    model name such as ``manager_llm="gpt-4o"``) a new ``ScriptedLLM(**settings)``:
    ``latency`` seconds per call, calls of ``fail_roles`` raising
    ``InjectedFailure``, the first ``fail_first`` calls failing. Pass ``model``
    to install one you made instead. The previous default returns on exit, also
    after an error, and blocks nest and may end in any order across threads.
    Agents built inside the block keep the block's model after it ends.
    """
    if model is not None and settings:
        raise TypeError("using() takes a model or settings for a new one, not both.")
    chosen = model if model is not None else ScriptedLLM(**settings)
    token = _defaults.push(chosen)
    try:
        yield chosen
    finally:
        _defaults.pop(token)


def _scripted_new(cls: type, model: str, is_litellm: bool = False, **kwargs: Any) -> Any:
    if _active and cls is LLM:
        return default_llm()
    return _original_new(cls, model, is_litellm=is_litellm, **kwargs)


def activate() -> None:
    global _active
    _active = True
    LLM.__new__ = staticmethod(_scripted_new)  # type: ignore[method-assign]


def deactivate() -> None:
    """Back to CrewAI's own routing (real providers; needs keys and network)."""
    global _active
    _active = False
    LLM.__new__ = _original_new  # type: ignore[method-assign]


def is_active() -> bool:
    return _active and LLM.__dict__.get("__new__") is not _original_new
