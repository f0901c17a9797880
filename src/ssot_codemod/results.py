"""The values a run produces: one :class:`FileResult` per file, a :class:`RunResult` per run,
and the one-line messages their errors carry. Shared by the file loop (:mod:`ssot_codemod.api`),
helper-module planning and verify/rollback, so none of them imports another for these.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ssot_codemod.types import Finding

if TYPE_CHECKING:
    from ssot_codemod.project.run import ProjectReport

__all__ = [
    "FAILED_STATUSES",
    "REVERT_STATUS",
    "BaselineRecount",
    "FileResult",
    "FileStatus",
    "RunResult",
    "display",
    "one_line",
    "relative_display",
    "read_error",
]

FileStatus = Literal[
    "unchanged",
    "changed",
    "would-change",
    "error",
    "skipped",
    "reverted",
    "refused",
    "already-original",
]

FAILED_STATUSES: frozenset[str] = frozenset({"error", "refused"})


@dataclass(frozen=True)
class FileResult:
    """The outcome for one file.

    ``original``/``new`` hold the decoded texts only when the engine produced a different text
    (for diffs). ``parsed`` tells whether the file passed the byte prefilter and was parsed.
    ``created`` lists the paths apply created for this result (a new helper module, its package
    directories and ``__init__.py`` files), in creation order; with ``--dry-run``, those it
    would create.
    """

    path: Path
    status: FileStatus
    findings: tuple[Finding, ...] = ()
    original: str | None = None
    new: str | None = None
    error: str | None = None
    parsed: bool = False
    created: tuple[Path, ...] = ()


@dataclass(frozen=True)
class BaselineRecount:
    """A quarantine baseline (``.ssot-quarantine.json``) that ``revert`` brought up to date:
    its path and how many quarantined tests it still lists (0: the file is gone)."""

    path: Path
    quarantined: int


@dataclass(frozen=True)
class RunResult:
    """All file results in path order, plus paths that could not be walked."""

    files: tuple[FileResult, ...]
    discovery_errors: tuple[tuple[Path, str], ...] = ()
    elapsed: float = 0.0
    # The --helper-module file, when this run created or extended it (or would, in a dry run).
    helper_module_path: Path | None = None
    # The project view: never-run tests grouped by root class, unresolved bases, skipped tests.
    project: ProjectReport | None = None
    # revert: the quarantine baselines it recounted (or would, in a dry run).
    baselines: tuple[BaselineRecount, ...] = ()

    def count(self, status: FileStatus) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def parsed(self) -> int:
        return sum(1 for f in self.files if f.parsed)

    @property
    def findings(self) -> tuple[tuple[Path, Finding], ...]:
        return tuple((f.path, finding) for f in self.files for finding in f.findings)

    def findings_by_code(self) -> dict[str, int]:
        counts = Counter(finding.code for f in self.files for finding in f.findings)
        return dict(sorted(counts.items()))

    @property
    def failed(self) -> tuple[FileResult, ...]:
        return tuple(f for f in self.files if f.status in FAILED_STATUSES)

    @property
    def has_errors(self) -> bool:
        return bool(self.discovery_errors) or any(f.status in FAILED_STATUSES for f in self.files)

    @property
    def unsafe_fixable(self) -> int:
        """Findings that only ``--unsafe-fixes`` would fix."""
        return sum(1 for _, f in self.findings if f.fix == "unsafe" and not f.applied)

    @property
    def fixable(self) -> int:
        """Findings whose fix is part of the computed rewrite."""
        return sum(1 for _, f in self.findings if f.applied)


#: How :mod:`ssot_codemod.backup` revert outcomes read as file statuses.
REVERT_STATUS: dict[str, FileStatus] = {
    "restored": "reverted",
    "already-original": "already-original",
    "refused": "refused",
    "would-restore": "would-change",
}


def one_line(text: str) -> str:
    return " ".join(text.split()) or "unknown error"


def read_error(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, FileNotFoundError):
        return "file disappeared before it could be read"
    if isinstance(exc, IsADirectoryError):
        return "is a directory"
    return one_line(exc.strerror or str(exc) or type(exc).__name__)


def relative_display(absolute: str, base: str) -> str:
    """*absolute* (a normalised absolute path) relative to *base* (one too), with "/"
    separators: ``..`` for paths outside it, itself on another Windows drive."""
    if absolute.startswith(base) and absolute[len(base) : len(base) + 1] == os.sep:
        # Below the base (nearly every path in a run): relpath's splitting is not needed, and
        # over a big report it was most of the formatting time.
        rel = absolute[len(base) + 1 :]
    else:
        try:
            rel = os.path.relpath(absolute, base)
        except ValueError:
            rel = absolute
    return rel.replace(os.sep, "/")


def display(path: str | os.PathLike[str]) -> str:
    """*path* as messages show it: relative to the current directory, "/"-separated."""
    return relative_display(os.path.abspath(path), os.getcwd())
