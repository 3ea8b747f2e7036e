"""Learners' answers that differ from the reference solution: correct ones, and typical wrong ones.

``ALTERNATIVE[notebook][cell id]`` is a correct answer written another way
(other roles and wording, ``manager_llm`` instead of ``manager_agent``,
another valid order, DAG keys that differ from the task names). ``WRONG``
holds the classic mistakes, with the points each should still earn in
``WRONG_SCORES``. Tests paste them into answer cells of the release notebooks.
"""

from __future__ import annotations


import nbformat

from autograder.paths import ROOT
from autograder.release.markers import without_solution_marks



def worked(name: str, replacements: dict[str, str]) -> nbformat.NotebookNode:
    """The release notebook ``name`` with every answer cell worked: the given replacements, else the reference."""
    notebook = nbformat.read(str(ROOT / "release" / "crew_processes" / f"{name}.ipynb"), as_version=4)
    source = {c.id: c for c in nbformat.read(str(ROOT / "source" / "crew_processes" / f"{name}.ipynb"),
                                             as_version=4).cells}
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = (replacements[cell.id].strip("\n") if cell.id in replacements
                           else without_solution_marks(source[cell.id].source, end_with_newline=True))
    return notebook

ALTERNATIVE = {
    "01_sequential.ipynb": {
        "seq_build": '''
def build_crew():
    investigator = Agent(role="Investigator", goal="Dig up solid facts", backstory="Twenty years of fieldwork")
    author = Agent(role="Author", goal="Tell a story people finish", backstory="Writes long reads")
    proofreader = Agent(role="Proofreader", goal="Leave no typo behind", backstory="Red pen, always")
    gather = Task(name="gather", description="Investigate how cities adopt electric buses",
                  expected_output="A bullet list of facts", agent=investigator)
    draft = Task(name="draft", description="Draft a feature story from the facts",
                 expected_output="A 600-word story", agent=author, context=[gather])
    polish = Task(name="polish", description="Proofread and tighten the story",
                  expected_output="The final story", agent=proofreader, context=[gather, draft])
    tasks = [gather, draft, polish]
    return Crew(tasks=tasks, agents=[investigator, author, proofreader], process="sequential")
''',
        "seq_orders": '''
orders = []
while len(orders) < 3:
    await build_crew().akickoff()
    orders += [course.last_run().order()]
''',
    },
    "02_hierarchical.ipynb": {
        "hier_build": '''
def build_crew():
    finder = Agent(role="Fact Finder", goal="Find what is known", backstory="Library regular")
    copywriter = Agent(role="Copywriter", goal="Write punchy copy", backstory="Agency veteran")
    proofreader = Agent(role="Proofreader", goal="Proofread everything", backstory="Eagle-eyed")
    return Crew(
        agents=[finder, copywriter, proofreader],
        tasks=[Task(description="Investigate quantum computing startups", expected_output="Findings"),
               Task(description="Draft a blog post from the findings", expected_output="A blog post"),
               Task(description="Proofread the blog post", expected_output="A clean blog post")],
        process=Process.hierarchical,
        manager_llm="gpt-4o",
    )
''',
        "hier_answers": '''
order_decided_by = "The task list"
workers_decided_by = "manager"
calls = {name: len(r.llm_calls) for name, r in [("seq", seq_run), ("hier", hier_run)]}
extra_calls = calls["hier"] - calls["seq"]
''',
    },
    "03_async.ipynb": {
        "async_build": '''
def build_crew(parallel=True):
    scouts = {subject: Agent(role=f"{subject} scout", goal=f"Find news about {subject}", backstory="Reads everything")
              for subject in ("Rust", "Go", "Zig")}
    notes = {subject: Task(description=f"Find what changed in {subject} this year", expected_output="Five notes",
                           agent=scout, async_execution=parallel) for subject, scout in scouts.items()}
    editor = Agent(role="Newsletter Editor", goal="Merge notes into a newsletter", backstory="Ships every Friday")
    merge = Task(description="Merge the notes into one newsletter", expected_output="A newsletter",
                 agent=editor, context=[notes["Zig"], notes["Rust"], notes["Go"]], async_execution=False)
    return Crew(agents=list(scouts.values()) + [editor], tasks=list(notes.values()) + [merge])
''',
        "async_timing": '''
async def timed(parallel):
    began = time.perf_counter()
    await build_crew(parallel).kickoff_async()
    return time.perf_counter() - began

sequential_seconds = await timed(False)
parallel_seconds = await timed(True)
''',
    },
    "04_mixed_phases.ipynb": {
        "mixed_dag": '''
dag = dict(R1=[], R2=[], AN=["R1", "R2"], OUT1=["AN"], OUT2=["AN"], QA=["OUT1", "OUT2", "AN"])
''',
        "mixed_build": '''
def build_crew():
    people = {name: Agent(role=name, goal=f"Do the {name.lower()} part well", backstory="Team member")
              for name in ("Survey Researcher", "Patent Researcher", "Strategist", "Memo Writer", "Slide Designer",
                           "Reviewer")}
    survey = Task(description="Research customer surveys", expected_output="Survey notes",
                  agent=people["Survey Researcher"], async_execution=True)
    patents = Task(description="Research competitor patents", expected_output="Patent notes",
                   agent=people["Patent Researcher"], async_execution=True)
    strategy = Task(description="Analyze surveys and patents together", expected_output="Strategy",
                    agent=people["Strategist"], context=[patents, survey])
    slides = Task(description="Design a slide deck", expected_output="Slides", agent=people["Slide Designer"],
                  context=[strategy], async_execution=True)
    memo = Task(description="Write a one-page memo", expected_output="Memo", agent=people["Memo Writer"],
                context=[strategy], async_execution=True)
    review = Task(description="Review the memo and the deck", expected_output="Verdict", agent=people["Reviewer"],
                  context=[memo, slides])
    return Crew(agents=list(people.values()), tasks=[patents, survey, strategy, slides, memo, review],
                process=Process.sequential)
''',
    },
}

