"""Predict, run, compare: a small widget for the async lesson.

The learner guesses how long a crew will take (and which tasks will overlap),
clicks Run, and sees the guess next to the measurement and a timeline.

It must never hang a kernel or fail grading: the crew runs in a worker thread
with a timeout, every error becomes a one-line message, and building the
widget runs nothing, so a headless execution (nbclient, nbgrader) just shows
it and moves on. ``measure`` and ``predict_vs_measure`` are the plain
functions behind the button.
"""

from __future__ import annotations

import html
import io
import threading
from typing import Any, Callable, Iterable

import ipywidgets as widgets

from course import graph, recording, routing, traps
from course.recording import RecordedRun

DEFAULT_TIMEOUT = 60.0


def _task_names(crew: Any) -> list[str]:
    return graph.task_names(list(getattr(crew, "tasks", None) or []))


def measure(build_crew: Callable[[], Any], latency: float = 0.0, timeout: float = DEFAULT_TIMEOUT,
            raise_on_error: bool = True) -> RecordedRun:
    """Build a crew with the scripted model at ``latency`` seconds per call, run it, return the record.

    Agents built without ``llm=`` inside ``build_crew`` get that latency; the
    previous default model is restored afterwards. The kickoff runs in a worker
    thread (so it works inside Jupyter's event loop too) and is abandoned after
    ``timeout`` seconds with a TimeoutError. A crew that fails raises its error,
    or, with ``raise_on_error=False``, comes back as a run whose ``error`` is set.
    """
    with routing.using(latency=latency):
        crew = build_crew()
        try:
            return recording.kickoff(crew, timeout=timeout, raise_on_error=raise_on_error)
        except TimeoutError:
            raise TimeoutError(f"The crew was still running after {timeout:g} s, so the explorer stopped waiting "
                               "for it; try a smaller latency or fewer tasks.") from None


def _overlapping(run: RecordedRun) -> list[str]:
    names = {name for pair in run.overlapping_pairs() for name in pair}
    return [t.name for t in run.tasks if t.name in names]


def _close(a: float, b: float) -> bool:
    """Near enough to call a guess right: 15 % of the larger, at least 0.05 s (scheduling noise)."""
    return abs(a - b) <= max(0.15 * max(a, b), 0.05)


def predict_vs_measure(prediction_seconds: float | None, run: RecordedRun,
                       predicted_overlap: Iterable[str] | None = None) -> str:
    """A few plain sentences: the guess, the measurement, and what the difference says.

    The measurement is split as exercise 3 teaches: the model's calls on the longest chain of
    waiting tasks, and CrewAI's own work around them. A guess that counted the model's calls
    right and is short by that work is told so, not told that its overlaps were wrong.
    """
    if run.error:
        advice = traps.diagnose(run.error) or " ".join(str(run.error).split())[:160]
        return f"The run failed, so there is no time to compare. {advice}"
    overlap_right = None if predicted_overlap is None else set(predicted_overlap) == set(_overlapping(run))
    model = run.critical_model_path()
    lines = [_measured(run, model)]
    if prediction_seconds is not None:
        guess = float(prediction_seconds)
        lines.insert(0, f"You predicted {guess:.2f} s. {_verdict(guess, run, model, overlap_right)}")
    pairs = run.overlapping_pairs()
    if pairs:
        lines.append("Ran side by side: " + "; ".join(f"{a} & {b}" for a, b in pairs) + ".")
    else:
        lines.append("No two tasks overlapped: they ran one after another.")
    if predicted_overlap is not None:
        lines.extend(_overlap_guess(run, set(predicted_overlap)))
    return "\n".join(lines)


def _measured(run: RecordedRun, model: graph.CriticalPath) -> str:
    if model.length <= 0:  # no model call recorded (a run rebuilt by hand): only the measured chain
        return (f"Measured wall time: {run.wall_time:.2f} s (the longest chain of waiting tasks takes "
                f"{run.critical().length:.2f} s).")
    return (f"Measured wall time: {run.wall_time:.2f} s: {model.length:.2f} s of model calls on the longest "
            f"chain of waiting tasks, {max(run.wall_time - model.length, 0):.2f} s of CrewAI's own work.")


