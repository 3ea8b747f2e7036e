"""The instructor's ``release`` command: build release/ from source/, regenerate the sample class, verify both."""
