"""Benchmark of the course kit (not a test): concurrency gain and the scripted model's cost.

Measured side by side in one run: the syllabus' async example (three async
research tasks joined by a synthesis task, one agent each) against the same
four tasks run one after another, at 0.5 s per model call. Ideal ratio: 2.0
(four steps of 0.5 s against two).
"""

from __future__ import annotations

import statistics
import time

import course
from course import examples
from course.scripted_llm import ScriptedLLM

LATENCY = 0.5
ROUNDS = 3


def _wall(build) -> float:
    start = time.perf_counter()
    build().kickoff()
    return time.perf_counter() - start


def async_speedup() -> dict[str, float]:
    course.reset_default_llm(latency=LATENCY)
    try:
        sequential, parallel = [], []
        for _ in range(ROUNDS):  # interleaved, so drift hits both sides alike
            sequential.append(_wall(lambda: examples.async_crew(parallel=False)))
            parallel.append(_wall(examples.async_crew))
    finally:
        course.reset_default_llm()
    seq, par = statistics.median(sequential), statistics.median(parallel)
    return {"sequential_s": seq, "async_s": par, "ratio": seq / par, "ideal": 2.0}


def model_overhead(calls: int = 2000) -> dict[str, float]:
    llm = ScriptedLLM()
    messages = [{"role": "system", "content": "You are Researcher. b\nYour personal goal is: g"},
                {"role": "user", "content": "\nCurrent Task: Research bees\n\nProvide your complete response:"}]
    start = time.perf_counter()
    for _ in range(calls):
        llm.call(messages)
    per_call = (time.perf_counter() - start) / calls
    course.reset_default_llm()
    start = time.perf_counter()
    examples.sequential_crew().kickoff()
    crew_wall = time.perf_counter() - start
    return {"per_call_ms": per_call * 1000, "three_task_crew_at_zero_latency_s": crew_wall}


_GC_PROBE = """
import gc, sys, time
import course
from course import examples
if sys.argv[1] == "unfrozen":
    gc.unfreeze()  # as before `import course` froze CrewAI's import-time objects
for _ in range(int(sys.argv[2])):
    examples.async_crew().kickoff()
start = time.perf_counter()
gc.collect()
print(time.perf_counter() - start)
"""


def gc_pause(crews: int = 20) -> dict[str, float]:
    """A full garbage collection after ``crews`` kickoffs, with import-time objects frozen and not (own processes)."""
    import subprocess
    import sys

    found = {}
    for mode in ("frozen", "unfrozen"):
        out = subprocess.run([sys.executable, "-c", _GC_PROBE, mode, str(crews)], check=True, capture_output=True,
                             text=True, timeout=600).stdout.split()
        found[mode] = float(out[-1])
    return found


def main() -> None:
    print("== Course kit ==")
    speed = async_speedup()
    print(f"async example at {LATENCY} s/call (median of {ROUNDS}): sequential {speed['sequential_s']:.2f} s, "
          f"async {speed['async_s']:.2f} s, speedup {speed['ratio']:.2f}x "
          f"(ideal {speed['ideal']:.1f}x, {100 * speed['ratio'] / speed['ideal']:.0f}% of ideal)")
    cost = model_overhead()
    print(f"scripted model overhead: {cost['per_call_ms']:.3f} ms per call; a 3-task crew at zero latency: "
          f"{cost['three_task_crew_at_zero_latency_s']:.3f} s (CrewAI's own overhead dominates)")
    pause = gc_pause()
    print(f"full garbage collection after 20 crews: {pause['frozen'] * 1000:.0f} ms with import-time objects frozen "
          f"(import course), {pause['unfrozen'] * 1000:.0f} ms without: {pause['unfrozen'] / pause['frozen']:.0f}x "
          "shorter (a pause that lands while async tasks start delays them all)")


if __name__ == "__main__":
    main()
