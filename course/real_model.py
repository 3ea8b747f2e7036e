"""Leaving the course: the same crews against a real model.

``import course`` routes every model CrewAI builds to the scripted model and
refuses connections that leave the machine. Two plain switches undo that:

- ``use_real_model(...)``: for the rest of this kernel (or script), CrewAI builds
  its own models again and may use the network. It takes the model and, for a
  local OpenAI-compatible server (Ollama, vLLM, LM Studio, llama.cpp), its
  ``base_url``; it returns a ready ``crewai.LLM`` for ``llm=``/``manager_llm=``.
  Agents built without ``llm=`` use the same model, through CrewAI's own
  variables (``MODEL``, ``OPENAI_BASE_URL``, ``OPENAI_API_KEY``), which is how
  CrewAI itself is configured outside this course.
- ``real_models()``: the routing off for one ``with`` block only, the network
  guard still on: the tour uses it to show, live, that ``llm="gpt-4o"`` needs a
  key. Agents keep the model they were built with after the block.

Everything built *before* the switch keeps the scripted model: build agents,
tasks and crews again after ``use_real_model``. Proven by
``tests/course/test_real_model.py`` against an OpenAI-compatible stub server on 127.0.0.1.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Iterator

from course import offline, routing

DEFAULT_MODEL = "gpt-4o-mini"


def use_real_model(model: str = DEFAULT_MODEL, *, base_url: str | None = None, api_key: str | None = None,
                   **settings: Any) -> Any:
    """Switch this process to real models; return ``crewai.LLM(model=..., base_url=..., api_key=...)``.

    ``use_real_model("gpt-4o-mini")`` uses OpenAI (``OPENAI_API_KEY`` from the
    environment, or ``api_key=``); ``use_real_model("llama3.1", base_url=
    "http://localhost:11434/v1", api_key="unused")`` a local OpenAI-compatible
    server. ``settings`` go to ``crewai.LLM`` (e.g. ``temperature=0``).
    There is no way back but a new kernel: the course's guarantees (offline, same
    answer every run, recorded calls graded) no longer hold in this one.
    """
    from crewai import LLM

    routing.deactivate()
    offline.allow_network(True)
    os.environ["MODEL"] = model  # CrewAI's own default for agents built without llm=
    if base_url is not None:
        os.environ["OPENAI_BASE_URL"] = base_url
    if api_key is not None:
        os.environ["OPENAI_API_KEY"] = api_key
    return LLM(model=model, base_url=base_url, api_key=api_key, **settings)


def using_real_model() -> bool:
    """Whether this process left the scripted model (``use_real_model`` was called)."""
    return not routing.is_active()


@contextmanager
def real_models() -> Iterator[None]:
    """Inside the block, model names build CrewAI's real models; the network guard stays on."""
    was_active = routing.is_active()
    routing.deactivate()
    try:
        yield
    finally:
        if was_active:
            routing.activate()


__all__ = ["DEFAULT_MODEL", "real_models", "use_real_model", "using_real_model"]
