"""How a run uses the project view: which project, which extra candidates, what to summarise.

The api calls these; they read files only through :class:`ProjectIndex` (bytes the api already
read are handed over, so nothing is read twice).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ssot_codemod.project.index import SUMMARISED, ProjectIndex, _Class

_ROOT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", ".git")
_TWIN_DEF = re.compile(
    rb"^[ \t]+def[ \t]+(?:" + b"|".join(n.encode() for n in sorted(SUMMARISED)) + rb")[ \t]*\(",
    re.MULTILINE,
)
_CLASS_HEADER = re.compile(rb"^[ \t]*class[ \t]+(\w+)[ \t]*\(([^)]*)\)", re.MULTILINE)
_NAME = re.compile(rb"\w+")
_PLAIN_BASES = frozenset({b"unittest", b"TestCase", b"object", b"IsolatedAsyncioTestCase"})


@dataclass(frozen=True)
class RootGroup:
    """Never-run async tests (in the named files) that one root class leaves unawaited."""

    name: str
    path: str
    line: int
    tests: int
    files: int
    blocker: str | None  # why ``--unsafe-fixes`` cannot rebase it, or None


@dataclass(frozen=True)
class UnresolvedBase:
    path: str
    class_name: str
    line: int
    base: str
    reason: str


@dataclass(frozen=True)
class ProjectReport:
    """What the summary and ``--verbose`` say about the project view."""

    roots: tuple[RootGroup, ...] = ()
    unresolved: tuple[UnresolvedBase, ...] = ()
    skipped_tests: tuple[tuple[str, int, str], ...] = ()  # path, line, Class.test


def project_root(paths: Sequence[Path], configured: Path | None) -> Path:
    """The configuration's directory, else the nearest folder above the PATHs with a
    ``pyproject.toml``, ``setup.py``, ``setup.cfg`` or ``.git``, else their common folder."""
    if configured is not None:
        return Path(os.path.abspath(configured))
    dirs = []
    for path in paths or [Path(".")]:
        absolute = os.path.abspath(path)
        dirs.append(absolute if os.path.isdir(absolute) else os.path.dirname(absolute))
    try:
        common = Path(os.path.commonpath(dirs))
    except ValueError:
        return Path.cwd()
    for directory in (common, *common.parents):
        if any((directory / marker).exists() for marker in _ROOT_MARKERS):
            return directory
    return common


def needs_whole_project(paths: Sequence[Path]) -> bool:
    """Files named one by one (pre-commit) need the rest of the project read; directories
    already are the part of the project the run is about."""
    return any(not os.path.isdir(p) for p in paths)


def index_wants(data: bytes) -> bool:
    """Files the index parses anyway: possible never-run tests, possible inherited twins."""
    return b"async def test" in data or _may_inherit_twin(data)


def extra_codes(index: ProjectIndex, path: str) -> set[str]:
    """Rules a file needs because of other files, although its own bytes rule them out."""
    path = os.path.abspath(path)
    codes: set[str] = set()
    if path in _never_run_files(index) or path in _root_files(index):
        codes.add("SSC004")
    data = index.data.get(path)
    if data is not None and _may_inherit_twin(data) and _inherits_twin(index, path):
        codes.add("SSC003")
    return codes


def _never_run_files(index: ProjectIndex) -> set[str]:
    cached = index.memo.get("never_run_files")
    if not isinstance(cached, set):
        cached = {item.path for item in index.never_run()}
        index.memo["never_run_files"] = cached
    return cached


def _root_files(index: ProjectIndex) -> set[str]:
    cached = index.memo.get("root_files")
    if not isinstance(cached, set):
        cached = set()
        for item in index.never_run():
            shown = index.root_display(item.root)
            if shown is not None:
                cached.add(os.path.abspath(shown[1]))
        index.memo["root_files"] = cached
    return cached


def _may_inherit_twin(data: bytes) -> bool:
    """A hook defined in a class whose bases name something not defined in this file."""
    if _TWIN_DEF.search(data) is None:
        return False
    headers = _CLASS_HEADER.findall(data)
    local = {name for name, _ in headers}
    for _name, bases in headers:
        for token in _NAME.findall(bases):
            if token not in local and token not in _PLAIN_BASES:
                return True
    return False


def _inherits_twin(index: ProjectIndex, path: str) -> bool:
    summary = index.module(path)
    if summary.error is not None:
        return False
    from ssot_codemod.project.index import _methods, _summarise_method

    for cls in summary.all_classes:
        own = {n: f for n, f in _methods(cls).items() if n in SUMMARISED}
        if not own:
            continue
        for _text, _q, target in index.base_targets(summary, cls):
            if not isinstance(target, _Class) or target.data is None or target.path == path:
                continue
            for ancestor in index.ancestors(target.data):
                for name, func in own.items():
                    inherited = ancestor.method(name)
                    if inherited is not None:
                        if inherited.key == _summarise_method(summary, func).key:
                            return True
    return False


def report(index: ProjectIndex, named: Sequence[str]) -> ProjectReport:
    named_set = {os.path.abspath(p) for p in named}
    groups: dict[str, tuple[int, set[str]]] = {}
    for item in index.never_run():
        if item.path not in named_set:
            continue
        tests, files = groups.get(item.root, (0, set()))
        files.add(item.path)
        groups[item.root] = (tests + item.tests, files)
    roots = []
    for ident, (tests, files) in groups.items():
        shown = index.root_display(ident)
        if shown is None:
            continue
        roots.append(
            RootGroup(shown[0], shown[1], shown[2], tests, len(files), index.root_blocker(ident))
        )
    roots.sort(key=lambda r: (-r.tests, r.path, r.line))
    unresolved = tuple(
        UnresolvedBase(index.relpath(u.path), u.class_name, u.line, u.base, u.reason)
        for u in index.unresolved(sorted(named_set))
    )
    skipped = tuple(
        (index.relpath(p), line, name) for p, line, name in index.skipped_tests() if p in named_set
    )
    return ProjectReport(tuple(roots), unresolved, skipped)
