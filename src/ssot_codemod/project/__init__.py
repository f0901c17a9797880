"""The project view: classes and their bases resolved across the project's modules.

:class:`~ssot_codemod.project.index.ProjectIndex` reads the project once per run;
:class:`~ssot_codemod.project.context.ProjectContext` is the per-file value the engine gets.
"""

from __future__ import annotations

from ssot_codemod.project.context import (
    EMPTY_CONTEXT,
    ExternalClass,
    MethodSummary,
    ProjectContext,
    RootInfo,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ssot_codemod.project.index import ProjectIndex


def __getattr__(name: str) -> object:
    # The index needs ssot_codemod.analysis, which needs the context: import it on first use.
    if name == "ProjectIndex":
        from ssot_codemod.project.index import ProjectIndex

        return ProjectIndex
    raise AttributeError(name)


__all__ = [
    "EMPTY_CONTEXT",
    "ExternalClass",
    "MethodSummary",
    "ProjectContext",
    "ProjectIndex",
    "RootInfo",
]
