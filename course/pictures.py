"""Pictures of a crew: a Gantt timeline of what ran when, and the task DAG.

Every function returns a matplotlib Figure: the last line of a cell shows it
(once), ``fig.savefig("run.png")`` keeps it. Static PNGs render the same in
JupyterLab and in nbgrader's HTML feedback. Nothing here runs a crew or grades.
"""

from __future__ import annotations

import textwrap
import threading
from dataclasses import dataclass, field
from typing import Any, Mapping

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import ConnectionStyle, FancyArrowPatch, FancyBboxPatch, Patch, Rectangle
from matplotlib.path import Path

from course import graph as graphs
from course.recording import RecordedRun, TaskRecord

SYNC_FACE, SYNC_EDGE = "#d6e4f5", "#2f64a8"
ASYNC_FACE, ASYNC_EDGE = "#d8efd9", "#2c8a4b"
ASYNC_HATCH = "///"
MANAGER_FACE, MANAGER_EDGE = "#e7dff3", "#6a4ea0"
FAILED = "#c0392b"
CRITICAL = "#b7860b"
MISSING = "#d62728"
EXTRA = "#ff7f0e"
INK = "#2b2b2b"
MUTED = "#7a7a7a"
DATA_ONLY = "#b0b0b0"
WAIT_ONLY = (0, (1.2, 1.6))  # dotted: waits, but receives no output

_BAR = 0.56  # bar height, in lanes
_STRIP_Y = -0.6  # baseline of the notes above the first lane (join, wall time), in lanes
_STRIP_ROW = 0.3  # a second row of notes, when two would cover each other


def _new_axes(ax: Any, figsize: tuple[float, float]) -> tuple[Figure, Any, bool]:
    """The axes to draw on, its figure, and whether this module created it."""
    if ax is not None:
        return ax.figure, ax, False
    if threading.current_thread() is threading.main_thread():
        # Through pyplot, so that Jupyter's inline backend is loaded and knows how to
        # show a Figure; closed at once, so that the cell shows only the returned one.
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=figsize)
        plt.close(fig)
    else:
        # pyplot's global state is not thread-safe (the explorer draws in a worker thread).
        fig = Figure(figsize=figsize)
        ax = fig.add_subplot()
    return fig, ax, True


def _renderer(fig: Figure) -> Any:
    """A renderer to measure text with; a canvas without one (pyplot's headless default) gets Agg's,
    which also draws PNGs, so labels are fitted whatever backend made the figure."""
    if not hasattr(fig.canvas, "get_renderer"):
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig)
    try:
        return fig.canvas.get_renderer()
    except Exception:  # a canvas that cannot render: labels are then not fitted
        return None


def _title(ax: Any, text: str, owned: bool, **style: Any) -> None:
    """The title, at the top left. On axes this module made, nothing can sit above the plot (x ticks
    at the bottom or none, no offset text on the y axis), so matplotlib's automatic title placement
    always settles at y = 1: saying so spares it measuring every tick of both axes at each layout and
    each draw (a fifth of a DAG picture's time, a twentieth of a Gantt's, for the same pixels). Axes a caller passes in
    keep the automatic placement: they may have ticks on top."""
    ax.set_title(text, loc="left", **({"y": 1.0} if owned else {}), **style)


def _add(ax: Any, patch: Any) -> None:
    """Put a bar, box or arrow on axes whose limits this module sets itself. Not add_patch: that
    also grows the axes' data limits, which nothing here reads, by a search for the extremes of
    every curve of the patch (rounded box corners, arcs): a tenth of a DAG picture's time.
    Axes.relim() still finds the patch, as it looks at every child."""
    ax.add_artist(patch)


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 1)].rstrip() + "…"


# --- Gantt -------------------------------------------------------------------------------

@dataclass
class _Bar:
    record: TaskRecord
    lane: str
    start: float
    end: float
    kind: str  # "task", "held" (the manager holding a task) or "delegation"
    ok: bool = True
    delegation: Any = None
    track: int = 0
    tracks: int = 1

    @property
    def gid(self) -> str:
        return f"{'delegation' if self.kind == 'delegation' else 'task'}:{self.record.name}"


@dataclass
class _Label:
    text: Any
    start: float
    end: float
    room_until: float  # where the next bar in the same track begins
    full: str
    fallback: str


def _bars(run: RecordedRun, hierarchical: bool, horizon: float) -> list[_Bar]:
    bars = []
    manager = run.manager or "Manager"
    for record in run.tasks:
        if record.start is None:
            continue
        end = record.end if record.end is not None else horizon
        ok = record.error is None and record.end is not None
        if hierarchical:
            bars.append(_Bar(record, manager, record.start, end, "held", ok))
            for item in record.delegations:
                bars.append(_Bar(record, item.coworker, item.start, item.end, "delegation", item.ok, item))
        else:
            bars.append(_Bar(record, record.worker or record.agent or "(no agent)", record.start, end, "task", ok))
    return bars


def _stack(bars: list[_Bar]) -> None:
    """Bars that overlap in one lane (one agent on two tasks at once) go on separate tracks."""
    by_lane: dict[str, list[_Bar]] = {}
    for bar in bars:
        by_lane.setdefault(bar.lane, []).append(bar)
    for row in by_lane.values():
        ends: list[float] = []
        for bar in sorted(row, key=lambda b: (b.start, b.record.index)):
            free = [i for i, end in enumerate(ends) if end <= bar.start + 1e-9]
            bar.track = free[0] if free else len(ends)
            if free:
                ends[bar.track] = bar.end
            else:
                ends.append(bar.end)
        for bar in row:
            bar.tracks = len(ends)


def _joins(run: RecordedRun, deps: Mapping[str, list[str]]) -> list[TaskRecord]:
    """Sync tasks that wait for an async task: where parallel branches meet again."""
    is_async = {t.name for t in run.tasks if t.async_execution}
    return [t for t in run.tasks if not t.async_execution and t.start is not None
            and any(d in is_async for d in deps.get(t.name, []))]


_LEGEND_INCHES = 0.42

