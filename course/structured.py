"""Answers for CrewAI's internal structured calls (memory analysis and the like).

Those calls come without an agent, with a pydantic ``response_model`` or (memory
analysis, to a model without function calling) as a prompt asking for JSON;
CrewAI parses the reply as JSON of that schema. A small, valid, deterministic
instance keeps memory working offline without inventing facts.
"""

from __future__ import annotations

import json
import types
import typing
from typing import Any

from pydantic import BaseModel

from course import prompts, replies


def _value(annotation: Any, name: str, hint: str, depth: int) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        chosen = [a for a in args if a is not type(None)]
        return _value(chosen[0], name, hint, depth) if chosen else None
    if origin is typing.Literal:
        return args[0]
    if origin in (list, set, tuple, frozenset):
        return []
    if origin is dict:
        return {}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _instance(annotation, hint, depth + 1) if depth < 4 else {}
    if annotation is bool:
        return False
    if annotation is int:
        return 0
    if annotation is float:
        return 0.5 if "importance" in name or "score" in name else 0.0
    if annotation is str:
        return hint[:200] if name in {"content", "summary", "text", "memory", "fact"} else name.replace("_", " ")
    return None


def _instance(model: type[BaseModel], hint: str, depth: int = 0) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if not field.is_required():
            default = field.get_default(call_default_factory=True)
            data[name] = default if isinstance(default, (str, int, float, bool, list, dict, type(None))) else None
            if data[name] is None and field.annotation is not None:
                data[name] = _value(field.annotation, name, hint, depth)
            continue
        data[name] = _value(field.annotation, name, hint, depth)
    return data


def example_json(model: Any, hint: str = "") -> str:
    """A JSON object that validates against ``model`` (a pydantic class)."""
    if isinstance(model, type) and issubclass(model, BaseModel):
        data = _instance(model, hint)
        model.model_validate(data)  # fail here, loudly, rather than inside CrewAI
        return json.dumps(data)
    return json.dumps({})


# --- CrewAI's memory analysis, asked in prose ------------------------------------
# A model without native function calling (the scripted one) gets CrewAI's memory
# analysis prompts with no ``response_model``: CrewAI then json-parses the reply
# against a fixed schema (crewai/memory/analyze.py). The system prompt is the
# only thing that says which schema, so it is matched exactly here. Without
# this, the reply is ReAct prose and memory logs "Memory extraction failed".

_MEMORY_PROMPTS = {  # i18n key of the system prompt -> schema class in crewai.memory.analyze
    "extract_memories_system": "ExtractedMemories",
    "save_system": "MemoryAnalysis",
    "query_system": "QueryAnalysis",
    "consolidation_system": "ConsolidationPlan",
}
_memory_schemas: dict[str, type[BaseModel]] | None = None


def _memory_table() -> dict[str, type[BaseModel]]:
    global _memory_schemas
    if _memory_schemas is None:
        from crewai.memory import analyze
        from crewai.utilities.i18n import I18N_DEFAULT

        _memory_schemas = {I18N_DEFAULT.memory(key).strip(): getattr(analyze, name)
                           for key, name in _MEMORY_PROMPTS.items()}
    return _memory_schemas


def memory_schema(messages: list[dict[str, str]]) -> type[BaseModel] | None:
    """The schema CrewAI expects when ``messages`` is one of its memory analysis prompts."""
    system = next((m["content"] for m in messages if m.get("role") == "system"), "")
    return _memory_table().get(system.strip()) if system else None


def _between(text: str, start: str, end: str) -> str:
    if start not in text:
        return ""
    rest = text.split(start, 1)[1]
    return rest.split(end, 1)[0] if end in rest else rest


def memory_json(schema: type[BaseModel], messages: list[dict[str, str]]) -> str:
    """A truthful, deterministic answer to a memory analysis prompt.

    Extraction keeps the task's result as the memory (nothing invented), so a
    later task can recall what an earlier one produced; the other analyses
    answer as CrewAI's own fallbacks do (root scope, plain vector search, insert).
    """
    user = "\n".join(m["content"] for m in messages if m.get("role") == "user")
    name = schema.__name__
    if name == "ExtractedMemories":
        content = _between(user, "Content:\n", "\n\nExtract memory statements").strip()
        memories = [_memory_statement(content)] if content else []
        data: dict[str, Any] = {"memories": memories}
    elif name == "MemoryAnalysis":
        content = _between(user, "Content to store:\n", "\n\nExisting scopes:").strip()
        kind = replies.kind_in(content)
        data = {"suggested_scope": "/", "categories": [kind] if kind else [], "importance": 0.5,
                "extracted_metadata": {"entities": [], "dates": [], "topics": []}}
    elif name == "QueryAnalysis":
        query = _between(user, "Query: ", "\n\nAvailable scopes:").strip()
        data = {"keywords": [], "suggested_scopes": [], "complexity": "simple",
                "recall_queries": [query[:200]] if query else [], "time_filter": None}
    elif name == "ConsolidationPlan":
        data = {"actions": [], "insert_new": True, "insert_reason": "new information"}
    else:
        return example_json(schema, user[:200])
    schema.model_validate(data)  # fail here, loudly, rather than inside CrewAI
    return json.dumps(data)


def _memory_statement(content: str) -> str:
    """One self-contained sentence from CrewAI's "Task: / Agent: / Result:" dump."""
    fields: dict[str, str] = {}
    current = None
    for line in content.splitlines():
        head, sep, rest = line.partition(": ")
        if sep and head in {"Task", "Agent", "Expected result", "Result"}:
            current = head
            fields[current] = rest
        elif current:
            fields[current] += "\n" + line
    result = fields.get("Result", "")
    if "Final Answer:" in result:  # CrewAI passes the model's whole last reply, "Thought: ..." included
        result = result.split("Final Answer:", 1)[1]
    result = " ".join(result.split())
    if not result:
        return " ".join(content.split())[:600]
    who, task = fields.get("Agent", "").strip(), " ".join(fields.get("Task", "").split())
    lead = f"{who} completed '{task}'" if who and task else "A task produced"
    return f"{lead}: {result}"[:600]


def internal_reply(messages: list[dict[str, str]], response_model: Any = None) -> str | None:
    """JSON for one of CrewAI's internal calls (made with no agent), or None if it is not one."""
    memory = memory_schema(messages)
    if memory is not None and (response_model is None or response_model is memory):
        return memory_json(memory, messages)
    if response_model is not None:
        return example_json(response_model, prompts.parse(messages).task)
    return None
