"""Values passed between the engine, the file layer and the reporters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

FixSafety = Literal["safe", "unsafe", "none"]


@dataclass(frozen=True)
class Finding:
    """One reported problem, positioned in the *original* source (1-based line and column)."""

    code: str
    message: str
    line: int
    column: int
    end_line: int
    end_column: int
    fix: FixSafety
    applied: bool = False


@dataclass(frozen=True)
class FixResult:
    """What the engine made of one source text; ``code == source`` when nothing changed."""

    source: str
    code: str
    findings: tuple[Finding, ...] = field(default_factory=tuple)
    # False when no rule could match the text (its bytes or its ast tree) and LibCST never
    # parsed it: the result of a file no rule matched.
    parsed: bool = True

    @property
    def changed(self) -> bool:
        return self.code != self.source


class EngineError(Exception):
    """A file the engine cannot handle; ``str(exc)`` is a one-line reason for the user."""