_Spot = tuple[float, float, float]  # a drawn bar: (start, end, y of its middle)


@dataclass
class _Timeline:
    """What a Gantt picture shows, worked out before anything is drawn."""
    hierarchical: bool
    horizon: float  # the right end of the time axis, before its margin
    bars: list[_Bar]
    lanes: list[str]

    @classmethod
    def of(cls, run: RecordedRun) -> "_Timeline":
        hierarchical = run.process == "hierarchical" or bool(run.delegations)
        ends = [t.end for t in run.tasks if t.end is not None] + [d.end for d in run.delegations]
        horizon = max([run.wall_time, *ends, 1e-3])
        bars = _bars(run, hierarchical, horizon)
        _stack(bars)
        lanes = ([run.manager or "Manager"] if hierarchical else []) + [b.lane for b in bars]
        return cls(hierarchical, horizon, bars, list(dict.fromkeys(lanes)))

    @property
    def height(self) -> float:
        """The figure's height in inches: a title, the lanes, the axis and the legend."""
        return 1.35 + 0.62 * max(len(self.lanes), 1) + 0.5 + _LEGEND_INCHES


def gantt(run: RecordedRun, ax: Any = None, title: str | None = None) -> Figure:
    """A timeline of a recorded run: one lane per agent that did the work, one bar per task.

    Async tasks are hatched green; a dashed line marks each join (a sync task that
    waits for async ones) and thin arrows go from the end of each task whose output
    another one waits for to the start of that task. Under the hierarchical process
    the manager has its own lane (it holds every task) and arrows show each
    delegation to the coworker who did the work. Two bars in one lane at the same
    moment (one agent on two tasks) are stacked. Tasks that never started are
    listed under the title, not drawn.
    """
    line = _Timeline.of(run)
    fig, ax, owned = _new_axes(ax, (10, line.height))
    labels, centre = _draw_bars(ax, line)
    _give_labels_room(labels)
    _draw_delegations(ax, line.bars, centre)
    deps = run.dependencies()
    joins = _joins(run, deps)
    strip = _draw_joins(ax, joins)  # the notes above the lanes, laid out last so none covers another
    _draw_waits(ax, run, deps, centre, {j.name for j in joins})
    strip.insert(0, _draw_wall_time(ax, run))
    _frame_lanes(ax, line)
    _title(ax, _gantt_heading(run, title), owned, fontsize=10, color=FAILED if run.error else INK)
    if not line.lanes:
        ax.text(0.5, 0.5, "No task started.", transform=ax.transAxes, ha="center", va="center", color=FAILED)
    _place_legend(fig, ax, _gantt_legend(ax, line, bool(joins)), owned, line.height)
    _fit_labels(fig, ax, labels)
    _unclutter_strip(fig, ax, strip)
    fig.text_alternative = run.summary()  # type: ignore[attr-defined]  # the timeline in words
    return fig


def _draw_bars(ax: Any, line: _Timeline) -> tuple[list[_Label], dict[tuple[str, str], _Spot]]:
    """One bar per task (or held task, or delegation), with its name still unfitted."""
    y = {lane: i for i, lane in enumerate(line.lanes)}
    labels: list[_Label] = []
    centre: dict[tuple[str, str], _Spot] = {}  # (kind, task) -> where its bar is
    for bar in line.bars:
        slot = _BAR / bar.tracks
        middle = y[bar.lane] - _BAR / 2 + (bar.track + 0.5) * slot
        is_async = bar.record.async_execution
        if bar.kind == "held":
            face, edge, hatch = MANAGER_FACE, MANAGER_EDGE, None
        else:
            face, edge = (ASYNC_FACE, ASYNC_EDGE) if is_async else (SYNC_FACE, SYNC_EDGE)
            hatch = ASYNC_HATCH if is_async else None
        _add(ax, Rectangle((bar.start, middle - slot / 2 + 0.02), bar.end - bar.start, slot - 0.04,
                           facecolor=face, edgecolor=edge if bar.ok else FAILED, hatch=hatch, hatchcolor=edge,
                           linewidth=1.0 if bar.ok else 1.8,
                           linestyle="--" if bar.kind != "delegation" and bar.record.end is None else "-",
                           zorder=2, gid=bar.gid))
        centre[(bar.kind, bar.record.name)] = (bar.start, bar.end, middle)
        name = bar.record.name + ("" if bar.ok else " ✗")
        box = dict(boxstyle="round,pad=0.12", facecolor="white", edgecolor="none", alpha=0.8) if hatch else None
        text = ax.text(0, middle, name, va="center", fontsize=8.5 if bar.tracks == 1 else 7.5, color=INK,
                       zorder=5, bbox=box)
        labels.append(_Label(text, bar.start, bar.end, line.horizon * 1.04, name, f"#{bar.record.index + 1}"))
    return labels, centre


def _give_labels_room(labels: list[_Label]) -> None:
    """A label may spill past its bar until the next bar on the same track begins."""
    rows: dict[float, list[_Label]] = {}
    for label in labels:
        rows.setdefault(label.text.get_position()[1], []).append(label)
    for row in rows.values():
        row.sort(key=lambda item: item.start)
        for this, following in zip(row, row[1:]):
            this.room_until = following.start


def _draw_delegations(ax: Any, bars: list[_Bar], centre: Mapping[tuple[str, str], _Spot]) -> None:
    """Under the hierarchical process: the manager's arrow down to the coworker, and the report back up."""
    for bar in bars:
        if bar.kind != "delegation":
            continue
        held = centre[("held", bar.record.name)]
        top, bottom = held[2] + _BAR / 2, centre[("delegation", bar.record.name)][2] - _BAR / (2 * bar.tracks)
        arrow = dict(arrowstyle="-|>", color=MANAGER_EDGE if bar.ok else FAILED, lw=1.1, shrinkA=0, shrinkB=0,
                     mutation_scale=9, zorder=4)
        _add(ax, FancyArrowPatch((bar.start, top), (bar.start, bottom), gid=f"delegate:{bar.record.name}",
                                 **arrow))
        _add(ax, FancyArrowPatch((bar.end, bottom), (bar.end, top), linestyle=(0, (2, 2)),
                                 gid=f"report:{bar.record.name}", **arrow))


