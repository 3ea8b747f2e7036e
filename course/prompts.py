"""Read what CrewAI 1.15.30 sends a model: who is asked, to do what, with what.

CrewAI speaks to a model in plain text (ReAct style when tools are offered).
These helpers pull out the four things the scripted model's reply depends on,
so that the reply is a pure function of them and never of timing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

_ROLE = re.compile(r"^You are (.+?)\. ", re.S)
_TASK = re.compile(r"Current Task: (.*?)(?:\n\nThis is the expected criteria|\n\nThis is the context|\n\nBegin!|\n\nProvide your|\Z)", re.S)
_CONTEXT = re.compile(r"This is the context you're working with:\n(.*?)(?:\n\nBegin!|\n\nProvide your complete response:|\Z)", re.S)
_TOOL_NAME = re.compile(r"^Tool Name: (\S+)$", re.M)
_OBSERVATION = re.compile(r"\nObservation: ?(.*?)(?=\n(?:Thought|Action|Final Answer):|\Z)", re.S)

DELEGATE_TOOL = "delegate_work_to_coworker"


@dataclass(frozen=True)
class Prompt:
    """The parts of one model call that decide the reply."""

    role: str
    task: str
    context: str
    tools: tuple[str, ...] = ()
    observations: tuple[str, ...] = ()
    text: str = field(default="", compare=False, repr=False)

    @property
    def is_manager(self) -> bool:
        return DELEGATE_TOOL in self.tools


def _content(message: Any) -> str:
    if isinstance(message, dict):
        content = message.get("content", "")
    else:
        content = getattr(message, "content", message)
    if isinstance(content, list):  # multimodal form: keep the text parts
        content = "\n".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content or "")


def as_messages(messages: Any) -> list[dict[str, str]]:
    """A private copy: CrewAI keeps mutating the list it passed us."""
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    return [
        {"role": str(m.get("role", "user")) if isinstance(m, dict) else "user", "content": _content(m)}
        for m in messages
    ]


def parse(messages: list[dict[str, str]], role: str | None = None, task: str | None = None) -> Prompt:
    system = "\n".join(m["content"] for m in messages if m["role"] == "system")
    user = "\n".join(m["content"] for m in messages if m["role"] == "user")
    everything = "\n".join(m["content"] for m in messages)
    if role is None:
        found = _ROLE.search(system)
        role = found.group(1).strip() if found else "Assistant"
    if task is None:
        found = _TASK.search(user)
        task = found.group(1).strip() if found else user.strip()[:200]
    found = _CONTEXT.search(user)
    context = found.group(1).strip() if found else ""
    tools = tuple(dict.fromkeys(_TOOL_NAME.findall(system)))
    # Observations are appended by CrewAI to our own earlier replies.
    observations = tuple(
        obs.strip()
        for m in messages
        if m["role"] == "assistant"
        for obs in _OBSERVATION.findall(m["content"])
    )
    return Prompt(role=role, task=task, context=context, tools=tools, observations=observations, text=everything)


def action(tool: str, arguments: dict[str, str], thought: str) -> str:
    return f"Thought: {thought}\nAction: {tool}\nAction Input: {json.dumps(arguments)}"


def final(answer: str) -> str:
    return f"Thought: I now know the final answer\nFinal Answer: {answer}"
