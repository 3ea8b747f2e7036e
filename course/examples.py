"""Ready-made crews in the shape of the syllabus examples.

They are built fresh on every call (CrewAI tasks keep their outputs), with
agents that have no ``llm=``: after ``import course`` they use the shared
scripted model, exactly as a learner's guide-style code does.
"""

from __future__ import annotations

from crewai import Agent, Crew, Process, Task

from course.scripted_llm import ScriptedLLM


# Every example agent says where it comes from. A crew of the kit's is a demonstration, never
# a learner's answer: the grader recognizes these agents in the prompts the model receives.
TEAM = " on the course's example team"


def _agent(role: str, goal: str, backstory: str, **extra) -> Agent:
    return Agent(role=role, goal=goal, backstory=backstory + TEAM, **extra)


def sequential_crew(topic: str = "AI trends", verbose: bool = False) -> Crew:
    """Research -> write -> edit, each task reading the previous one through ``context``."""
    researcher = _agent("Researcher", "Find accurate information", "A careful researcher")
    writer = _agent("Writer", "Create engaging content", "A professional writer")
    editor = _agent("Editor", "Polish content", "A meticulous editor")
    research = Task(name="research", description=f"Research {topic}", expected_output="Research notes",
                    agent=researcher)
    write = Task(name="write", description="Write an article based on the research",
                 expected_output="Draft article", agent=writer, context=[research])
    edit = Task(name="edit", description="Edit and polish the article", expected_output="Final article",
                agent=editor, context=[write])
    return Crew(agents=[researcher, writer, editor], tasks=[research, write, edit],
                process=Process.sequential, verbose=verbose)


def hierarchical_crew(manager: str = "agent", verbose: bool = False) -> Crew:
    """Three tasks without ``agent=``: a manager decides who does each.

    manager: "agent" (a manager_agent), "llm" (manager_llm=<the scripted model>)
    or "string" (manager_llm="gpt-4o", which the course routes to the scripted model).
    """
    from course.routing import default_llm

    workers = [
        _agent("Research Specialist", "Gather comprehensive information", "Finds and checks sources"),
        _agent("Data Analyst", "Analyze data and find insights", "Interprets complex data"),
        _agent("Content Writer", "Create clear, engaging content", "An experienced technical writer"),
    ]
    tasks = [
        Task(name="research", description="Research machine learning in healthcare",
             expected_output="Research findings"),
        Task(name="analysis", description="Analyze the research and identify key trends",
             expected_output="Analysis with insights"),
        Task(name="report", description="Write a report combining the research and the analysis",
             expected_output="Final report"),
    ]
    settings: dict = {}
    if manager == "agent":
        settings["manager_agent"] = _agent(
            "Project Manager", "Coordinate the team to deliver excellent results",
            "Decides which team member handles each part of the project", allow_delegation=True)
    elif manager == "llm":
        settings["manager_llm"] = default_llm()
    elif manager == "string":
        settings["manager_llm"] = "gpt-4o"
    else:
        raise ValueError(f"manager must be 'agent', 'llm' or 'string', not {manager!r}")
    return Crew(agents=workers, tasks=tasks, process=Process.hierarchical, verbose=verbose, **settings)


def async_crew(parallel: bool = True, topics: tuple[str, ...] = ("solar power", "wind power", "batteries")) -> Crew:
    """Independent research tasks (one agent each) joined by a synthesis task.

    parallel=False builds the same four tasks without ``async_execution``, the
    baseline for the timing checkpoint.
    """
    researchers = [_agent(f"Researcher {i + 1}", f"Find accurate information on {t}", "A focused researcher")
                   for i, t in enumerate(topics)]
    writer = _agent("Writer", "Combine research into clear reports", "A synthesis specialist")
    research = [Task(name=f"research {t}", description=f"Research {t}", expected_output=f"Notes on {t}",
                     agent=a, async_execution=parallel) for t, a in zip(topics, researchers)]
    synthesis = Task(name="synthesis", description="Combine all research into one report",
                     expected_output="Combined report", agent=writer, context=research)
    return Crew(agents=[*researchers, writer], tasks=[*research, synthesis], process=Process.sequential)


def mixed_phases_crew(review_context: str = "both", report_latency: float | None = None) -> Crew:
    """Parallel research -> analysis -> parallel outputs -> final review.

    ``review_context="presentation"`` gives the review only the presentation in its
    context, and ``report_latency`` puts the report's writer on a slower model of its
    own: together they show the barrier (the review still waits for the report).
    """
    r1 = _agent("Researcher A", "Research markets", "Market researcher")
    r2 = _agent("Researcher B", "Research technology", "Technology researcher")
    analyst = _agent("Analyst", "Analyze research", "Data analyst")
    writer = _agent("Writer", "Write reports", "Report writer",
                    **({"llm": ScriptedLLM(latency=report_latency)} if report_latency is not None else {}))
    designer = _agent("Designer", "Design presentations", "Presentation designer")
    editor = _agent("Editor", "Review all outputs", "Senior editor")
    research_a = Task(name="research A", description="Research the market", expected_output="Market notes",
                      agent=r1, async_execution=True)
    research_b = Task(name="research B", description="Research the technology", expected_output="Tech notes",
                      agent=r2, async_execution=True)
    analysis = Task(name="analysis", description="Analyze all research", expected_output="Analysis",
                    agent=analyst, context=[research_a, research_b])
    report = Task(name="report", description="Write the report", expected_output="Report",
                  agent=writer, context=[analysis], async_execution=True)
    slides = Task(name="presentation", description="Create the presentation", expected_output="Slides",
                  agent=designer, context=[analysis], async_execution=True)
    review = Task(name="review", description="Review all outputs", expected_output="Review notes",
                  agent=editor, context=[slides] if review_context == "presentation" else [report, slides])
    return Crew(agents=[r1, r2, analyst, writer, designer, editor],
                tasks=[research_a, research_b, analysis, report, slides, review])