def _draw_joins(ax: Any, joins: list[TaskRecord]) -> list[Any]:
    """A dashed line where each join starts; returns the notes that name them."""
    notes = []
    for join in joins:
        ax.axvline(join.start, color=INK, linestyle=(0, (4, 3)), linewidth=1.0, zorder=1, gid=f"join:{join.name}")
        notes.append(ax.text(join.start, _STRIP_Y, " join ", ha="left", va="bottom", fontsize=8, color=INK,
                             gid=f"join-label:{join.name}"))
    return notes


def _draw_waits(ax: Any, run: RecordedRun, deps: Mapping[str, list[str]],
                centre: Mapping[tuple[str, str], _Spot], join_names: set[str]) -> None:
    """An arrow from the end of each task another waits for to the start of the one that waits."""
    data = run.receives()
    work = {name: spot for (kind, name), spot in centre.items() if kind in ("task", "held")}
    for record in run.tasks:
        if record.name not in work or not (record.context or record.name in join_names):
            continue
        start, _end, to_y = work[record.name]
        for dep in deps.get(record.name, []):
            if dep not in work or abs(work[dep][2] - to_y) < 1e-9:
                continue  # same track: the bars already touch
            _start, dep_end, from_y = work[dep]
            carries = dep in data.get(record.name, [])  # dotted: the barrier holds it back, no output passes
            _add(ax, FancyArrowPatch((dep_end, from_y), (start, to_y), arrowstyle="-|>", color=MUTED,
                                     lw=0.8, mutation_scale=8, shrinkA=0, shrinkB=0, zorder=3,
                                     linestyle="-" if carries else WAIT_ONLY,
                                     gid=f"{'passes' if carries else 'waits'}:{dep}->{record.name}"))


def _draw_wall_time(ax: Any, run: RecordedRun) -> Any:
    """The line at the run's wall time; returns its note."""
    ax.axvline(run.wall_time, color=INK, linewidth=1.4, zorder=1, gid="wall-time")
    return ax.text(run.wall_time, _STRIP_Y, f"wall time {run.wall_time:.2f} s ", ha="right",
                   va="bottom", fontsize=8.5, color=INK, fontweight="bold", gid="wall-time-label")


def _frame_lanes(ax: Any, line: _Timeline) -> None:
    ax.set_xlim(0, line.horizon * 1.04)
    ax.set_ylim(len(line.lanes) - 0.5 + 0.02, -0.5 - 0.5)  # inverted: first lane on top, a strip for the notes
    ax.set_yticks(range(len(line.lanes)), line.lanes)
    ax.set_xlabel("seconds since kickoff")
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _gantt_heading(run: RecordedRun, title: str | None) -> str:
    length = run.critical_path()[1]
    heading = [title or "What ran when",
               f"Process.{run.process} · wall time {run.wall_time:.2f} s · critical path {length:.2f} s"]
    if run.error:
        heading.append("failed: " + _short(" ".join(str(run.error).split()), 95))
    skipped = [t.name for t in run.tasks if t.start is None]
    if skipped:
        heading.append(_short("did not run: " + ", ".join(skipped), 110))
    return "\n".join(heading)


def _gantt_legend(ax: Any, line: _Timeline, joins: bool) -> list[Any]:
    """A legend entry for each kind of mark the picture has, and none for the others."""
    handles = [Patch(facecolor=SYNC_FACE, edgecolor=SYNC_EDGE, label="task"),
               Patch(facecolor=ASYNC_FACE, edgecolor=ASYNC_EDGE, hatch=ASYNC_HATCH, label="async task")]
    if line.hierarchical:
        handles.append(Patch(facecolor=MANAGER_FACE, edgecolor=MANAGER_EDGE, label="manager holds the task"))
        handles.append(Line2D([], [], color=MANAGER_EDGE, marker="v", markersize=5, lw=1,
                              label="delegates / reports back"))
    if joins:
        handles.append(Line2D([], [], color=INK, linestyle=(0, (4, 3)), lw=1, label="join"))
    if any(str(p.get_gid()).startswith("passes:") for p in ax.patches):
        handles.append(Line2D([], [], color=MUTED, lw=0.8, marker=">", markersize=4, label="output waited for"))
    if any(str(p.get_gid()).startswith("waits:") for p in ax.patches):
        handles.append(Line2D([], [], color=MUTED, lw=0.8, linestyle=WAIT_ONLY, label="waited for, no output"))
    if any(not b.ok for b in line.bars):
        handles.append(Patch(facecolor="white", edgecolor=FAILED, linewidth=1.8, label="failed"))
    return handles


def _place_legend(fig: Figure, ax: Any, handles: list[Any], owned: bool, height: float) -> None:
    if owned:
        fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 6), fontsize=8, frameon=False)
        # The layout measures its text with the renderer the labels are fitted with later (a
        # renderer keeps what it measured; a canvas without one would get a throwaway one here).
        _renderer(fig)
        fig.tight_layout(rect=(0, _LEGEND_INCHES / height, 1, 1))
    else:  # beside the lanes, where it covers no bar
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)


def _unclutter_strip(fig: Figure, ax: Any, texts: list[Any]) -> None:
    """Keep the notes above the lanes apart: the first (wall time) stays; each join note goes to
    the right of its line, else to its left, else one row higher (the strip grows to hold it)."""
    renderer = _renderer(fig)
    if renderer is None or not texts:
        return
    placed = [texts[0].get_window_extent(renderer)]
    raised = False
    for text in texts[1:]:
        x = text.get_position()[0]
        for y, ha in ((_STRIP_Y, "left"), (_STRIP_Y, "right"), (_STRIP_Y - _STRIP_ROW, "left"),
                      (_STRIP_Y - _STRIP_ROW, "right")):
            text.set_position((x, y))
            text.set_ha(ha)
            box = text.get_window_extent(renderer)
            if not any(box.overlaps(other) for other in placed):
                placed.append(box)
                raised = raised or y != _STRIP_Y
                break
        else:
            text.set_visible(False)  # four joins in one spot: the legend still names the dashed line
    if raised:
        bottom, top = ax.get_ylim()
        ax.set_ylim(bottom, top - _STRIP_ROW)


