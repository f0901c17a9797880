"""The run's project view: the project index built from what the file loop read, the extra
rules it sends files to, and each candidate's :class:`~ssot_codemod.project.context.ProjectContext`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ssot_codemod.api import Options
    from ssot_codemod.project.context import ProjectContext
    from ssot_codemod.project.modules import ModuleSummary
    from ssot_codemod.project.run import ProjectReport

__all__ = ["ProjectView"]


@dataclass
class ProjectView:
    """The run's project index and what the files named in this run may write."""

    index: Any  # project.index.ProjectIndex (imported lazily)
    named: tuple[str, ...]
    unsafe_fixes: bool
    # What building the view looked at besides the index's own reads (see dependencies()).
    looked_at: tuple[tuple[str, ...], tuple[str, ...], bool] = field(default=((), (), True))
    listings: tuple[tuple[str, str], ...] = ()  # the project walk's (files.Discovery.listings)
    # Each named file's absolute path, by the path the run knows it by.
    absolute: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Built once: per file it cost a set of every named path (quadratic on big trees).
        self._writable = frozenset(self.named)

    def _absolute_path(self, path: Path) -> str:
        text = os.fspath(path)
        return self.absolute.get(text, text)

    @classmethod
    def build(
        cls,
        paths: Sequence[Path | str],
        files: Sequence[Path],
        data: dict[str, bytes],
        notes: dict[str, object],
        options: Options,
        summaries: dict[str, ModuleSummary] | None = None,
    ) -> ProjectView | None:
        """*data*: the bytes the first pass kept; *summaries*: modules it summarised already."""
        if not options.project_view or not files:
            return None
        from ssot_codemod.files import absolute_paths, discover
        from ssot_codemod.project.index import ProjectIndex
        from ssot_codemod.project.run import needs_whole_project, project_root

        as_paths = [Path(p) for p in paths]
        root = project_root(as_paths, options.project_root)
        named = tuple(absolute_paths(files))
        everything: list[str] = list(named)
        extra: list[str] = []
        watched: list[str] = []
        probed = _root_markers(as_paths, root)
        replayable = True
        listings: tuple[tuple[str, str], ...] = ()
        if needs_whole_project(as_paths):
            # Files named one by one (pre-commit): read the rest of the project as well, so
            # they get the findings a scan of the whole project gives them.
            walked = discover([root], exclude=options.exclude, exclude_base=options.exclude_base)
            extra = [os.path.abspath(f) for f in walked.files if os.path.abspath(f) not in data]
            everything.extend(extra)
            watched.extend(walked.watched)
            watched.extend(extra)
            probed.extend(walked.probed)
            replayable = walked.replayable
            listings = walked.listings
        src = [root / entry for entry in options.src]  # relative entries: to the project
        index = ProjectIndex.build(root, everything, src=src, data=data, summaries=summaries)
        index.memo.update(notes)
        from ssot_codemod.project.run import index_wants

        for path in dict.fromkeys(extra):
            if path in named:
                continue
            try:
                with open(path, "rb") as fh:
                    content = fh.read()
            except OSError:
                continue
            if index_wants(index.memo, path, content):
                index.data[path] = content
        looked_at = (tuple(watched), tuple(probed), replayable)
        absolute = dict(zip(map(os.fspath, files), named))
        return cls(index, named, options.unsafe_fixes, looked_at, listings, absolute)

    def dependencies(self) -> tuple[list[str], list[str], bool]:
        """What this view's answers were decided from, for :mod:`ssot_codemod.snapshot`: paths
        whose stat matters (every file the index read or was handed, every directory it
        listed, the rest of the project when it was walked), paths whose existence matters
        (project root markers), and whether those decide it completely."""
        watched, probed, replayable = self.looked_at
        index = self.index
        paths = [*watched, *index._listings, *index.data, *index._modules]
        return paths, list(probed), replayable

    def extra_codes(self, path: Path) -> set[str]:
        from ssot_codemod.project.run import extra_codes

        return extra_codes(self.index, self._absolute_path(path))

    def context_for(self, path: Path) -> ProjectContext:
        context: ProjectContext = self.index.context_for(
            self._absolute_path(path), unsafe_fixes=self.unsafe_fixes, writable=self._writable
        )
        return context

    def report(self) -> ProjectReport:
        from ssot_codemod.project.run import report

        result: ProjectReport = report(self.index, self.named, unsafe_fixes=self.unsafe_fixes)
        return result


def _root_markers(paths: Sequence[Path], root: Path) -> list[str]:
    """The marker files whose appearance would move the project root (``project_root``)."""
    from ssot_codemod.files import PROJECT_ROOT_MARKERS, common_directory

    common = common_directory(paths)
    if common is None:
        return []
    out: list[str] = []
    for directory in (common, *common.parents):
        out.extend(os.path.join(directory, marker) for marker in PROJECT_ROOT_MARKERS)
        if directory == root:
            break
    return out
