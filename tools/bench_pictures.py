"""Benchmark (not a test): CPU of each picture kind, this tree's course/pictures.py against a git ref's.

Both versions are loaded in one process and run alternately (order swapped every round), so
that whatever else loads the machine falls on both. Each sample is what a graded notebook pays
for one picture: build the figure, then IPython's print_figure(fig, "png", bbox_inches="tight"),
as the inline backend does. It also writes each before/after PNG pair and says how many pixels
differ, so that a speed-up that changes the look shows at once.

    .venv/bin/python tools/bench_pictures.py [--ref main] [--rounds 8] [--out build/pics-compare]
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("module://matplotlib_inline.backend_inline")

import numpy as np  # noqa: E402
from IPython.core.pylabtools import print_figure  # noqa: E402
from matplotlib.image import imread  # noqa: E402

import course  # noqa: E402
from course import examples  # noqa: E402
from course import pictures as after  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PLAN = {"research_a": [], "research_b": [], "analysis": ["research_a", "research_b"], "report": ["analysis"],
        "slides": ["analysis"], "review": ["report", "slides"]}
WRONG_PLAN = {"research_a": [], "research_b": ["research_a"], "analysis": ["research_a"], "report": ["analysis"],
              "slides": ["analysis"], "review": ["report", "slides"]}


def load_ref(ref: str):
    """course/pictures.py as it is at *ref*, imported beside this tree's as another module."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{ref}:course/pictures.py"], check=True,
                            capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "pictures_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("course._pictures_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def recorded(build):
    with course.routing.using(latency=0.0):
        crew = build()
        with course.record() as rec:
            try:
                crew.kickoff()
            except Exception:
                pass  # a failed run is drawn too
    return crew, rec.run


def one_agent_on_two_async_tasks():
    """A learner's usual broken crew: the run fails, its Gantt lists what did not run."""
    from crewai import Agent, Crew, Task

    solo = Agent(role="Solo Researcher", goal="Research", backstory="Works alone.")
    writer = Agent(role="Writer", goal="Write", backstory="Writes.")
    first = Task(description="Research topic A", expected_output="o", agent=solo, async_execution=True)
    second = Task(description="Research topic B", expected_output="o", agent=solo, async_execution=True)
    join = Task(description="Combine", expected_output="o", agent=writer, context=[first, second])
    return Crew(agents=[solo, writer], tasks=[first, second, join])


def cases():
    mixed_crew, mixed = recorded(examples.mixed_phases_crew)
    _, parallel = recorded(examples.async_crew)
    _, sequential = recorded(examples.sequential_crew)
    _, hierarchical = recorded(examples.hierarchical_crew)
    _, failed = recorded(one_agent_on_two_async_tasks)
    assert failed.error, "the broken crew should fail"
    return {
        "gantt mixed": ("gantt", lambda p: p.gantt(mixed)),
        "gantt async": ("gantt", lambda p: p.gantt(parallel)),
        "gantt sequential": ("gantt", lambda p: p.gantt(sequential)),
        "gantt hierarchical": ("gantt", lambda p: p.gantt(hierarchical)),
        "gantt failed": ("gantt", lambda p: p.gantt(failed)),
        "dag crew": ("dag", lambda p: p.dag(mixed_crew)),
        "dag run": ("dag", lambda p: p.dag(mixed)),
        "dag dict": ("dag", lambda p: p.dag(PLAN, title="Your plan")),
        "compare same": ("compare_dags", lambda p: p.compare_dags(PLAN, mixed_crew)),
        "compare wrong": ("compare_dags", lambda p: p.compare_dags(WRONG_PLAN, mixed_crew)),
    }


def sample(draw, module) -> tuple[float, bytes]:
    started = time.process_time()
    png = print_figure(draw(module), "png", bbox_inches="tight")
    return time.process_time() - started, png


def pixels(png: bytes) -> np.ndarray:
    return imread(io.BytesIO(png), format="png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", default="main", help="git ref of the 'before' course/pictures.py")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "pics-compare")
    args = parser.parse_args()
    before = load_ref(args.ref)
    drawings = cases()
    times = {name: {"before": [], "after": []} for name in drawings}
    last: dict[tuple[str, str], bytes] = {}
    for round_ in range(args.rounds + 1):  # round 0 warms caches (fonts, imports) and is not counted
        for name, (_kind, draw) in drawings.items():
            order = [("before", before), ("after", after)]
            for label, module in (order if round_ % 2 else order[::-1]):
                seconds, png = sample(draw, module)
                if round_:
                    times[name][label].append(seconds)
                last[(name, label)] = png

    args.out.mkdir(parents=True, exist_ok=True)
    print(f"== Pictures: CPU s per picture (build + PNG), mean of {args.rounds}, {args.ref} vs this tree ==")
    print(f"{'picture':20} {'before':>7} {'after':>7} {'ratio':>6}   pixels differing (of all), max diff")
    by_kind: dict[str, dict[str, list[float]]] = {}
    for name, (kind, _draw) in drawings.items():
        b, a = statistics.mean(times[name]["before"]), statistics.mean(times[name]["after"])
        slot = by_kind.setdefault(kind, {"before": [], "after": []})
        slot["before"].append(b)
        slot["after"].append(a)
        stem = name.replace(" ", "-")
        old, new = last[(name, "before")], last[(name, "after")]
        (args.out / f"{stem}.before.png").write_bytes(old)
        (args.out / f"{stem}.after.png").write_bytes(new)
        p, q = pixels(old), pixels(new)
        if p.shape != q.shape:
            change = f"size {p.shape[:2]} -> {q.shape[:2]}"
        else:
            differ = np.any(np.abs(p - q) > 1e-6, axis=-1)
            change = f"{int(differ.sum()):6d} ({differ.mean():.3%}), {float(np.abs(p - q).max()):.3f}"
        print(f"{name:20} {b:7.3f} {a:7.3f} {a / b:6.2f}   {change}")
    for kind, slot in by_kind.items():
        b, a = statistics.mean(slot["before"]), statistics.mean(slot["after"])
        print(f"{'all ' + kind:20} {b:7.3f} {a:7.3f} {a / b:6.2f}")
    print(f"PNG pairs in {args.out}")


if __name__ == "__main__":
    main()