def _fit_labels(fig: Figure, ax: Any, labels: list[_Label]) -> None:
    """Put each name inside its bar, or just after it when the track is free, or shortened."""
    renderer = _renderer(fig)

    def px(x: float) -> float:
        return ax.transData.transform((x, 0))[0]

    for label in labels:
        text = label.text
        lane_y = text.get_position()[1]
        inside = px(label.end) - px(label.start) - 8
        outside = px(min(label.room_until, ax.get_xlim()[1])) - px(label.end) - 10

        def width(candidate: str) -> float:
            if renderer is None:
                return len(candidate) * text.get_fontsize() * 0.62 * fig.dpi / 72
            text.set_text(candidate)
            return text.get_window_extent(renderer).width

        if width(label.full) <= inside:
            text.set_text(label.full)
            text.set_position(((label.start + label.end) / 2, lane_y))
            text.set_ha("center")
        elif width(" " + label.full) <= outside:
            text.set_text(" " + label.full)
            text.set_position((label.end, lane_y))
            text.set_ha("left")
            # Beside the bar, arrows to later tasks may pass under the name: keep it legible.
            text.set_bbox(dict(boxstyle="round,pad=0.12", facecolor="white", edgecolor="none", alpha=0.85))
        else:
            text.set_ha("center")
            text.set_position(((label.start + label.end) / 2, lane_y))
            for size in range(len(label.full) - 1, 3, -1):
                candidate = _short(label.full, size)
                if width(candidate) <= inside:
                    text.set_text(candidate)
                    break
            else:
                text.set_text(label.fallback if width(label.fallback) <= inside + 6 else "")


# --- DAG ---------------------------------------------------------------------------------

@dataclass
class _GraphView:
    graph: graphs.Graph  # waits, reduced
    is_async: set[str] = field(default_factory=set)
    data: graphs.Graph | None = None  # whose outputs each task receives; None: a dict, waits only
    durations: dict[str, float] | None = None
    caption: str = ""
    specs: list[graphs.TaskSpec] | None = None  # the tasks, in list order; None: a dict


def _view(source: Any) -> _GraphView:
    if isinstance(source, RecordedRun):
        durations = {t.name: t.duration for t in source.tasks if t.start is not None}
        return _GraphView(source.dependencies(), {t.name for t in source.tasks if t.async_execution},
                          source.receives(), durations, f"{source.process} run, wall time {source.wall_time:.2f} s",
                          source.specs())
    if isinstance(source, Mapping):
        return _GraphView(graphs.normalize(source), caption="as written down")
    if hasattr(source, "tasks"):
        process = str(getattr(getattr(source, "process", None), "value", "sequential"))
        specs = graphs.specs(source)
        return _GraphView(graphs.waits_for(specs), {name for name, is_async, _ in specs if is_async},
                          graphs.receives_from(specs), caption=f"{process} crew, before it runs", specs=specs)
    raise TypeError("dag() draws a RecordedRun, a Crew, or a dict {task name: [names it waits for]}; "
                    f"got {type(source).__name__}.")


def _layers(graph: graphs.Graph) -> list[list[str]]:
    try:
        return graphs.phases(graph)
    except ValueError:
        # A cycle (only a hand-written dict can have one): lay it out anyway, ignoring back edges.
        depth: dict[str, int] = {}
        active: set[str] = set()

        def of(node: str) -> int:
            if node in depth:
                return depth[node]
            active.add(node)
            value = 1 + max((of(d) for d in graph.get(node, []) if d not in active), default=-1)
            active.discard(node)
            depth[node] = value
            return value

        for node in graph:
            of(node)
        layers: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
        for node in graph:
            layers[depth[node]].append(node)
        return layers


_DX, _DY, _W, _H = 2.7, 1.2, 2.05, 0.8  # column step, row step, node box (data units)
_INCH = 0.9  # inches per data unit: the same both ways, so that arcs keep their shape
_CLEAR = 0.1  # gap an edge keeps from boxes it passes
_ROUNDING = 0.12  # corner size of a node box


@dataclass
class _Layout:
    where: dict[str, tuple[float, float]]
    bends: dict[tuple[str, str], float]  # arc3 "rad" per edge
    xlim: tuple[float, float]
    ylim: tuple[float, float]

    @property
    def size(self) -> tuple[float, float]:
        """Figure inches for this layout: the data plus title and legend strips."""
        return (max(4.0, (self.xlim[1] - self.xlim[0]) * _INCH + 0.3),
                max(2.4, (self.ylim[1] - self.ylim[0]) * _INCH + 1.1))


def _curve(p0: tuple[float, float], p1: tuple[float, float], rad: float, steps: int = 24) -> list[tuple[float, float]]:
    """Points of matplotlib's arc3 connection (a quadratic Bezier), in data units."""
    (x0, y0), (x1, y1) = p0, p1
    cx, cy = (x0 + x1) / 2 + rad * (y1 - y0), (y0 + y1) / 2 - rad * (x1 - x0)
    points = []
    for i in range(steps + 1):
        t = i / steps
        points.append(((1 - t) ** 2 * x0 + 2 * (1 - t) * t * cx + t ** 2 * x1,
                       (1 - t) ** 2 * y0 + 2 * (1 - t) * t * cy + t ** 2 * y1))
    return points


def _hits(points: list[tuple[float, float]], where: Mapping[str, tuple[float, float]], skip: set[str]) -> bool:
    for name, (x, y) in where.items():
        if name in skip:
            continue
        for px, py in points:
            if abs(px - x) <= _W / 2 + _CLEAR and abs(py - y) <= _H / 2 + _CLEAR:
                return True
    return False


