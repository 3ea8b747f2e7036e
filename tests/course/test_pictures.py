"""course.graph and course.pictures: the graph rule, the Gantt timeline, the DAG drawings."""

from __future__ import annotations

import io
from datetime import datetime, timezone
from types import SimpleNamespace

import matplotlib
import numpy as np
import matplotlib.pyplot as plt
import pytest
from crewai import Agent, Crew, Process, Task
from matplotlib.colors import to_hex
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle
from matplotlib.path import Path as MplPath

import course
from course import graph as graphs
from course import pictures
from course.recording import RecordedRun, TaskRecord
from tests.helpers import ROOT

matplotlib.use("Agg")


def _agent(role: str) -> Agent:
    return Agent(role=role, goal=f"Do the {role.lower()} work", backstory=f"An experienced {role.lower()}.")


def _mixing_crew(report_async: bool = True) -> Crew:
    """The guide's four-phase "Mixing Approaches" flow, one agent per task (report_async=False: a learner's slip)."""
    r1, r2, analyst, writer, designer, editor = (
        _agent(r) for r in ("Researcher One", "Researcher Two", "Analyst", "Writer", "Designer", "Editor"))
    research_a = Task(description="Research A", expected_output="notes", agent=r1, async_execution=True)
    research_b = Task(description="Research B", expected_output="notes", agent=r2, async_execution=True)
    analysis = Task(description="Analyze all research", expected_output="analysis", agent=analyst,
                    context=[research_a, research_b])
    report = Task(description="Write report", expected_output="report", agent=writer, context=[analysis],
                  async_execution=report_async)
    slides = Task(description="Create presentation", expected_output="slides", agent=designer, context=[analysis],
                  async_execution=True)
    review = Task(description="Review all outputs", expected_output="review", agent=editor, context=[report, slides])
    return Crew(agents=[r1, r2, analyst, writer, designer, editor],
                tasks=[research_a, research_b, analysis, report, slides, review])


MIXING_DICT = {
    "Research A": [], "Research B": [],
    "Analyze all research": ["Research A", "Research B"],
    "Write report": ["Analyze all research"], "Create presentation": ["Analyze all research"],
    "Review all outputs": ["Write report", "Create presentation"],
}


def _run(build, latency: float = 0.0) -> RecordedRun:
    with course.routing.using(latency=latency):
        crew = build()
        with course.record() as rec:
            try:
                crew.kickoff()
            except Exception:
                pass  # failed runs are drawn too
        return rec.run


@pytest.fixture(scope="module")
def mixing_run() -> RecordedRun:
    # A small latency so that the async pairs really overlap on the timeline.
    return _run(_mixing_crew, latency=0.03)


@pytest.fixture(scope="module")
def hierarchical_run() -> RecordedRun:
    def build() -> Crew:
        manager = Agent(role="Project Manager", goal="Coordinate the team", backstory="A calm planner.",
                        allow_delegation=True)
        workers = [_agent("Research Specialist"), _agent("Content Writer")]
        tasks = [Task(description="Research the topic of machine learning in healthcare", expected_output="findings"),
                 Task(description="Write a report combining the research", expected_output="report")]
        return Crew(agents=workers, tasks=tasks, process=Process.hierarchical, manager_agent=manager)
    return _run(build)


@pytest.fixture(scope="module")
def failed_run() -> RecordedRun:
    def build() -> Crew:
        solo, writer = _agent("Solo Researcher"), _agent("Writer")
        first = Task(description="Research topic A", expected_output="o", agent=solo, async_execution=True)
        second = Task(description="Research topic B", expected_output="o", agent=solo, async_execution=True)
        join = Task(description="Combine", expected_output="o", agent=writer, context=[first, second])
        return Crew(agents=[solo, writer], tasks=[first, second, join])
    return _run(build, latency=0.02)


def _gid_patches(fig, prefix: str) -> dict[str, object]:
    found = {}
    for ax in fig.axes:
        for patch in ax.patches:
            gid = patch.get_gid() or ""
            if gid.startswith(prefix):
                found[gid[len(prefix):]] = patch
    return found


def _lane_names(ax) -> list[str]:
    return [t.get_text() for t in ax.get_yticklabels()]


# --- course.graph ----------------------------------------------------------------------

