"""Shared test infrastructure for the Acme order platform.

Everything a test needs to run against an isolated environment lives here;
the single source of truth for base classes is :mod:`test_framework.ssot`.
"""