def _layout(layers: list[list[str]], edge_list: list[tuple[str, str]]) -> _Layout:
    """Nodes in phase columns; each edge bent just enough to miss the boxes between its ends."""
    where: dict[str, tuple[float, float]] = {}
    for col, layer in enumerate(layers):
        for row, name in enumerate(layer):
            where[name] = (col * _DX, ((len(layer) - 1) / 2 - row) * _DY)
    rows = max((len(layer) for layer in layers), default=1)
    top = (rows - 1) / 2 * _DY + _H / 2
    low, high = -top - 0.25, top + 0.25
    bends: dict[tuple[str, str], float] = {}
    for dep, name in edge_list:
        if dep not in where or name not in where:
            continue
        p0, p1 = where[dep], where[name]
        centre_y = (p0[1] + p1[1]) / 2
        outward = 1.0 if centre_y < 0 or (centre_y == 0 and p1[0] < p0[0]) else -1.0
        if p1[0] < p0[0]:
            outward = -outward  # arc3 bends the other way when the edge runs right to left
        chosen = 0.0
        for size in (0.0, 0.12, 0.2, 0.3, 0.42, 0.55):
            options = [size * outward, -size * outward] if size else [0.0]
            fits = [rad for rad in options if not _hits(_curve(p0, p1, rad), where, {dep, name})]
            if fits:
                chosen = fits[0]
                break
        else:
            chosen = 0.55 * outward
        bends[(dep, name)] = chosen
        ys = [py for _px, py in _curve(p0, p1, chosen)]
        low, high = min(low, min(ys) - 0.15), max(high, max(ys) + 0.1)
    high += 0.4  # the phase headers
    columns = max(len(layers), 1)
    return _Layout(where, bends, (-_W / 2 - 0.2, (columns - 1) * _DX + _W / 2 + 0.2), (low, high))


class _Arc3BetweenBoxes(ConnectionStyle.Arc3):
    """matplotlib's arc3 connection from node box to node box, cut where it leaves the first box
    and enters the second, then shortened by shrinkA/shrinkB: the path arc3 draws with patchA and
    patchB, found from the boxes' geometry. arc3's own cut bisects with Patch.contains (a box path
    rebuilt and a point-in-path test each step, about 40 a draw per arrow), which was more than half
    of a DAG's PNG time. Computed at draw time in display space, as arc3 is, so that a panel whose
    axes are not scaled alike both ways (compare_dags) bends and ends its arrows as before."""

    _TOLERANCE = 0.01  # display units, as matplotlib's bisection

    def __call__(self, posA: Any, posB: Any, shrinkA: float = 2.0, shrinkB: float = 2.0,
                 patchA: Any = None, patchB: Any = None) -> Path:
        (x0, y0), (cx, cy), (x1, y1) = self.connect(posA, posB).vertices

        def at(t: float) -> tuple[float, float]:
            a, b, c = (1 - t) ** 2, 2 * t * (1 - t), t * t
            return a * x0 + b * cx + c * x1, a * y0 + b * cy + c * y1

        start, stop = 0.0, 1.0
        if patchA is not None:
            start = self._crossing(at, _inside_box(patchA), start, stop)
        if patchB is not None:
            stop = self._crossing(at, _inside_box(patchB), start, stop, from_stop=True)
        if shrinkA:
            start = self._crossing(at, _inside_circle(at(start), shrinkA), start, stop)
        if shrinkB:
            stop = self._crossing(at, _inside_circle(at(stop), shrinkB), start, stop, from_stop=True)
        # The piece of the curve between start and stop is a quadratic Bezier too (de Casteljau).
        a, b = start, stop
        middle = (1 - a) * (1 - b), (1 - a) * b + a * (1 - b), a * b
        control = (middle[0] * x0 + middle[1] * cx + middle[2] * x1, middle[0] * y0 + middle[1] * cy + middle[2] * y1)
        return Path([at(a), control, at(b)], [Path.MOVETO, Path.CURVE3, Path.CURVE3])

    @classmethod
    def _crossing(cls, at: Any, inside: Any, t0: float, t1: float, from_stop: bool = False) -> float:
        """Where between t0 and t1 the curve crosses the region's border (bisection, as matplotlib's
        split_path_inout); no crossing (both ends on one side) leaves the end as it is."""
        p0, p1 = at(t0), at(t1)
        in0 = inside(p0)
        if in0 == inside(p1):
            return t1 if from_stop else t0
        while (p0[0] - p1[0]) ** 2 + (p0[1] - p1[1]) ** 2 >= cls._TOLERANCE ** 2:
            middle = (t0 + t1) / 2
            point = at(middle)
            if inside(point) == in0:
                t0, p0 = middle, point
            else:
                t1, p1 = middle, point
        return (t0 + t1) / 2


def _inside_circle(centre: tuple[float, float], radius: float) -> Any:
    x, y, r2 = centre[0], centre[1], radius * radius
    return lambda p: (p[0] - x) ** 2 + (p[1] - y) ** 2 < r2


def _inside_box(box: FancyBboxPatch) -> Any:
    """Whether a display point is in a rounded node box, as Patch.contains says: its outline grown by
    half its line width (in display units, as matplotlib takes it), the rounded corners included
    (quadratic Beziers with the box corner as control point; sqrt(1-u) + sqrt(1-v) = 1 in the corner's
    own units)."""
    style = box.get_boxstyle()
    scale = box.get_mutation_scale()
    pad = style.pad * scale
    rounding = (style.rounding_size if style.rounding_size else style.pad) * scale
    (left, bottom), (right, top) = box.get_transform().transform(
        [(box.get_x() - pad, box.get_y() - pad),
         (box.get_x() + box.get_width() + pad, box.get_y() + box.get_height() + pad)])
    rx = rounding * abs(right - left) / (box.get_width() + 2 * pad)
    ry = rounding * abs(top - bottom) / (box.get_height() + 2 * pad)
    margin = 0.0 if box.get_edgecolor()[3] == 0 else box.get_linewidth() / 2
    mx, my = (left + right) / 2, (bottom + top) / 2
    hx, hy = abs(right - left) / 2, abs(top - bottom) / 2

    def inside(p: tuple[float, float]) -> bool:
        qx, qy = abs(p[0] - mx), abs(p[1] - my)
        if qx > hx + margin or qy > hy + margin:
            return False
        ux, uy = qx - (hx - rx), qy - (hy - ry)
        if ux <= 0 or uy <= 0:
            return True
        u, v = ux / (rx + margin), uy / (ry + margin)
        return u <= 1 and v <= 1 and (1 - u) ** 0.5 + (1 - v) ** 0.5 >= 1

    return inside