WRONG = {
    # No context: the run still "works" (CrewAI passes every earlier output), but the chain is not written down.
    "01_sequential.ipynb": {
        "seq_build": '''
def build_crew():
    researcher = Agent(role="Researcher", goal="Find facts", backstory="Careful")
    writer = Agent(role="Writer", goal="Write", backstory="Clear")
    editor = Agent(role="Editor", goal="Edit", backstory="Strict")
    return Crew(agents=[researcher, writer, editor], process=Process.sequential, tasks=[
        Task(description="Research AI trends", expected_output="Notes", agent=researcher),
        Task(description="Write an article", expected_output="Draft", agent=writer),
        Task(description="Edit the article", expected_output="Article", agent=editor)])
''',
    },
    # Async tasks under the hierarchical process: the manager cannot delegate two at once.
    "02_hierarchical.ipynb": {
        "hier_build": '''
def build_crew():
    researcher = Agent(role="Research Specialist", goal="Research", backstory="b")
    writer = Agent(role="Content Writer", goal="Write", backstory="b")
    editor = Agent(role="Editor", goal="Edit", backstory="b")
    manager = Agent(role="Project Manager", goal="Coordinate", backstory="b", allow_delegation=True)
    return Crew(agents=[researcher, writer, editor], process=Process.hierarchical, manager_agent=manager, tasks=[
        Task(description="Research AI trends", expected_output="Notes", async_execution=True),
        Task(description="Write an article", expected_output="Draft", async_execution=True),
        Task(description="Edit the article", expected_output="Article")])
''',
    },
    # The guide's own mistake: one researcher for all three async tasks.
    "03_async.ipynb": {
        "async_build": '''
def build_crew(parallel=True):
    researcher = Agent(role="Researcher", goal="Research", backstory="b")
    writer = Agent(role="Writer", goal="Combine", backstory="b")
    research = [Task(description=f"Research topic {x}", expected_output="Notes", agent=researcher,
                     async_execution=parallel) for x in "ABC"]
    synthesis = Task(description="Combine all research", expected_output="Report", agent=writer, context=research)
    return Crew(agents=[researcher, writer], tasks=[*research, synthesis])
''',
    },
    # A missing join: the final review lists the report only (it still waits for both: the barrier).
    "04_mixed_phases.ipynb": {
        "mixed_build": '''
def build_crew():
    a, b, c, d, e, f = (Agent(role=r, goal="g", backstory="b") for r in
                        ("Researcher A", "Researcher B", "Analyst", "Writer", "Designer", "Editor"))
    ra = Task(name="research market", description="Research A", expected_output="n", agent=a, async_execution=True)
    rb = Task(name="research technology", description="Research B", expected_output="n", agent=b,
              async_execution=True)
    an = Task(name="analysis", description="Analyze", expected_output="n", agent=c, context=[ra, rb])
    rep = Task(name="report", description="Write report", expected_output="n", agent=d, context=[an],
               async_execution=True)
    pres = Task(name="presentation", description="Create presentation", expected_output="n", agent=e, context=[an],
                async_execution=True)
    rev = Task(name="final review", description="Review", expected_output="n", agent=f, context=[rep])
    return Crew(agents=[a, b, c, d, e, f], tasks=[ra, rb, an, rep, pres, rev])
''',
    },
}

# A second typical mistake for exercise 3: the synthesis forgets one research task (a missing join).
MISSING_JOIN_03 = '''
def build_crew(parallel=True):
    researchers = [Agent(role=f"Researcher {x}", goal="Research", backstory="b") for x in "ABC"]
    writer = Agent(role="Writer", goal="Combine", backstory="b")
    research = [Task(description=f"Research topic {x}", expected_output="Notes", agent=r, async_execution=parallel)
                for x, r in zip("ABC", researchers)]
    synthesis = Task(description="Combine all research", expected_output="Report", agent=writer,
                     context=research[:2])
    return Crew(agents=[*researchers, writer], tasks=[*research, synthesis])
'''