def test_crew_graph_follows_context_and_the_walk_rules(scripted_llm):
    a, b = _agent("Researcher"), _agent("Writer")
    t1 = Task(description="First", expected_output="o", agent=a)
    t2 = Task(description="Second", expected_output="o", agent=b, async_execution=True)
    t3 = Task(description="Third", expected_output="o", agent=a, async_execution=True)
    t4 = Task(description="Fourth", expected_output="o", agent=b)
    t5 = Task(description="Fifth", expected_output="o", agent=a, context=[t2])
    crew = Crew(agents=[a, b], tasks=[t1, t2, t3, t4, t5])
    assert graphs.crew_graph(crew) == {
        "First": [],
        "Second": ["First"],  # async without context: the last earlier sync task
        "Third": ["First"],
        "Fourth": ["Second", "Third"],  # sync: the barrier (and First through them)
        "Fifth": ["Fourth"],  # sync tasks run one at a time: its context does not let it start earlier
    }
    assert graphs.crew_receives(crew)["Fifth"] == ["Second"]  # context decides what it receives
    assert graphs.crew_receives(crew)["Fourth"] == ["First", "Second", "Third"]


def test_crew_graph_equals_the_recorded_dependencies(mixing_run):
    assert graphs.crew_graph(_mixing_crew()) == mixing_run.dependencies() == MIXING_DICT


def test_phases_are_longest_path_layers():
    assert graphs.phases(MIXING_DICT) == [["Research A", "Research B"], ["Analyze all research"],
                                          ["Write report", "Create presentation"], ["Review all outputs"]]
    # a name only mentioned as a dependency is a node too; a bare string is one dependency
    assert graphs.phases({"B": "A", "C": ["A", "B"]}) == [["A"], ["B"], ["C"]]


def test_phases_refuse_a_cycle_by_naming_it():
    with pytest.raises(ValueError, match="'A', which waits for 'B'"):
        graphs.phases({"A": ["B"], "B": ["A"]})


def test_critical_path_uses_durations_or_counts_tasks():
    durations = {"Research A": 1.0, "Research B": 3.0, "Analyze all research": 1.0, "Write report": 2.0,
                 "Create presentation": 0.5, "Review all outputs": 1.0}
    path, length = graphs.critical_path(MIXING_DICT, durations)
    assert path == ["Research B", "Analyze all research", "Write report", "Review all outputs"]
    assert length == pytest.approx(7.0)
    path, length = graphs.critical_path(MIXING_DICT)
    assert length == 4 and path[0] == "Research A"  # ties go to the task listed first


def test_run_critical_path_is_the_longest_measured_chain(mixing_run):
    path, length = mixing_run.critical_path()
    assert path[-1] == "Review all outputs" and path[1] == "Analyze all research" and len(path) == 4
    by_name = {t.name: t.duration for t in mixing_run.tasks}
    assert length == pytest.approx(sum(by_name[n] for n in path))
    assert length <= mixing_run.wall_time + 1e-6


def test_compare_matches_names_forgivingly_and_reports_edges():
    learner = {"research a": [], "RESEARCH  B": [], "Analyze all research": ["Research A"],
               "Write report": ["Analyze all research"], "Create presentation": ["Analyze all research"],
               "Review all outputs": ["Write report", "Create presentation", "Research A"]}
    diff, renamed = graphs.compare(learner, MIXING_DICT)
    assert "Research B" in renamed and not diff.unknown and not diff.absent
    assert diff.missing == {("Research B", "Analyze all research")}
    assert diff.extra == set()  # the review does wait for Research A (through the analysis): implied, not extra
    assert graphs.compare(MIXING_DICT, MIXING_DICT)[0].same
    chained = dict(MIXING_DICT, **{"Research B": ["Research A"]})
    assert graphs.compare(chained, MIXING_DICT)[0].extra == {("Research A", "Research B")}


def test_a_shared_name_does_not_make_a_task_wait_for_itself():
    graph = graphs.waits_for([("Research", False, []), ("Research", False, [])])
    assert graph == {"Research": []}


# --- gantt -----------------------------------------------------------------------------