def _draw_graph(ax: Any, view: _GraphView, layers: list[list[str]], layout: _Layout, *,
                critical: list[str] | None = None,
                edge_colours: Mapping[tuple[str, str], str] | None = None,
                ghost_edges: Mapping[tuple[str, str], str] | None = None,
                node_notes: Mapping[str, tuple[str, str]] | None = None,
                show_data_only: bool = False) -> None:
    where = layout.where
    critical = critical or []
    on_path = set(zip(critical, critical[1:]))
    boxes: dict[str, FancyBboxPatch] = {}
    for name, (x, y) in where.items():
        is_async = name in view.is_async
        note = (node_notes or {}).get(name)
        box = FancyBboxPatch((x - _W / 2, y - _H / 2), _W, _H, boxstyle=f"round,pad=0,rounding_size={_ROUNDING}",
                             facecolor=ASYNC_FACE if is_async else SYNC_FACE,
                             edgecolor=note[1] if note else (CRITICAL if name in critical else
                                                             (ASYNC_EDGE if is_async else SYNC_EDGE)),
                             hatch=ASYNC_HATCH if is_async else None, hatchcolor=ASYNC_EDGE,
                             linewidth=2.6 if name in critical or note else 1.1,
                             linestyle="--" if note else "-", zorder=2, gid=f"node:{name}")
        _add(ax, box)
        boxes[name] = box
        meta = [m for m in ("async" if is_async else "",
                            f"{view.durations[name]:.2f} s" if view.durations and name in view.durations else "",
                            note[0] if note else "") if m]
        wrapped = "\n".join(textwrap.wrap(name, 21, max_lines=2, placeholder="…")) or name
        bbox = dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none", alpha=0.8) if is_async else None
        ax.text(x, y + (0.09 if meta else 0), wrapped, ha="center", va="center", fontsize=8.5, color=INK,
                zorder=5, bbox=bbox, linespacing=1.05)
        if meta:
            ax.text(x, y - _H / 2 + 0.07, " · ".join(meta), ha="center", va="bottom", fontsize=7,
                    color=note[1] if note else MUTED, zorder=5, bbox=bbox)

    def arrow(dep: str, name: str, colour: str, width: float, style: Any, gid: str) -> None:
        if dep not in where or name not in where:
            return
        rad = layout.bends.get((dep, name), 0.0)
        _add(ax, FancyArrowPatch(where[dep], where[name], patchA=boxes[dep], patchB=boxes[name],
                                 arrowstyle="-|>", mutation_scale=11, color=colour, lw=width,
                                 linestyle=style, shrinkA=2, shrinkB=2, zorder=3 if width < 2 else 4,
                                 connectionstyle=_Arc3BetweenBoxes(rad=rad), gid=gid))

    for name, deps in view.graph.items():
        for dep in deps:
            edge = (dep, name)
            colour = (edge_colours or {}).get(edge)
            # Dotted: a wait that carries no output (the barrier before a sync task).
            style = "-" if view.data is None or dep in view.data.get(name, []) else WAIT_ONLY
            kind = "edge" if style == "-" else "wait"
            if colour:
                arrow(dep, name, colour, 2.2, style, f"{kind}:{dep}->{name}")
            elif edge in on_path:
                arrow(dep, name, CRITICAL, 2.6, style, f"{kind}:{dep}->{name}")
            else:
                arrow(dep, name, MUTED, 1.1, style, f"{kind}:{dep}->{name}")
    if show_data_only:
        for dep, name in sorted(_data_only(view)):
            arrow(dep, name, DATA_ONLY, 0.8, "-", f"data:{dep}->{name}")
    for (dep, name), colour in (ghost_edges or {}).items():
        arrow(dep, name, colour, 2.0, (0, (3, 2)), f"ghost:{dep}->{name}")

    for col in range(len(layers)):  # on top of everything, so that arcs pass beneath
        ax.text(col * _DX, layout.ylim[1] - 0.05, f"phase {col + 1}", ha="center", va="top", fontsize=8.5,
                color=MUTED)
    ax.set_xlim(*layout.xlim)
    ax.set_ylim(*layout.ylim)
    ax.set_axis_off()


def _data_only(view: _GraphView) -> set[tuple[str, str]]:
    """Outputs a task receives from a task it waits for only through others (drawn thin)."""
    if view.data is None:
        return set()
    return graphs.edges(view.data) - graphs.edges(view.graph)


def _edge_list(view: _GraphView, *more: Any) -> list[tuple[str, str]]:
    found = [(dep, name) for name, deps in view.graph.items() for dep in deps]
    for extra in more:
        found.extend(e for e in extra if e not in found)
    return found


