"""Send every model CrewAI would build to the course's scripted model.

CrewAI has no provider registry. Every model it builds from a string passes
through ``crewai.LLM.__new__``: ``Agent()`` without ``llm=`` (the environment
fallback builds ``LLM(model=<default>)``), ``llm="gpt-4o"``, and
``manager_llm="gpt-4o"``. Returning the shared scripted model there lets the
guide's code run unchanged and offline. ``__new__`` is a CrewAI internal:
``tests/test_routing.py`` fails loudly if this stops working.
"""

from __future__ import annotations

import threading
from typing import Any

from crewai.llm import LLM

from course.scripted_llm import ScriptedLLM

_default: ScriptedLLM | None = None
_default_lock = threading.Lock()
_original_new = LLM.__dict__["__new__"]
_active = False


def default_llm() -> ScriptedLLM:
    """The scripted model every agent without its own ``llm=`` uses."""
    global _default
    with _default_lock:
        if _default is None:
            _default = ScriptedLLM()
        return _default


def reset_default_llm(**settings: Any) -> ScriptedLLM:
    """A fresh default model (e.g. ``latency=0.5``) for agents built from now on."""
    global _default
    with _default_lock:
        _default = ScriptedLLM(**settings)
        return _default


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
