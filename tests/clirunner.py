"""click's CliRunner with stdout and stderr kept apart on every click version we support.

click 8.2+ (Python 3.10+) always separates them; click 8.1 (the last release for Python 3.9)
needs ``mix_stderr=False``, a parameter 8.2 removed.
"""

from __future__ import annotations

from click.testing import CliRunner


def separate_stderr_runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:
        return CliRunner()