def dag(source: Any, ax: Any = None, title: str | None = None, highlight_critical: bool = True) -> Figure:
    """Draw a task DAG: from a RecordedRun, a Crew, or a dict ``{task: [tasks it waits for]}``.

    Columns are phases (a task sits one column right of the last task it waits
    for); async tasks are hatched green. An arrow means "waits for": solid when
    the task also receives that output, dotted when it only waits (the barrier
    before a sync task), and a thin grey arrow marks an output received from a
    task waited for only through others. The critical path is drawn thick gold:
    by measured seconds for a run, by number of tasks for a crew or a dict.
    The figure carries a text description as ``fig.text_alternative``.
    """
    view = _view(source)
    layers = _layers(view.graph)
    layout = _layout(layers, _edge_list(view, sorted(_data_only(view))))
    fig, ax, owned = _new_axes(ax, layout.size)
    cycle = graphs.find_cycle(view.graph)
    critical: graphs.CriticalPath | None = None
    if highlight_critical and view.graph and not cycle:
        critical = source.critical() if isinstance(source, RecordedRun) else graphs.critical(view.graph)
    _draw_graph(ax, view, layers, layout, critical=critical.path if critical else None, show_data_only=True)
    caption = view.caption
    if cycle:
        caption = graphs.describe_cycle(cycle)
    _title(ax, f"{title or 'Task graph'}\n{caption}", owned, fontsize=10, color=FAILED if cycle else INK)
    handles = [Patch(facecolor=SYNC_FACE, edgecolor=SYNC_EDGE, label="task")]
    if view.is_async:
        handles.append(Patch(facecolor=ASYNC_FACE, edgecolor=ASYNC_EDGE, hatch=ASYNC_HATCH, label="async task"))
    wait_only = view.data is not None and bool(graphs.edges(view.graph) - graphs.edges(view.data))
    handles.append(Line2D([], [], color=MUTED, lw=1.1, label="waits for, receives output"
                          if view.data is not None else "waits for"))
    if wait_only:
        handles.append(Line2D([], [], color=MUTED, lw=1.1, linestyle=WAIT_ONLY, label="waits, no output (barrier)"))
    if _data_only(view):
        handles.append(Line2D([], [], color=DATA_ONLY, lw=0.8, label="receives output only"))
    if critical:
        what = "that took longest" if isinstance(source, RecordedRun) else "with the most tasks"
        tie = f" (one of {len(critical.ties)} as long)" if len(critical.ties) > 1 else ""
        handles.append(Line2D([], [], color=CRITICAL, lw=2.6, label=f"critical path: the chain of waits {what}{tie}"))
    if owned:
        height = fig.get_size_inches()[1]
        fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 4), fontsize=8, frameon=False)
        fig.tight_layout(rect=(0, _LEGEND_INCHES * (1 + (len(handles) > 4)) / height, 1, 1))
    else:
        ax.legend(handles=handles, loc="lower right", fontsize=7, framealpha=0.9)
    fig.text_alternative = describe_graph(view, critical, cycle)  # type: ignore[attr-defined]
    return fig


def describe_graph(view: _GraphView, critical: graphs.CriticalPath | None = None,
                   cycle: list[str] | None = None) -> str:
    """The drawing in words, one line per task (what it waits for, what it receives)."""
    lines = [view.caption]
    if cycle:
        lines.append(graphs.describe_cycle(cycle))
    for name, deps in view.graph.items():
        mode = "async" if name in view.is_async else "sync"
        waits = ", ".join(deps) or "nothing"
        line = f"{name} ({mode}) waits for {waits}"
        if view.data is not None:
            line += f"; receives {', '.join(view.data.get(name, [])) or 'no output'}"
        lines.append(line)
    if critical:
        lines.append("critical path: " + critical.describe("s" if view.durations else "tasks"))
    return "\n".join(lines)


def compare_dags(expected: Mapping[str, Any], crew_or_run: Any) -> Figure:
    """The learner's plan (a dict) next to the crew's real DAG, with the waits that differ marked.

    Spoken from the crew's side, as the notebooks are. Red: a wait the crew has and the
    plan lacks. Orange: a wait the plan has and the crew lacks. A wait that one has
    directly and the other only through other tasks is no difference (the crew's panel
    draws an output received that way thin). The lines above the panels name each
    difference and its cause by CrewAI's rules. Names are matched forgiving case and
    spacing. The panels sit side by side, or one above the other when side by side would
    be too wide to read. The figure carries the differences as ``fig.graph_diff``.
    """
    real = _view(crew_or_run)
    diff, mine = _plan_view(expected, real)
    mine_layers, real_layers = _layers(mine.graph), _layers(real.graph)
    ghosts_mine = {e: MISSING for e in sorted(diff.missing)}
    ghosts_real = {e: EXTRA for e in sorted(diff.extra) if e[0] in real.graph and e[1] in real.graph}
    mine_layout = _layout(mine_layers, _edge_list(mine, ghosts_mine))
    real_layout = _layout(real_layers, _edge_list(real, ghosts_real, sorted(_data_only(real))))
    sizes = (mine_layout.size, real_layout.size)
    words = _verdict(diff, real)
    verdict = _wrap_verdict(words, _panels_width(*sizes))
    fig, left, right = _two_panels(*sizes, top=_verdict_inches(verdict))
    notes = {**{n: ("not in the crew", EXTRA) for n in diff.unknown},
             **{n: ("you left it out", MISSING) for n in diff.absent}}
    _draw_graph(left, mine, mine_layers, mine_layout, edge_colours={e: EXTRA for e in diff.extra},
                ghost_edges=ghosts_mine, node_notes=notes)
    _draw_graph(right, real, real_layers, real_layout, edge_colours={e: MISSING for e in diff.missing},
                ghost_edges=ghosts_real, show_data_only=True)
    _title(left, f"Your plan\n{mine.caption}", True, fontsize=10)
    _title(right, f"Your crew\n{real.caption}", True, fontsize=10)
    fig.suptitle("\n".join(verdict), fontsize=10.5, color=ASYNC_EDGE if diff.same else FAILED, x=0.01, ha="left",
                 linespacing=1.3)
    fig.text_alternative = "\n\n".join(["\n".join(words), "Your plan: " + describe_graph(mine),  # type: ignore[attr-defined]
                                        "Your crew: " + describe_graph(real)])
    handles = _compare_legend(diff, mine, real)
    columns = len(handles) if len(handles) <= 3 else (len(handles) + 1) // 2
    fig.legend(handles=handles, loc="lower center", ncol=columns, fontsize=8, frameon=False)
    height = fig.get_size_inches()[1]
    # tight_layout leaves room for the suptitle itself; the rect keeps the legend's rows clear.
    fig.tight_layout(rect=(0, _LEGEND_INCHES * (1 + (len(handles) > 3)) / height, 1, 1))
    fig.graph_diff = diff  # type: ignore[attr-defined]
    return fig


