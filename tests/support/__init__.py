"""Helpers shared by the test suites: paths, subprocess runners, git and DVC repositories,
the harnesses of act, Docker and the registry, and specs the backend tests build on.

Test modules import helpers from here (and fixtures from conftest.py), never from one
another.
"""