def test_gantt_has_one_lane_per_worker_and_bars_at_the_recorded_times(mixing_run):
    fig = pictures.gantt(mixing_run)
    ax = fig.axes[0]
    workers = [t.worker for t in sorted(mixing_run.tasks, key=lambda t: t.index)]
    assert _lane_names(ax) == list(dict.fromkeys(workers))
    bars = _gid_patches(fig, "task:")
    assert set(bars) == {t.name for t in mixing_run.tasks}
    lanes = _lane_names(ax)
    for record in mixing_run.tasks:
        bar = bars[record.name]
        assert isinstance(bar, Rectangle)
        assert bar.get_x() == pytest.approx(record.start)
        assert bar.get_x() + bar.get_width() == pytest.approx(record.end)
        assert bar.get_y() + bar.get_height() / 2 == pytest.approx(lanes.index(record.worker))


def test_gantt_styles_async_bars_differently(mixing_run):
    bars = _gid_patches(pictures.gantt(mixing_run), "task:")
    styles = {t.async_execution: (bars[t.name].get_hatch(), to_hex(bars[t.name].get_facecolor()))
              for t in mixing_run.tasks}
    assert styles[True][0] and not styles[False][0]
    assert styles[True][1] != styles[False][1]


def test_gantt_shows_the_joins_and_what_each_join_waited_for(mixing_run):
    fig = pictures.gantt(mixing_run)
    ax = fig.axes[0]
    joins = {line.get_gid()[len("join:"):]: line.get_xdata()[0] for line in ax.lines
             if (line.get_gid() or "").startswith("join:")}
    by_name = {t.name: t for t in mixing_run.tasks}
    assert set(joins) == {"Analyze all research", "Review all outputs"}
    for name, x in joins.items():
        assert x == pytest.approx(by_name[name].start)
    connectors = set(_gid_patches(fig, "passes:"))
    assert {"Research A->Analyze all research", "Research B->Analyze all research",
            "Write report->Review all outputs", "Create presentation->Review all outputs"} <= connectors
    wall = [line for line in ax.lines if line.get_gid() == "wall-time"]
    assert wall and wall[0].get_xdata()[0] == pytest.approx(mixing_run.wall_time)
    assert f"wall time {mixing_run.wall_time:.2f} s" in " ".join(t.get_text() for t in ax.texts)


def test_gantt_gives_the_manager_a_lane_and_draws_each_delegation(hierarchical_run):
    assert hierarchical_run.delegations, "the scripted manager should have delegated"
    fig = pictures.gantt(hierarchical_run)
    lanes = _lane_names(fig.axes[0])
    assert lanes[0] == "Project Manager"
    assert set(lanes[1:]) == {d.coworker for d in hierarchical_run.delegations}
    held, done = _gid_patches(fig, "task:"), _gid_patches(fig, "delegation:")
    arrows = _gid_patches(fig, "delegate:")
    for record in hierarchical_run.tasks:
        assert held[record.name].get_x() == pytest.approx(record.start)
        assert held[record.name].get_y() + held[record.name].get_height() / 2 == pytest.approx(0)
        item = record.delegations[-1]
        bar = done[record.name]
        assert bar.get_x() == pytest.approx(item.start)
        assert bar.get_x() + bar.get_width() == pytest.approx(item.end)
        assert bar.get_y() + bar.get_height() / 2 == pytest.approx(lanes.index(item.coworker))
        assert isinstance(arrows[record.name], FancyArrowPatch)


def test_gantt_draws_a_failed_run_and_lists_what_did_not_run(failed_run):
    assert failed_run.error and "Executor is already running" in failed_run.error
    fig = pictures.gantt(failed_run)
    ax = fig.axes[0]
    bars = _gid_patches(fig, "task:")
    assert "Combine" not in bars
    assert "did not run: Combine" in ax.get_title(loc="left")
    # the two tasks of one agent overlap: stacked in one lane, not drawn over each other
    first, second = bars["Research topic A"], bars["Research topic B"]
    assert _lane_names(ax) == ["Solo Researcher"]
    assert first.get_y() != second.get_y()
    assert any(to_hex(b.get_edgecolor()) == pictures.FAILED for b in bars.values())


def test_gantt_survives_a_run_where_nothing_started():
    run = RecordedRun(process="sequential", llm_calls=[], delegations=[], wall_time=0.0,
                      started_at=datetime.now(timezone.utc), error="boom",
                      tasks=[TaskRecord(index=0, name="Only", description="Only", async_execution=True,
                                        agent=None, worker=None, start=None, end=None)])
    fig = pictures.gantt(run)
    assert "did not run: Only" in fig.axes[0].get_title(loc="left")


