"""The scripted model's words: plausible work for a role, with a provenance tag.

Every reply starts with a tag such as ``[ref:3f9a2c by Researcher; uses ref:81bd02]``.
``ref`` is a short hash of what the call was given, so identical inputs give an
identical reply, and ``uses`` lists the tags found in the context the call
received: that is how a check proves which upstream outputs reached a task.
"""

from __future__ import annotations

import hashlib
import re

from course.prompts import Prompt

TAG = re.compile(r"\[ref:([0-9a-f]{6}) by ([^;\]]+)")

# Words that say what kind of work a role or task is. The kind whose word
# appears earliest in the text wins, so "Analyze the research" is analysis and
# "Research Analyst" is research.
KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("review", ("review", "approv", "quality", "critic", "fact-check", "check")),
    ("edit", ("edit", "polish", "proofread")),
    ("synthesis", ("synthes", "combin", "merg", "integrat", "summar", "consolidat")),
    ("design", ("design", "presentation", "slide", "visual", "deck")),
    ("research", ("research", "investigat", "find", "gather", "explor", "scout", "search", "look up")),
    ("analysis", ("analy", "insight", "trend", "data", "evaluat", "assess")),
    ("write", ("writ", "draft", "article", "author", "content", "report", "blog", "copy")),
)


def kind_in(text: str) -> str | None:
    """The kind of work a text names first, or None."""
    text = text.lower()
    best: tuple[int, str] | None = None
    for kind, words in KINDS:
        for word in words:
            at = text.find(word)
            if at >= 0 and (best is None or at < best[0]):
                best = (at, kind)
    return best[1] if best else None


_VERB = (
    r"(research|investigate|find|gather|explore|write|draft|create|edit|polish|proofread|analy[sz]e|"
    r"review|combine|synthesi[sz]e|summari[sz]e|prepare|produce|make|design|build|compose|look\s+up|study)"
)
_LEADING_VERBS = re.compile(
    rf"^(please\s+)?{_VERB}\b(\s*(,|and|&)\s*{_VERB}\b)*[\s:,-]*((about|on|into|a|an|all)\b\s*)*", re.I
)

_FINDINGS = (
    "adoption is growing fastest where the cost of a mistake is low",
    "most teams start with a pilot and expand after a measurable win",
    "the tooling has matured faster than the governance around it",
    "costs fall each year while expectations of quality rise",
    "regulators are asking for audit trails and human review",
    "open models now match closed ones on many routine jobs",
    "the hardest part is data quality, not the model itself",
    "small, well-scoped workflows beat broad, vague ambitions",
)
_STYLES = ("a clear, friendly tone", "short paragraphs and concrete examples", "a confident but careful voice")
_EDITS = ("tightened the opening", "cut repetition", "fixed two unclear sentences", "checked every claim against the notes")


def kind_of(role: str, task: str) -> str:
    """What a reply reads like: the role decides, the task when the role is vague."""
    return kind_in(role) or kind_in(task) or "generic"


def topic_of(task: str) -> str:
    first_line = task.strip().splitlines()[0] if task.strip() else "the topic"
    topic = _LEADING_VERBS.sub("", first_line).strip().rstrip(".!:")
    words = topic.split()
    return " ".join(words[:10]) or "the topic"


def fingerprint(*parts: str) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:6]


def refs_in(text: str) -> list[str]:
    """The tags of the outputs quoted in a text, in order, without repeats."""
    return list(dict.fromkeys(match.group(1) for match in TAG.finditer(text or "")))


def _pick(options: tuple[str, ...], seed: str, count: int) -> list[str]:
    start = int(seed, 16) % len(options)
    return [options[(start + i * 3) % len(options)] for i in range(count)]


def work(prompt: Prompt) -> str:
    """The finished work of a role for a task (the text after 'Final Answer:')."""
    ref = fingerprint(prompt.role, prompt.task, prompt.context, *prompt.observations)
    used = refs_in(prompt.context)
    tag = f"[ref:{ref} by {prompt.role}" + (f"; uses {', '.join('ref:' + u for u in used)}]" if used else "]")
    topic = topic_of(prompt.task)
    kind = kind_of(prompt.role, prompt.task)
    sources = f"{len(used)} upstream output{'s' if len(used) != 1 else ''}" if used else "my own reading"
    if kind == "research":
        points = _pick(_FINDINGS, ref, 3)
        body = f"Research notes on {topic}:\n" + "\n".join(f"- {p}" for p in points)
    elif kind == "analysis":
        points = _pick(_FINDINGS, ref, 2)
        body = f"Analysis of {topic}, drawing on {sources}: two trends stand out. First, {points[0]}. Second, {points[1]}."
    elif kind == "write":
        style = _pick(_STYLES, ref, 1)[0]
        body = f"Draft on {topic}, built from {sources}, written with {style}. It opens with the main finding, explains why it matters, and ends with what to watch next."
    elif kind == "edit":
        edits = ", ".join(_pick(_EDITS, ref, 2))
        body = f"Final article on {topic}: I edited the draft from {sources}; I {edits}. Ready to publish."
    elif kind == "synthesis":
        body = f"Combined report on {topic}, merging {sources} into one story: shared themes first, then where the sources disagree, then a recommendation."
    elif kind == "design":
        body = f"Presentation on {topic} from {sources}: 1. the question, 2. three key findings, 3. what we recommend, 4. next steps."
    elif kind == "review":
        body = f"Review of {topic}: I checked {sources} for accuracy and consistency. Approved, with one small suggestion on the summary."
    else:
        body = f"Result for {topic}, based on {sources}."
    for observation in prompt.observations:
        body += f"\nFrom the tool: {observation}"
    return f"{tag} {body}"
