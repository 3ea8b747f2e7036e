"""Facts about the installed CrewAI that the course teaches or relies on (docs/crewai-facts.md, make drift)."""