def _plan_view(expected: Mapping[str, Any], real: _GraphView) -> tuple[graphs.GraphDiff, _GraphView]:
    """The learner's dict, compared with the crew and drawn with the crew's names and async flags."""
    diff, mine_graph = graphs.compare(expected, real.graph)
    for name in diff.absent:  # so that a missing edge has both ends to attach to
        mine_graph.setdefault(name, [])
    caption = "as you wrote it"
    if diff.names:  # drawn with the crew's names, so that both panels read alike
        pairs = ", ".join(f"{mine} = {theirs}" for mine, theirs in list(diff.names.items())[:4])
        caption = f"your names matched by place: {pairs}{', ...' if len(diff.names) > 4 else ''}"
    return diff, _GraphView(mine_graph, {n for n in mine_graph if n in real.is_async}, caption=caption)


_MAX_DIFFERENCES = 3  # edges named in the lines above the panels; the drawing shows them all


def _verdict(diff: graphs.GraphDiff, real: _GraphView) -> list[str]:
    """The differences in words, from the crew's side, each edge with its cause."""
    if diff.same:
        return ["Your plan matches your crew, wait for wait."]
    reasons = graphs.wait_reasons(real.specs) if real.specs else {}
    found = [f"• In your crew '{name}' waits for '{dep}', which your plan does not have (red): "
             + _why_waits(real, reasons.get(name, {}).get(dep), dep, name) for dep, name in sorted(diff.missing)]
    found += [f"• Your plan has '{name}' wait for '{dep}'; your crew does not (orange): "
              + _why_not(real, dep, name) for dep, name in sorted(diff.extra)]
    if len(found) > _MAX_DIFFERENCES:
        found[_MAX_DIFFERENCES:] = [f"• and {len(found) - _MAX_DIFFERENCES} more, drawn below."]
    if diff.unknown:
        found.append("• Names your crew does not have: " + ", ".join(repr(n) for n in diff.unknown))
    if diff.absent:
        found.append("• Tasks of your crew your plan leaves out: " + ", ".join(repr(n) for n in diff.absent))
    return ["Your crew does not wait as your plan says:", *found]


def _why_waits(real: _GraphView, reason: str | None, dep: str, name: str) -> str:
    """Which of CrewAI's rules makes the crew's task wait for the other (see graph.wait_reasons)."""
    if reason == graphs.CONTEXT:
        return f"its context=[...] lists '{dep}'."
    if reason == graphs.SYNC_BEFORE:
        fix = f"make '{dep}' async too" if name in real.is_async else "make both async"
        return (f"'{dep}' is not async, and a task waits for the sync task before it in tasks=[...]. "
                f"To run the two side by side, {fix} (async_execution=True).")
    if reason == graphs.BARRIER:
        return (f"'{name}' is sync, so it waits for every async task still running when the crew reaches it "
                f"(the barrier), '{dep}' among them.")
    return "the crew's walk over tasks=[...] makes it wait."


def _why_not(real: _GraphView, dep: str, name: str) -> str:
    """Why the crew's task does not wait for one the plan says it waits for."""
    order = {task: i for i, (task, _is_async, _context) in enumerate(real.specs or [])}
    if dep not in order or name not in order:
        return "the crew has no such wait."
    if order[name] < order[dep]:
        return f"'{name}' comes before '{dep}' in tasks=[...], so it runs first."
    if all(is_async for _task, is_async, _context in (real.specs or [])[order[dep]:order[name] + 1]):
        return "both are async and start together, so neither waits for the other."
    return f"nothing makes it wait: its context=[...] does not list '{dep}'."


def _wrap_verdict(lines: list[str], width_inches: float) -> list[str]:
    """Lines that fit the figure's width at the verdict's font size (a follow-on line indented)."""
    chars = max(60, int(width_inches * 11.5))
    wrapped: list[str] = []
    for line in lines:
        wrapped.extend(textwrap.wrap(line, chars, subsequent_indent="   ") or [""])
    return wrapped


def _verdict_inches(lines: list[str]) -> float:
    return 0.3 + 0.19 * (len(lines) - 1)


def _side_by_side(first: tuple[float, float], second: tuple[float, float]) -> bool:
    return first[0] + second[0] <= 13  # wider than that, the labels get too small to read


def _panels_width(first: tuple[float, float], second: tuple[float, float]) -> float:
    return first[0] + second[0] if _side_by_side(first, second) else max(first[0], second[0])


def _two_panels(first: tuple[float, float], second: tuple[float, float], top: float) -> tuple[Figure, Any, Any]:
    """A figure with two axes, side by side or one above the other, and ``top`` inches for a title."""
    (w1, h1), (w2, h2) = first, second
    room = 0.2 + top + _LEGEND_INCHES
    if _side_by_side(first, second):
        figsize, grid = (w1 + w2, max(h1, h2) + room), dict(nrows=1, ncols=2, width_ratios=[w1, w2])
    else:
        figsize, grid = (max(w1, w2), h1 + h2 + room), dict(nrows=2, ncols=1, height_ratios=[h1, h2])
    if threading.current_thread() is threading.main_thread():
        import matplotlib.pyplot as plt  # see _new_axes

        fig, (left, right) = plt.subplots(figsize=figsize, **grid)
        plt.close(fig)
    else:
        fig = Figure(figsize=figsize)
        left, right = fig.subplots(**grid)
    return fig, left, right


def _compare_legend(diff: graphs.GraphDiff, mine: _GraphView, real: _GraphView) -> list[Any]:
    one_sided = (graphs.edges(mine.graph) ^ graphs.edges(real.graph)) - diff.missing - diff.extra
    handles = [Line2D([], [], color=MISSING, lw=2.2, label="crew waits, plan does not"),
               Line2D([], [], color=EXTRA, lw=2.2, label="plan waits, crew does not"),
               Line2D([], [], color=MUTED, lw=1.1,
                      label="in both (one through other tasks)" if one_sided else "in both")]
    if real.data is not None and graphs.edges(real.graph) - graphs.edges(real.data):
        handles.append(Line2D([], [], color=MUTED, lw=1.1, linestyle=WAIT_ONLY, label="crew waits, no output (barrier)"))
    if _data_only(real):
        handles.append(Line2D([], [], color=DATA_ONLY, lw=0.8, label="crew receives output only"))
    return handles


__all__ = ["compare_dags", "dag", "gantt"]
