"""What one file needs to know about the rest of the project: a small, picklable value.

The project index (:mod:`ssot_codemod.project.index`) reads the whole project; the engine sees
only this per-file *context*, so worker processes need no index and the engine stays pure. A
context maps the qualified names a module uses for its bases (as
:meth:`ssot_codemod.analysis.ModuleIndex.resolve` spells them: ``pkg.base.Base``, ``.base.Base``)
to facts about the classes they resolve to in other files of the project.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class MethodSummary:
    """One method of a class defined in another file, as far as the rules care."""

    name: str
    is_async: bool
    key: str  # analysis.normalized_ast_function: equal keys = twins
    bridges: tuple[str, ...]  # async hooks this sync method runs on a loop (asyncSetUp, ...)
    gated: bool  # every bridge sits under a version check (if sys.version_info / PY_38 ...)
    calls_super: bool  # calls super().<name>() (a cooperative chain)
    depends: str | None  # why moving the body elsewhere changes it (super, __class__, ...)


@dataclass(frozen=True)
class ExternalClass:
    """A class defined in another file of the project (or an ancestor of one)."""

    id: str  # "relpath::Name" (unique in the project)
    name: str
    path: str  # relative to the project root, "/"-separated
    line: int
    # C3 linearisation: ids of project classes and qualified names of library classes
    # ("unittest.TestCase"); None when some ancestor cannot be resolved.
    linear: tuple[str, ...] | None
    is_testcase: bool
    is_async_aware: bool
    runs_async_hooks: bool
    unknown_bases: tuple[str, ...]  # "expr (reason)" of every ancestor base we cannot resolve
    has_metaclass: bool
    overrides_runner: bool
    method_names: tuple[str, ...]  # sorted: the fingerprint must not depend on hash order
    methods: tuple[MethodSummary, ...]  # the hooks and their twins (see modules.SUMMARISED)
    # Set when --unsafe-fixes rebases this class's root in this run: the root's display name.
    rebased_root: str | None = None
    # The class in this one's MRO that lists unittest.TestCase ("`Base` (path:line)"): where
    # form C rebases never-run tests; and why that is not possible, if it is not.
    root: str | None = None
    root_blocker: str | None = None

    def method(self, name: str) -> MethodSummary | None:
        for summary in self.methods:
            if summary.name == name:
                return summary
        return None

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class RootInfo:
    """A class of *this* file that is the root of never-run async tests in other files."""

    tests: int  # never-run async tests in other files whose classes inherit this root
    files: int  # how many other files hold them
    writable: bool  # this file is among the named files (apply may write it)


@dataclass(frozen=True)
class ProjectContext:
    """Facts about other files, for one file. Empty = the single-file view."""

    # Qualified base name as the module spells it -> ExternalClass.id
    names: tuple[tuple[str, str], ...] = ()
    classes: tuple[ExternalClass, ...] = ()
    # Qualified base name -> why it cannot be resolved
    unresolved: tuple[tuple[str, str], ...] = ()
    # Local class name -> never-run tests elsewhere that a rebase of it would start
    roots: tuple[tuple[str, RootInfo], ...] = ()
    # Root class id -> why its file is not written in this run (not among the named files)
    unwritable_roots: tuple[tuple[str, str], ...] = ()
    _maps: dict[str, object] = field(default_factory=dict, compare=False, repr=False, hash=False)

    def _map(self, label: str) -> dict[str, object]:
        cached = self._maps.get(label)
        if isinstance(cached, dict):
            return cached
        built: dict[str, object]
        if label == "names":
            built = dict(self.names)
        elif label == "classes":
            built = {c.id: c for c in self.classes}
        elif label == "unresolved":
            built = dict(self.unresolved)
        elif label == "roots":
            built = dict(self.roots)
        else:
            built = dict(self.unwritable_roots)
        self._maps[label] = built
        return built

    def external(self, qualified: str) -> ExternalClass | None:
        """The project class a base spelled ``qualified`` resolves to, if any."""
        ident = self._map("names").get(qualified)
        return self.by_id(ident) if isinstance(ident, str) else None

    def by_id(self, ident: str) -> ExternalClass | None:
        found = self._map("classes").get(ident)
        return found if isinstance(found, ExternalClass) else None

    def why_unresolved(self, qualified: str) -> str | None:
        found = self._map("unresolved").get(qualified)
        return found if isinstance(found, str) else None

    def root(self, class_name: str) -> RootInfo | None:
        found = self._map("roots").get(class_name)
        return found if isinstance(found, RootInfo) else None

    def unwritable(self, ident: str) -> str | None:
        found = self._map("unwritable").get(ident)
        return found if isinstance(found, str) else None

    @property
    def fingerprint(self) -> str:
        """A stable digest of everything this context says (a results cache keys on it)."""
        text = repr((self.names, self.classes, self.unresolved, self.roots, self.unwritable_roots))
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


EMPTY_CONTEXT = ProjectContext()
