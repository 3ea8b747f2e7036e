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


def main() -> None:
    print("== Course kit ==")
    speed = async_speedup()
    print(f"async example at {LATENCY} s/call (median of {ROUNDS}): sequential {speed['sequential_s']:.2f} s, "
          f"async {speed['async_s']:.2f} s, speedup {speed['ratio']:.2f}x "
          f"(ideal {speed['ideal']:.1f}x, {100 * speed['ratio'] / speed['ideal']:.0f}% of ideal)")
    cost = model_overhead()
    print(f"scripted model overhead: {cost['per_call_ms']:.3f} ms per call; a 3-task crew at zero latency: "
          f"{cost['three_task_crew_at_zero_latency_s']:.3f} s (CrewAI's own overhead dominates)")


if __name__ == "__main__":
    main()