def _verdict(guess: float, run: RecordedRun, model: graph.CriticalPath, overlap_right: bool | None) -> str:
    """What the gap between the guess and the measurement says, without contradicting the overlap line."""
    gap = run.wall_time - guess
    if _close(run.wall_time, guess):
        return "Spot on."
    chain = " -> ".join(model.path)
    if gap < 0:
        if overlap_right and model.length > 0:
            return (f"It finished {-gap:.2f} s sooner than you expected: the model's calls on the longest chain "
                    f"of waiting tasks ({chain}) take only {model.length:.2f} s.")
        return f"It finished {-gap:.2f} s sooner than you expected: more of it ran side by side than you counted."
    why = ("you saw the overlaps right, so count the model's calls on that chain again" if overlap_right else
           "some tasks you counted as parallel ran one after another, or waited at a join")
    if model.length <= 0:
        return f"It took {gap:.2f} s longer than you expected: {why}."
    overhead = max(run.wall_time - model.length, 0.0)
    work = (f"CrewAI's own work around each model call (building the prompt, reading the reply, events): "
            f"about {overhead / max(len(model.path), 1) * 1000:.0f} ms a task, as exercise 3 measured.")
    if guess >= model.length:
        return (f"It took {gap:.2f} s longer than you expected. You counted the model's {model.length:.2f} s on "
                f"the longest chain of waiting tasks right; the rest is {work}")
    if _close(guess, model.length):  # a little under the model's own time: near, not "right"
        return (f"It took {gap:.2f} s longer than you expected. Your guess is near the model's {model.length:.2f} s "
                f"on the longest chain of waiting tasks ({chain}); the rest is {work}")
    return (f"It took {gap:.2f} s longer than you expected: the model's calls on the longest chain of waiting "
            f"tasks ({chain}) alone take {model.length:.2f} s ({why}). The other {overhead:.2f} s is {work}")


def _overlap_guess(run: RecordedRun, guessed: set[str]) -> list[str]:
    together = _overlapping(run)
    if guessed == set(together):
        return ["Your overlap guess was right."]
    missed = [n for n in together if n not in guessed]
    wrong = [n for n in (t.name for t in run.tasks) if n in guessed and n not in together]
    return ([f"Also overlapped: {', '.join(missed)}."] if missed else []) + \
        ([f"Did not overlap with anything: {', '.join(wrong)}."] if wrong else [])


def friendly(error: BaseException) -> str:
    """One line for any error: the known trap's advice, or the error's first line."""
    advice = traps.diagnose(error)
    if advice:
        return advice
    first = (str(error).strip().splitlines() or [""])[0]
    return f"The crew stopped with {type(error).__name__}: {first[:200]}"


def friendly_text(message: str) -> str:
    """``friendly`` for an error known only by its message (a failed run's ``error``)."""
    first = (str(message).strip().splitlines() or [""])[0]
    return traps.diagnose(message) or f"The crew stopped: {first[:200]}"


def _png(run: RecordedRun) -> bytes:
    from course.pictures import gantt

    figure = gantt(run, title="What really happened")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    return buffer.getvalue()