def test_gantt_on_a_given_axes_and_without_leaking_pyplot_figures(mixing_run, hierarchical_run):
    before = plt.get_fignums()
    pictures.gantt(mixing_run)
    pictures.dag(mixing_run)
    pictures.compare_dags(MIXING_DICT, mixing_run)
    assert plt.get_fignums() == before  # the cell shows the returned figure once, pyplot never again
    fig, ax = plt.subplots()
    try:
        assert pictures.gantt(hierarchical_run, ax=ax) is fig
        assert _gid_patches(fig, "task:")
    finally:
        plt.close(fig)


def test_pictures_save_as_png(mixing_run, tmp_path):
    for name, fig in (("gantt", pictures.gantt(mixing_run)), ("dag", pictures.dag(mixing_run))):
        path = tmp_path / f"{name}.png"
        fig.savefig(path)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- dag -------------------------------------------------------------------------------

def _edges(fig, axis: int = 0) -> set[str]:
    return {p.get_gid()[len("edge:"):] for p in fig.axes[axis].patches if (p.get_gid() or "").startswith("edge:")}


def test_dag_of_a_crew_a_dict_and_a_run_have_the_same_edges(scripted_llm, mixing_run):
    wanted = {f"{d}->{n}" for n, deps in MIXING_DICT.items() for d in deps}
    assert _edges(pictures.dag(_mixing_crew())) == _edges(pictures.dag(MIXING_DICT)) == wanted
    assert _edges(pictures.dag(mixing_run)) == wanted


def test_dag_lays_out_phases_left_to_right_and_marks_async_tasks(scripted_llm):
    fig = pictures.dag(_mixing_crew())
    nodes = {p.get_gid()[len("node:"):]: p for p in fig.axes[0].patches if (p.get_gid() or "").startswith("node:")}
    assert all(isinstance(p, FancyBboxPatch) for p in nodes.values())
    columns = [sorted({round(nodes[n].get_x(), 6) for n in layer}) for layer in graphs.phases(MIXING_DICT)]
    assert all(len(c) == 1 for c in columns) and [c[0] for c in columns] == sorted(c[0] for c in columns)
    assert nodes["Research A"].get_hatch() and not nodes["Analyze all research"].get_hatch()
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    # Said plainly (issue 23, learner 5: "critical path (most tasks, 4 tie)" was cryptic): 2 x 2 chains of 4 tasks.
    assert "critical path: the chain of waits with the most tasks (one of 4 as long)" in legend


def test_dag_highlights_the_measured_critical_path(mixing_run):
    path, _length = mixing_run.critical_path()
    fig = pictures.dag(mixing_run)
    thick = {p.get_gid()[len("edge:"):] for p in fig.axes[0].patches
             if (p.get_gid() or "").startswith("edge:") and to_hex(p.get_edgecolor()) == pictures.CRITICAL}
    assert thick == {f"{a}->{b}" for a, b in zip(path, path[1:])}
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any(label.startswith("critical path: the chain of waits that took longest") for label in legend)
    plain = pictures.dag(mixing_run, highlight_critical=False)
    assert not any(to_hex(p.get_edgecolor()) == pictures.CRITICAL for p in plain.axes[0].patches)


def test_dag_draws_a_cycle_instead_of_crashing():
    fig = pictures.dag({"A": ["B"], "B": ["A"], "C": []})
    assert "circle" in fig.axes[0].get_title(loc="left").lower()
    with pytest.raises(TypeError, match="RecordedRun, a Crew, or a dict"):
        pictures.dag(42)


