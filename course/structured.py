"""Answers for CrewAI's internal structured calls (memory analysis and the like).

Those calls come without an agent and with a pydantic ``response_model``; CrewAI
parses the reply as JSON of that schema. A small, valid, deterministic instance
keeps memory working offline without inventing facts.
"""

from __future__ import annotations

import json
import types
import typing
from typing import Any

from pydantic import BaseModel


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
