"""The repository's own files: the pins (pyproject, environment.yml, the lock) and the deployment files."""