def test_compare_dags_marks_a_missing_edge_red_and_an_extra_one_orange(scripted_llm):
    learner = dict(MIXING_DICT)
    learner["Analyze all research"] = ["Research A"]  # forgot Research B
    learner["Create presentation"] = ["Analyze all research", "Write report"]  # invented an edge
    learner["Review all outputs"] = ["Write report", "Create presentation", "Research B"]  # the crew too, through others
    fig = pictures.compare_dags(learner, _mixing_crew())
    diff = fig.graph_diff
    assert diff.missing == {("Research B", "Analyze all research")}
    assert diff.extra == {("Write report", "Create presentation")}
    mine = {p.get_gid(): to_hex(p.get_edgecolor()) for p in fig.axes[0].patches if p.get_gid()}
    assert mine["ghost:Research B->Analyze all research"] == pictures.MISSING
    assert mine["edge:Write report->Create presentation"] == pictures.EXTRA
    assert mine["edge:Research B->Review all outputs"] == pictures.MUTED
    real = {p.get_gid(): to_hex(p.get_edgecolor()) for p in fig.axes[1].patches if p.get_gid()}
    assert real["edge:Research B->Analyze all research"] == pictures.MISSING
    assert real["ghost:Write report->Create presentation"] == pictures.EXTRA
    header = " ".join(fig._suptitle.get_text().split())
    assert header.startswith("Your crew does not wait as your plan says")
    assert ("In your crew 'Analyze all research' waits for 'Research B', which your plan does not have (red): "
            "its context=[...] lists 'Research B'.") in header
    assert ("Your plan has 'Create presentation' wait for 'Write report'; your crew does not (orange): both are "
            "async and start together") in header


def test_compare_dags_speaks_from_the_crews_side_and_names_the_cause(scripted_llm):
    """A learner's right plan, and a crew whose report task is not async (issue 23, learner 2).

    The one difference is the crew's: the presentation waits for the report. The planned waits that
    the crew's context still lists (analysis -> presentation, report -> review) are no difference."""
    fig = pictures.compare_dags(MIXING_DICT, _mixing_crew(report_async=False))
    diff = fig.graph_diff
    assert diff.missing == {("Write report", "Create presentation")} and diff.extra == set()
    header = " ".join(fig._suptitle.get_text().split())
    assert "'Create presentation' waits for 'Write report', which your plan does not have (red)" in header
    assert "'Write report' is not async, and a task waits for the sync task before it" in header
    assert "make 'Write report' async too (async_execution=True)" in header
    assert "orange" not in header and "extra" not in header
    colours = [{p.get_gid(): to_hex(p.get_edgecolor()) for p in ax.patches if p.get_gid()} for ax in fig.axes]
    for gid in ("edge:Analyze all research->Create presentation", "edge:Write report->Review all outputs"):
        assert colours[0][gid] == pictures.MUTED  # in the plan: grey, the crew waits too
    for gid in ("Analyze all research->Create presentation", "Write report->Review all outputs"):
        assert colours[1]["data:" + gid] == pictures.DATA_ONLY  # in the crew: its context, thin
        assert "ghost:" + gid not in colours[1]
    assert colours[1]["wait:Write report->Create presentation"] == pictures.MISSING
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert {"crew waits, plan does not", "in both (one through other tasks)", "crew receives output only"} <= set(legend)
    assert fig.text_alternative.startswith("Your crew does not wait as your plan says:\n• In your crew")


def test_compare_dags_says_so_when_the_learner_is_right(mixing_run):
    fig = pictures.compare_dags({k.lower(): [d.lower() for d in v] for k, v in MIXING_DICT.items()}, mixing_run)
    assert fig.graph_diff.same
    assert "matches" in fig._suptitle.get_text()
    legend_labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "crew waits, plan does not" in legend_labels


def test_dag_draws_a_wait_without_output_dotted_and_says_so_in_words(scripted_llm):
    from course.examples import mixed_phases_crew

    fig = pictures.dag(mixed_phases_crew(review_context="presentation"))
    assert set(_gid_patches(fig, "wait:")) == {"report->review"}
    assert {"presentation->review", "analysis->report"} <= set(_gid_patches(fig, "edge:"))
    assert "review (sync) waits for presentation, report; receives presentation" in fig.text_alternative
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "waits, no output (barrier)" in legend


def test_new_pictures_say_in_words_what_they_draw_and_are_kept_as_artifacts(scripted_llm, record_crew):
    """The barrier pictures, saved for a person to look at (test-artifacts/pictures/), each with its words."""
    from pathlib import Path

    from course.examples import mixed_phases_crew

    folder = ROOT / "test-artifacts" / "pictures"
    folder.mkdir(parents=True, exist_ok=True)
    run = record_crew(mixed_phases_crew(review_context="presentation"))
    plan = {"r1": [], "r2": [], "an": ["r1", "r2"], "o1": ["an"], "o2": ["an"], "qa": ["o1", "o2"]}
    figures = {"barrier-dag": pictures.dag(run), "barrier-gantt": pictures.gantt(run),
               "plan-vs-crew": pictures.compare_dags(plan, mixed_phases_crew(review_context="presentation"))}
    for name, figure in figures.items():
        figure.savefig(folder / f"{name}.png", dpi=80)
        assert (folder / f"{name}.png").stat().st_size > 5000
    assert "review" in figures["barrier-gantt"].text_alternative
    assert "receives presentation" in figures["barrier-dag"].text_alternative
    assert figures["plan-vs-crew"].text_alternative.startswith("Your plan matches your crew")


