"""One state class per kind of CrewAI flow state, not one per agent run.

CrewAI 1.15.30 runs each agent's work as a Flow (its ``AgentExecutor``) whose state
is a pydantic model. ``Flow._create_initial_state`` declares a new subclass,
``StateWithId(FlowState, <state type>)``, every time an executor is made, so
pydantic builds the same class and its validator again for every agent of every
kickoff: a fifth of a kickoff's CPU (three example crews: 0.27 -> 0.22 s), paid in
every notebook and every graded test. ``install()`` (run by ``import course``)
keeps one such class per state type. Every executor still gets a new state object
with its own id; any other kind of state goes through CrewAI's own code.

Guarded by tests/course/test_flow_state.py, which also shows CrewAI's own behaviour.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

from crewai.flow import runtime as _runtime
from pydantic import BaseModel

_CLASSES: dict[type, type] = {}
_LOCK = threading.Lock()
crewai_create_initial_state = _runtime.Flow._create_initial_state  # CrewAI's own, kept for the tests


def _state_class(state_type: type) -> type:
    with _LOCK:
        made = _CLASSES.get(state_type)
        if made is None:
            # What CrewAI declares inline, once: same bases, same name, same module.
            made = _CLASSES[state_type] = type("StateWithId", (_runtime.FlowState, state_type),
                                               {"__module__": _runtime.__name__})
        return made


def _create_initial_state(self: Any) -> Any:
    state_type = getattr(self, "_initial_state_t", None)
    if (self.initial_state is None and self._create_default_extension_state() is None
            and isinstance(state_type, type) and issubclass(state_type, BaseModel)
            and not issubclass(state_type, _runtime.FlowState)):
        instance = _state_class(state_type)()
        if not getattr(instance, "id", None):
            object.__setattr__(instance, "id", str(uuid.uuid4()))
        return instance
    return crewai_create_initial_state(self)


def install() -> None:
    _runtime.Flow._create_initial_state = _create_initial_state
