"""``apply --verify``: run a command after applying (:func:`run_verify`, no shell) and, if it
fails, undo what that apply changed (:func:`rollback`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ssot_codemod.results import (
    FAILED_STATUSES,
    REVERT_STATUS,
    FileResult,
    RunResult,
    display,
    one_line,
    read_error,
)

__all__ = ["VerifyResult", "rollback", "run_verify", "split_command"]


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of the ``--verify`` command. ``returncode is None``: it could not start."""

    command: str
    returncode: int | None
    output: str
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.returncode == 0


def split_command(command: str) -> list[str]:
    """*command* as an argument list (POSIX shell quoting). Raises ValueError if unusable."""
    import shlex

    argv = shlex.split(command)
    if not argv:
        raise ValueError("the command is empty")
    return argv


def run_verify(command: str, *, cwd: Path | None = None) -> VerifyResult:
    """Run *command* without a shell (stdin closed, environment inherited, output captured).

    stdout and stderr are captured together, in the order the command wrote them. Raises
    ValueError for a command that cannot be split; KeyboardInterrupt passes through (the child
    has been stopped by then).
    """
    import subprocess

    argv = split_command(command)
    try:
        done = subprocess.run(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            check=False,
        )
    except FileNotFoundError:
        return VerifyResult(command, None, "", error=f"command not found: {argv[0]}")
    except OSError as exc:
        reason = one_line(exc.strerror or str(exc))
        return VerifyResult(command, None, "", error=f"cannot run {argv[0]}: {reason}")
    output = done.stdout.decode("utf-8", "replace") if done.stdout else ""
    return VerifyResult(command, done.returncode, output)


def _remove_pycache(directory: Path) -> None:
    """Remove ``directory/__pycache__`` if it holds nothing but bytecode (a test run made it)."""
    cache = directory / "__pycache__"
    if not cache.is_dir() or cache.is_symlink():
        return
    try:
        entries = list(cache.iterdir())
        if all(e.suffix == ".pyc" and e.is_file() and not e.is_symlink() for e in entries):
            for entry in entries:
                entry.unlink()
            cache.rmdir()
    except OSError:
        return


def rollback(result: RunResult) -> RunResult:
    """Undo what the apply that produced *result* changed: restore every ``changed`` file from
    the backup this run made (:func:`ssot_codemod.backup.revert_file`) and remove the files and
    directories it created. Statuses: ``reverted``, ``refused`` or ``error``.
    """
    started = time.perf_counter()
    from ssot_codemod.backup import revert_file
    from ssot_codemod.helper_module import remove_created

    out: list[FileResult] = []
    for file in result.files:
        if file.status != "changed":
            continue
        if file.path in file.created:
            for created in file.created:
                if created.is_dir() and not created.is_symlink():
                    _remove_pycache(created)
            problems = remove_created(file.created)
            if problems:
                where, why = problems[0]
                out.append(
                    FileResult(file.path, "error", error=f"cannot remove {display(where)}: {why}")
                )
            else:
                out.append(FileResult(file.path, "reverted"))
            continue
        try:
            outcome = revert_file(file.path)
        except OSError as exc:
            out.append(FileResult(file.path, "error", error=read_error(exc)))
            continue
        status = REVERT_STATUS.get(outcome.status, "error")
        if status == "already-original":
            status = "reverted"
        message = one_line(outcome.message) if outcome.message else None
        prefix = f"{outcome.path}: "
        if message is not None and message.startswith(prefix):
            message = message[len(prefix) :]
        out.append(
            FileResult(file.path, status, error=message if status in FAILED_STATUSES else None)
        )
    return RunResult(tuple(out), (), time.perf_counter() - started)