class Explorer(widgets.VBox):
    """The widget ``explorer()`` returns; ``run(wait=True)`` does what the button does."""

    def __init__(self, build_crew: Callable[[], Any], latencies: Iterable[float] = (0.1, 0.3, 0.5),
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.build_crew = build_crew
        self.timeout = timeout
        self.last_run: RecordedRun | None = None
        self.last_error: BaseException | None = None
        self._lock = threading.Lock()
        self._busy = False
        latencies = [float(x) for x in latencies] or [0.3]
        names, self._calls_per_task, problem = self._look_at_crew()

        self.latency = widgets.ToggleButtons(options=[(f"{x:g} s", x) for x in latencies], value=latencies[0],
                                             description="Per model call:", style={"description_width": "initial"})
        self.prediction = widgets.FloatSlider(value=0.0, min=0.0, max=self._slider_max(latencies[0], len(names)),
                                              step=0.05, readout_format=".2f", description="I predict (s):",
                                              style={"description_width": "initial"},
                                              layout=widgets.Layout(width="420px"))
        self.overlap = [widgets.Checkbox(value=False, description=name, indent=False) for name in names]
        self.button = widgets.Button(description="Run", button_style="primary", icon="play")
        self.status = widgets.HTML(value=html.escape(problem) if problem else
                                   "Make your prediction, then click <b>Run</b>.")
        self.result = widgets.HTML(value="")
        # Hidden until there is a timeline: an empty Image shows a broken-image icon.
        self.picture = widgets.Image(format="png", layout=widgets.Layout(max_width="100%", display="none"))
        self.button.on_click(lambda _button: self.run())
        self.latency.observe(lambda change: self._rescale(change["new"], len(names)), names="value")
        overlap_box = [widgets.HTML("Which tasks will run at the same time as another one?"),
                       widgets.VBox(self.overlap)] if self.overlap else []
        super().__init__([widgets.HTML("<b>Predict, run, compare</b>"), self.latency, self.prediction,
                          *overlap_box, self.button, self.status, self.result, self.picture])

    def _look_at_crew(self) -> tuple[list[str], int, str]:
        """Task names for the checkboxes; building a crew runs nothing, but it may fail."""
        try:
            crew = self.build_crew()
        except BaseException as error:
            return [], 1, "This crew cannot be built yet: " + friendly(error)
        process = str(getattr(getattr(crew, "process", None), "value", "sequential"))
        return _task_names(crew), 3 if process == "hierarchical" else 1, ""

    def _slider_max(self, latency: float, tasks: int) -> float:
        # Generous enough for a fully sequential run, with a margin for CrewAI's own overhead.
        return round(max(1.0, latency * max(tasks, 1) * self._calls_per_task * 1.5 + 0.5), 1)

    def _rescale(self, latency: float, tasks: int) -> None:
        self.prediction.max = self._slider_max(latency, tasks)

    def predicted_overlap(self) -> list[str]:
        return [box.description for box in self.overlap if box.value]

    def run(self, wait: bool = False) -> threading.Thread | None:
        """Start a measurement in a worker thread (the kernel stays free); ``wait`` joins it."""
        with self._lock:
            if self._busy:
                return None
            self._busy = True
        latency, guess, overlap = self.latency.value, self.prediction.value, self.predicted_overlap()
        self.button.disabled = True
        self.status.value = f"Running the crew at {latency:g} s per model call…"
        worker = threading.Thread(target=self._measure, args=(latency, guess, overlap),
                                  name="course-explorer", daemon=True)
        worker.start()
        if wait:
            worker.join(self.timeout + 30)
        return worker

    def _measure(self, latency: float, guess: float, overlap: list[str]) -> None:
        try:
            run = measure(self.build_crew, latency, timeout=self.timeout, raise_on_error=False)
            self.last_run, self.last_error = run, None
            text = predict_vs_measure(guess, run, overlap if self.overlap else None)
            if run.error:
                self.status.value = '<span style="color:#c0392b">' + html.escape(friendly_text(run.error)) + "</span>"
                self.result.value = ""
            else:
                self.result.value = _comparison_html(guess, overlap if self.overlap else None, run, text)
                self.status.value = "Done. Change your prediction or the latency and run again."
            try:
                self.picture.value = _png(run)
                self.picture.layout.display = ""
            except Exception as error:  # a picture must never cost the learner the result
                self.status.value = "Done (the timeline could not be drawn: " + html.escape(friendly(error)) + ")."
        except BaseException as error:
            self.last_error = error
            self.status.value = '<span style="color:#c0392b">' + html.escape(friendly(error)) + "</span>"
        finally:
            self.button.disabled = False
            with self._lock:
                self._busy = False

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        # Where widgets cannot render (nbgrader's HTML feedback, a plain terminal) a
        # short note shows instead of "Explorer(children=...)".
        bundle = super()._repr_mimebundle_(**kwargs)
        if isinstance(bundle, dict):
            note = "Predict, run, compare: an interactive explorer. It appears when this notebook runs in JupyterLab."
            bundle["text/plain"] = note
            bundle.setdefault("text/html", f"<p><i>{html.escape(note)}</i></p>")
        return bundle


def _comparison_html(guess: float, overlap: list[str] | None, run: RecordedRun, text: str) -> str:
    cell = "padding:2px 14px 2px 0;vertical-align:top"
    overlapped = ", ".join(_overlapping(run)) or "none"
    guessed = "—" if overlap is None else (", ".join(overlap) or "none")
    table = ('<table style="border-collapse:collapse;margin:4px 0">'
             f'<tr><th style="{cell}"></th><th style="{cell}">your prediction</th>'
             f'<th style="{cell}">measured</th></tr>'
             f'<tr><td style="{cell}">wall time</td><td style="{cell}">{guess:.2f} s</td>'
             f'<td style="{cell}">{run.wall_time:.2f} s</td></tr>'
             f'<tr><td style="{cell}">overlapping tasks</td><td style="{cell}">{html.escape(guessed)}</td>'
             f'<td style="{cell}">{html.escape(overlapped)}</td></tr></table>')
    return table + "".join(f"<div>{html.escape(line)}</div>" for line in text.splitlines())


def explorer(build_crew: Callable[[], Any], latencies: Iterable[float] = (0.1, 0.3, 0.5),
             timeout: float = DEFAULT_TIMEOUT) -> Explorer:
    """A predict-run-compare widget for the crew that ``build_crew()`` returns (a fresh one per run)."""
    return Explorer(build_crew, latencies, timeout)


__all__ = ["Explorer", "explorer", "friendly", "measure", "predict_vs_measure"]
