"""The test suite. Its folders mirror the code (course/, checks/, grading/, batch/, records/, release/, lab/),
then e2e/ (the whole product), project/ (the repository's own files) and crewai_facts/ (the installed CrewAI);
the helpers the tests share are in helpers/. Every folder is a package, so test modules are imported as
``tests.<folder>.<module>`` and two folders may hold files of the same name."""