# --- where the DAG's arrows end --------------------------------------------------------

def _outline(box) -> np.ndarray:
    """A node box's border in display units, densely sampled (rounded corners included)."""
    path = box.get_transform().transform_path(box.get_path())
    return np.concatenate([segment(np.linspace(0, 1, 400)) for segment, _code in path.iter_bezier()])


def _gap(point, box) -> float:
    """How far a display point is from the box's border: positive outside, negative inside."""
    distance = float(np.min(np.hypot(*(_outline(box) - point).T)))
    return -distance if box.get_path().contains_point(point, transform=box.get_transform()) else distance


def _draw(fig) -> None:
    """Draw the figure as a PNG is drawn (arrows take the pixels per point from the renderer then)."""
    fig.savefig(io.BytesIO(), format="png")


def _drawn_ends(arrow) -> tuple[np.ndarray, np.ndarray]:
    """Where an arrow as drawn starts, and the tip of its head, in display units."""
    path = arrow.get_path()
    drawn = path.vertices if path.codes is None else path.vertices[path.codes != MplPath.CLOSEPOLY]
    vertices = arrow.get_transform().transform(drawn)
    start = vertices[0]
    return start, vertices[np.argmax(np.hypot(*(vertices - start).T))]


def test_dag_arrows_start_and_end_on_the_borders_of_their_boxes():
    """A straight and a bent arrow: each leaves its source box at the border and ends at the target's
    border, outside the box by half the box's line width (Patch.contains' margin) plus the 2-point gap
    arrows keep, no more; the drawn arrow starts there and its head's point is at the end (pulled
    back by its own stroke). An arrow from centre to centre, or cut at the wrong box, is far off."""
    fig = pictures.dag({"a": [], "b": ["a"], "c": ["a", "b"]})
    _draw(fig)
    ax = fig.axes[0]
    nodes, arrows = _gid_patches(fig, "node:"), _gid_patches(fig, "edge:")
    assert arrows["a->b"].get_connectionstyle().rad == 0
    assert arrows["a->c"].get_connectionstyle().rad != 0  # bent over b
    points = fig.dpi / 72  # display units per point

    def centre(box) -> np.ndarray:
        return ax.transData.transform((box.get_x() + box.get_width() / 2, box.get_y() + box.get_height() / 2))

    for edge in ("a->b", "a->c"):
        arrow = arrows[edge]
        source, target = (nodes[name] for name in edge.split("->"))
        # the arrow's line, before its head is put on: the connection from centre to centre, cut
        line = arrow.get_connectionstyle()(centre(source), centre(target), patchA=arrow.patchA, patchB=arrow.patchB,
                                           shrinkA=arrow.shrinkA * points, shrinkB=arrow.shrinkB * points)
        assert arrow.patchA is source and arrow.patchB is target
        for point, box in ((line.vertices[0], source), (line.vertices[-1], target)):
            margin = box.get_linewidth() / 2
            gap = _gap(point, box)
            assert margin - 0.2 <= gap <= margin + 2 * points + 0.2, (edge, box.get_gid(), gap)
        start, tip = _drawn_ends(arrow)
        assert np.hypot(*(start - line.vertices[0])) < 0.1, edge
        assert np.hypot(*(tip - line.vertices[-1])) < 1.5 * arrow.get_linewidth() * points, edge


