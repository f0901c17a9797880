"""Run the user's pytest command and read what it reports.

The command is split like ``apply --verify`` (:func:`ssot_codemod.api.split_command`, no shell)
and gets the tool's own options appended: ``--junitxml`` to a temporary file,
``-o junit_family=xunit1`` (so each case names its file) and ``--continue-on-collection-errors``
(so one broken module does not hide the results of the others; its error is reported).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ssot_codemod.api import split_command
from ssot_codemod.junit import JUnitError, TestResult, read_junit

__all__ = ["TestRun", "rerun_argv", "run_tests"]

# Above this many characters of test ids, a rerun runs the files instead of the ids.
_MAX_ID_CHARS = 100_000

# Options of pytest (and common plugins) that take the next argument as their value: that value
# is never mistaken for a test path when a rerun drops the command's own paths.
_VALUE_OPTIONS = frozenset(
    {
        "-c",
        "-k",
        "-m",
        "-o",
        "-p",
        "-n",
        "-W",
        "--rootdir",
        "--confcutdir",
        "--basetemp",
        "--override-ini",
        "--ignore",
        "--ignore-glob",
        "--deselect",
        "--junitxml",
        "--junit-xml",
        "--log-file",
        "--cov",
        "--cov-report",
        "--cov-config",
        "--import-mode",
        "--timeout",
        "--durations",
        "--maxfail",
        "--tb",
        "--capture",
        "--dist",
        "--config-file",
        "--inifile",
    }
)


@dataclass(frozen=True)
class TestRun:
    """One run of the test command: its exit status, the tail of its output, its results."""

    __test__ = False

    argv: tuple[str, ...]
    returncode: int
    results: tuple[TestResult, ...]
    output_tail: str


def _program_length(argv: Sequence[str]) -> int:
    """How many leading arguments name the program (``pytest`` or ``python -m pytest``)."""
    if len(argv) >= 3 and argv[1] == "-m":
        return 3
    return 1


def rerun_argv(argv: Sequence[str], targets: Sequence[str], cwd: Path) -> list[str]:
    """*argv* with its own test paths dropped and *targets* (node ids or files) appended."""
    head = _program_length(argv)
    kept = list(argv[:head])
    previous = ""
    for arg in argv[head:]:
        takes_value = previous in _VALUE_OPTIONS
        previous = arg
        if not takes_value and not arg.startswith("-"):
            candidate = arg.split("::", 1)[0]
            if candidate and (cwd / candidate).exists():
                continue  # a test path of the original run
        kept.append(arg)
    return [*kept, *targets]


def run_tests(
    command: str,
    *,
    cwd: Path,
    targets: Sequence[str] | None = None,
    fallback_targets: Sequence[str] = (),
    env: dict[str, str] | None = None,
    echo: Callable[[str], None] | None = None,
) -> TestRun:
    """Run *command* in *cwd* (with *targets* instead of its own paths, if given) and parse
    the JUnit XML it writes. Raises :class:`JUnitError` when no usable results come back and
    ValueError when the command cannot be split. *echo* receives each line of the command's
    output as it comes."""
    argv = split_command(command)
    if targets is not None:
        if sum(len(t) + 1 for t in targets) > _MAX_ID_CHARS:
            targets = list(fallback_targets)
        argv = rerun_argv(argv, targets, cwd)
    handle, name = tempfile.mkstemp(prefix="ssot-quarantine-", suffix=".xml")
    os.close(handle)
    junit = Path(name)
    try:
        full = [
            *argv,
            f"--junitxml={junit}",
            "-o",
            "junit_family=xunit1",
            "--continue-on-collection-errors",
        ]
        try:
            child = subprocess.Popen(
                full,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
            )
        except FileNotFoundError:
            raise JUnitError(f"command not found: {argv[0]}") from None
        except OSError as exc:
            raise JUnitError(f"cannot run {argv[0]}: {exc.strerror or exc}") from None
        tail: deque[str] = deque(maxlen=15)
        assert child.stdout is not None
        with child:
            # Streamed, so a run of thousands of tests shows its progress as it goes.
            for raw in child.stdout:
                line = raw.decode("utf-8", "replace")
                tail.append(line.rstrip("\r\n"))
                if echo is not None:
                    echo(line)
        returncode = child.wait()
        last = "\n".join(tail)
        if junit.stat().st_size == 0:
            raise JUnitError(
                f"the test command wrote no results (exit status {returncode}); "
                f"last lines of its output:\n{last}"
            )
        results = read_junit(junit)
        return TestRun(tuple(full), returncode, tuple(results), last)
    finally:
        junit.unlink(missing_ok=True)
