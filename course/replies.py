"""The scripted model's words: plausible work for a role, with a provenance tag.

Every reply starts with a tag such as ``[ref:3f9a2c by Researcher; uses ref:81bd02]``.
``ref`` is a short hash of what the call was given, so identical inputs give an
identical reply, and ``uses`` lists the tags found in the context the call
received: that is how a check proves which upstream outputs reached a task.
"""

from __future__ import annotations

import hashlib
import hmac
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

# Findings are templates about the task's own subject: a research reply on "the
# history of tea" talks about the history of tea, not about AI adoption.
_FINDINGS = (
    "the best-documented sources on {subject} agree on the main facts",
    "most of what is written about {subject} goes back to two or three original studies",
    "interest in {subject} has grown steadily over the last decade",
    "experts on {subject} disagree mainly about causes, not about facts",
    "the numbers quoted for {subject} depend heavily on how they are measured",
    "practical examples of {subject} are easier to find than systematic data",
    "the newest work on {subject} revises an older, widely quoted claim",
    "three open questions about {subject} are still being studied",
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


# --- what a reply is about ----------------------------------------------------------
# A task such as "Edit and polish the article" names no subject of its own: its
# subject is whatever the outputs it received (context, or recalled memories) were
# about. Every reply states its subject right after a fixed lead and before a colon
# ("Research notes on AI trends: ..."), which is how the next reply finds it.

_LEADS = {
    "research": "Research notes on", "analysis": "Analysis of", "write": "Draft article on",
    "edit": "Final article on", "synthesis": "Combined report on", "design": "Presentation on",
    "review": "Review of", "generic": "Result for",
}
_SUBJECT_IN_OUTPUT = re.compile(
    r"\] (?:" + "|".join(re.escape(lead) for lead in _LEADS.values()) + r") (.+?):(?: |\n|$)", re.M)
# Where a task's own wording stops naming its subject: "article based on research",
# "report combining research and analysis", "the research and identify key trends".
_SUBJECT_ENDS = re.compile(
    rf"\s+(?:based on|combining|into|using|from|for the|(?:and|then|to)\s+(?:{_VERB}|identify|compare|list|"
    r"explain|outline|check|describe|evaluate|assess|highlight|recommend))\b.*$", re.I)
_SUBJECT_PREFIX = re.compile(
    r"^(?:(?:the|a|an)\s+)?(?:(?:short|brief|final|comprehensive|detailed)\s+)?"
    r"(?:(?:topic|subject|question|article|report|summary|notes|post|piece|overview)\s+(?:of|about|on)\s+)", re.I)
_GENERIC = frozenset(
    "the a an all and of to on about it its this that these those them both each every one two three final "
    "comprehensive short brief key main new previous earlier above given team's our your "
    "research article articles draft drafts report reports analysis analyses output outputs finding findings "
    "note notes result results presentation presentations slides deck review reviews summary work text content "
    "insight insights trend trends data information material piece version".split())
_MEMORY_LINE = re.compile(r"^- \(score=[0-9.]+\) (.+)$", re.M)


def subject_of(task: str) -> str | None:
    """The subject a task names ("AI trends"), or None when it names only the work ("the article")."""
    topic = topic_of(task)
    if topic == "the topic":  # "Research A": the verb's object was taken for an article
        first_line = task.strip().splitlines()[0] if task.strip() else ""
        rest = re.sub(rf"^\s*{_VERB}\s+", "", first_line, flags=re.I).strip().rstrip(".!:")
        topic = "" if rest == first_line.strip() else rest
    topic = _SUBJECT_ENDS.sub("", topic).strip().rstrip(".!:,")
    topic = _SUBJECT_PREFIX.sub("", topic).strip()
    if re.fullmatch(r"[A-Z0-9]", topic):  # "Research A": a one-letter name is a subject
        return topic
    words = [w for w in re.findall(r"[\w'{}-]+", topic.lower())]
    if not words or all(w in _GENERIC for w in words):
        return None
    return topic


def subjects_in(text: str) -> list[str]:
    """The subjects of the outputs quoted in a text, in order, without repeats."""
    return list(dict.fromkeys(m.group(1).strip() for m in _SUBJECT_IN_OUTPUT.finditer(text or "")))


def memories_in(prompt_text: str) -> list[str]:
    """What CrewAI's memory recalled into a prompt ("Relevant memories:" lines), in order."""
    return _MEMORY_LINE.findall(prompt_text or "")


def findings_in(text: str) -> list[str]:
    """The findings quoted in upstream research notes (their "- " points), in order."""
    found: list[str] = []
    for match in re.finditer(r"(?:^|\s)- (.+?)(?=\s+- |\n|$)", text or ""):
        finding = match.group(1).strip().rstrip(".")
        if finding and "[ref:" not in finding and finding not in found:
            found.append(finding)
    return found


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def fingerprint(*parts: str, key: bytes | None = None) -> str:
    """A short tag for what a call was given; with ``key``, an HMAC only the key's holder can make."""
    data = "\x1f".join(parts).encode("utf-8")
    digest = hmac.new(key, data, hashlib.sha256).hexdigest() if key else hashlib.sha256(data).hexdigest()
    return digest[:6]


def refs_in(text: str) -> list[str]:
    """The tags of the outputs quoted in a text, in order, without repeats."""
    return list(dict.fromkeys(match.group(1) for match in TAG.finditer(text or "")))


def _pick(options: tuple[str, ...], seed: str, count: int) -> list[str]:
    start = int(seed, 16) % len(options)
    return [options[(start + i * 3) % len(options)] for i in range(count)]


def work(prompt: Prompt, key: bytes | None = None) -> str:
    """The finished work of a role for a task (the text after 'Final Answer:').

    A pure function of the role, the task, the context, tool results and the
    memories CrewAI recalled into the prompt (and ``key``, which signs the tag
    when a model outside the kernel answers): nothing else, never timing.
    """
    memories = memories_in(prompt.text)
    ref = fingerprint(prompt.role, prompt.task, prompt.context, *prompt.observations, *memories, key=key)
    used = refs_in(prompt.context)
    tag = f"[ref:{ref} by {prompt.role}" + (f"; uses {', '.join('ref:' + u for u in used)}]" if used else "]")
    kind = kind_of(prompt.role, prompt.task)
    received = "\n".join([prompt.context, *memories])
    subjects = subjects_in(received)
    subject = subject_of(prompt.task) or (_join(subjects[:3]) if subjects else None)
    upstream = findings_in(received)
    if used:
        sources = f"{len(used)} upstream output{'s' if len(used) != 1 else ''}"
    elif memories:
        sources = f"{len(memories)} recalled memor{'ies' if len(memories) != 1 else 'y'} of earlier work"
    else:
        sources = "my own reading"
    about = subject or "the brief"
    lead = f"{_LEADS[kind]} {subject}:" if subject else f"{_LEADS[kind].rsplit(' ', 1)[0]}:"
    if kind == "research":
        points = [p.format(subject=about) for p in _pick(_FINDINGS, ref, 3)]
        body = f"{lead}\n" + "\n".join(f"- {p}" for p in points)
    elif kind == "analysis":
        points = (upstream or [p.format(subject=about) for p in _pick(_FINDINGS, ref, 2)]) * 2
        body = (f"{lead} drawing on {sources}, two points stand out. First, {points[0]}. "
                f"Second, {points[1]}.")
    elif kind == "write":
        style = _pick(_STYLES, ref, 1)[0]
        opening = f"the main finding ({upstream[0]})" if upstream else "the main finding"
        body = (f"{lead} built from {sources}, written with {style}. It opens with {opening}, explains why it "
                "matters, and ends with what to watch next.")
    elif kind == "edit":
        edits = ", ".join(_pick(_EDITS, ref, 2))
        body = f"{lead} I edited the draft from {sources}; I {edits}. Ready to publish."
    elif kind == "synthesis":
        body = (f"{lead} merging {sources} into one story: what they agree on first, then where they "
                "disagree, then a recommendation.")
    elif kind == "design":
        body = (f"{lead} slides built from {sources}: 1. the question, 2. three key findings, "
                "3. what we recommend, 4. next steps.")
    elif kind == "review":
        body = (f"{lead} I checked {sources} for accuracy and consistency. Approved, with one small "
                "suggestion on the summary.")
    else:
        body = f"{lead} based on {sources}."
    if memories and not used:
        recalled = refs_in(" ".join(memories)) or []
        body += f"\n(Recalled from memory: {_join(['ref:' + r for r in recalled]) if recalled else 'earlier work'}.)"
    for observation in prompt.observations:
        body += f"\nFrom the tool: {observation}"
    return f"{tag} {body}"