def test_dag_arrows_are_drawn_where_matplotlibs_own_box_clipping_draws_them(scripted_llm):
    """The arrows are cut at the boxes by arithmetic (issue 14: arc3's bisection with Patch.contains was
    half a DAG's PNG time); every arrow, straight or bent, dashed or not, must still be drawn where arc3
    with patchA/patchB draws it, also in compare_dags' panels, whose axes are not scaled alike both ways."""
    learner = dict(MIXING_DICT, **{"Research B": ["Research A"], "Analyze all research": ["Research A"],
                                   "Review all outputs": ["Write report", "Create presentation", "Research B"]})
    fig = pictures.compare_dags(learner, _mixing_crew(report_async=False))  # the crew's context arcs bend
    _draw(fig)
    scales = [ax.get_window_extent().height / abs(np.diff(ax.get_ylim())[0])
              / (ax.get_window_extent().width / abs(np.diff(ax.get_xlim())[0])) for ax in fig.axes]
    assert any(abs(scale - 1) > 0.03 for scale in scales)  # the case a path fixed in data units gets wrong
    bent = 0
    for ax in fig.axes:
        for arrow in [p for p in ax.patches if isinstance(p, FancyArrowPatch)]:
            drawn = arrow.get_path().vertices
            rad = arrow.get_connectionstyle().rad
            bent += rad != 0
            arrow.set_connectionstyle(f"arc3,rad={rad}")  # matplotlib's own cut, with the same patchA/patchB
            reference = arrow.get_path().vertices
            assert drawn.shape == reference.shape, arrow.get_gid()
            error = np.abs(ax.transData.transform(drawn) - ax.transData.transform(reference)).max()
            assert error < 0.2, (arrow.get_gid(), error)  # display pixels
    assert bent >= 2


def test_a_point_is_in_a_node_box_exactly_where_matplotlib_says_so():
    """The cut's inside test against Patch.contains, all around a rounded box (corners included, where
    a plain rectangle is up to 4 px off), on axes scaled unlike both ways: they may differ only on the
    border itself."""
    fig = plt.figure(figsize=(4, 5))
    try:
        ax = fig.add_axes((0, 0, 1, 1), xlim=(-2, 2), ylim=(-2, 2))
        box = FancyBboxPatch((-1, -0.4), 2, 0.8, boxstyle=f"round,pad=0,rounding_size={pictures._ROUNDING}",
                             linewidth=2.6, edgecolor="black")
        ax.add_patch(box)
        _draw(fig)
        inside = pictures._inside_box(box)
        grid = np.stack(np.meshgrid(np.linspace(-1.15, 1.15, 161), np.linspace(-0.55, 0.55, 161)), -1).reshape(-1, 2)
        points = ax.transData.transform(grid)
        outline = _outline(box)
        for point in points:
            theirs = box.contains(SimpleNamespace(x=point[0], y=point[1]))[0]
            if inside(point) != theirs:
                on_border = abs(np.min(np.hypot(*(outline - point).T)) - box.get_linewidth() / 2)
                assert on_border < 0.3, (point, theirs)
    finally:
        plt.close(fig)


def _overlapping_texts(fig) -> list[tuple[str, str]]:
    renderer = pictures._renderer(fig)
    texts = [t for t in fig.axes[0].texts if t.get_visible() and t.get_text().strip()]
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
    return [(a, b) for i, (a, box_a) in enumerate(boxes) for b, box_b in boxes[i + 1:] if box_a.overlaps(box_b)]


@pytest.mark.parametrize("shape", ["barrier", "async", "hierarchical"])
def test_gantt_notes_and_names_never_cover_each_other(scripted_llm, record_crew, shape):
    """A join close to the end of the run once printed 'join' across 'wall time'; names beside bars sit on white."""
    from pathlib import Path

    from course import examples

    build = {"barrier": lambda: examples.mixed_phases_crew(review_context="presentation"),
             "async": examples.async_crew, "hierarchical": lambda: examples.hierarchical_crew("agent")}[shape]
    fig = pictures.gantt(record_crew(build()))
    fig.savefig(ROOT / "test-artifacts" / "pictures" / f"{shape}-gantt.png", dpi=80)
    assert _overlapping_texts(fig) == []
    notes = [t for t in fig.axes[0].texts if str(t.get_gid()).startswith("join-label:")]
    assert all(t.get_visible() for t in notes)  # a crowded note moves up a row, it is not dropped
    beside = [t for t in fig.axes[0].texts if t.get_text().startswith(" ") and t.get_ha() == "left"
              and t.get_gid() is None]
    assert all(t.get_bbox_patch() is not None for t in beside), [t.get_text() for t in beside]