# Points per graded cell for each wrong answer (the others in the notebook are worked correctly).
WRONG_SCORES = {
    "01_sequential.ipynb": {"test_seq_crew": 1, "test_seq_order": 2, "test_seq_context": 0,
                            "test_seq_determinism": 1},
    "02_hierarchical.ipynb": {"test_hier_setup": 0, "test_hier_delegation": 0, "test_hier_order": 0,
                              "test_hier_answers": 0},
    "03_async.ipynb": {"test_async_shape": 1, "test_async_agents": 0, "test_async_overlap": 0, "test_async_join": 0,
                       "test_async_timing": 0},
    "04_mixed_phases.ipynb": {"test_mixed_dag": 2, "test_mixed_matches": 2, "test_mixed_parallel": 2,
                              "test_mixed_joins": 0},
}

FULL_SCORES = {
    "01_sequential.ipynb": 6, "02_hierarchical.ipynb": 6, "03_async.ipynb": 8, "04_mixed_phases.ipynb": 8,
}


# Rubric cases of issue 20, each one idea wrong (or one honest variant), graded as they are and
# with the kernel's checks disarmed (tests/helpers/disarmed.py): the grader's evidence alone must agree.
# name -> (notebook, {answer cell: source}, the notebook's total)
RUBRIC = {
    "no_context": ("01_sequential", WRONG["01_sequential.ipynb"], 4),
    "orders_from_two_runs": ("01_sequential", {"seq_orders": '''
orders = []
for attempt in range(2):
    await build_crew().kickoff_async()
    orders.append(course.last_run().order())
'''}, 5),
    # Issue 23 learner 1: runs of earlier cells do not fill `orders`, and one crew run thrice is not three.
    "orders_copied_after_earlier_runs": ("01_sequential", {
        "seq_build": ALTERNATIVE["01_sequential.ipynb"]["seq_build"] + '''
for attempt in range(2):
    await build_crew().kickoff_async()
''', "seq_orders": '''
await build_crew().kickoff_async()
orders = [course.last_run().order()] * 3
'''}, 5),
    "orders_from_one_crew_run_thrice": ("01_sequential", {"seq_orders": '''
crew = build_crew()
orders = []
for attempt in range(3):
    await crew.kickoff_async()
    orders.append(course.last_run().order())
'''}, 5),
    "agent_on_every_task": ("02_hierarchical", {"hier_build": '''
def build_crew():
    researcher = Agent(role="Research Specialist", goal="Gather information", backstory="Checks sources")
    writer = Agent(role="Content Writer", goal="Write articles", backstory="A technical writer")
    editor = Agent(role="Editor", goal="Polish articles", backstory="Strict")
    manager = Agent(role="Project Manager", goal="Coordinate", backstory="Delegates", allow_delegation=True)
    return Crew(agents=[researcher, writer, editor], process=Process.hierarchical, manager_agent=manager, tasks=[
        Task(description="Research AI trends in healthcare", expected_output="Notes", agent=researcher),
        Task(description="Write an article based on the research", expected_output="Draft", agent=writer),
        Task(description="Edit and polish the article", expected_output="Article", agent=editor)])
'''}, 4),
    "synthesis_without_context": ("03_async", {"async_build": '''
def build_crew(parallel=True):
    researchers = [Agent(role=f"Researcher {x}", goal="Research", backstory="b") for x in "ABC"]
    writer = Agent(role="Writer", goal="Combine", backstory="b")
    research = [Task(description=f"Research topic {x}", expected_output="Notes", agent=r, async_execution=parallel)
                for x, r in zip("ABC", researchers)]
    synthesis = Task(description="Combine all research", expected_output="Report", agent=writer)
    return Crew(agents=[*researchers, writer], tasks=[*research, synthesis])
'''}, 6),
    "no_async": ("03_async", {"async_build": '''
def build_crew(parallel=True):
    researchers = [Agent(role=f"Researcher {x}", goal="Research", backstory="b") for x in "ABC"]
    writer = Agent(role="Writer", goal="Combine", backstory="b")
    research = [Task(description=f"Research topic {x}", expected_output="Notes", agent=r) for x, r in
                zip("ABC", researchers)]
    synthesis = Task(description="Combine all research", expected_output="Report", agent=writer, context=research)
    return Crew(agents=[*researchers, writer], tasks=[*research, synthesis])
'''}, 3),
    # The guide's own wording: one "Researcher" role, but one agent per async task, as taught.
    "same_role_agents": ("03_async", {"async_build": '''
def build_crew(parallel=True):
    researchers = [Agent(role="Researcher", goal="Research", backstory="b") for _ in range(3)]
    writer = Agent(role="Writer", goal="Combine", backstory="b")
    research = [Task(description=f"Research topic {x}", expected_output="Notes", agent=r, async_execution=parallel)
                for x, r in zip("ABC", researchers)]
    synthesis = Task(description="Combine all research", expected_output="Report", agent=writer, context=research)
    return Crew(agents=[*researchers, writer], tasks=[*research, synthesis])
'''}, 8),
    "reversed_dag": ("04_mixed_phases", {"mixed_dag": '''
dag = {
    "research market": ["analysis"],
    "research technology": ["analysis"],
    "analysis": ["report", "presentation"],
    "report": ["final review"],
    "presentation": ["final review"],
    "final review": [],
}
'''}, 6),
}
