"""The project index: every class's bases resolved through imports, across the project's files.

Built once per run from file bytes; never imports or executes user code. It is lean on
purpose: a file is parsed (with ``ast``) only when a question needs it - a file that may hold
never-run async tests, a candidate file of the run, or a module one of their bases is imported
from - and module lookups are answered from the set of project files (no stat calls).

Import roots, in order (as pytest, mypy and ruff find them): the configured ``src`` roots, the
top of the file's package chain (the first folder upwards without ``__init__.py``, like
pytest's ``resolve_package_path``), the project root and ``<root>/src``. Folders without
``__init__.py`` are namespace packages.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ssot_codemod.analysis import (
    ASYNC_AWARE_BASES,
    BUILTIN_OBJECT,
    LOCAL_PREFIX,
    RUNNER_METHODS,
    RUNS_ASYNC_HOOKS_BASES,
    TESTCASE_BASES,
    UNKNOWN,
    c3_merge,
)
from ssot_codemod.project.context import ExternalClass, ProjectContext, RootInfo
from ssot_codemod.project.modules import ClassSummary, ModuleSummary, summarise
from ssot_codemod.results import display

_ASYNC_TEST = b"async def test"
_MAX_DEPTH = 40

Target = tuple[str, str, str]  # ("class", path, name) | ("lib", qualified, "") | ...


@dataclass
class NeverRun:
    """Never-run async tests of one class (as the index sees them)."""

    path: str
    class_name: str
    line: int
    tests: int
    root: str  # id of the class that lists unittest.TestCase


@dataclass
class Unresolved:
    path: str
    class_name: str
    line: int
    base: str
    reason: str


@dataclass
class _Class:
    id: str
    name: str
    path: str
    node: ClassSummary
    module: ModuleSummary
    data: ExternalClass | None = None
    root: str | None = None  # the class that lists unittest.TestCase, for never-run tests
    root_blocker: str | None = None  # why rebasing that root is not possible
    lists_testcase: bool = False


@dataclass
class ProjectIndex:
    """Classes and resolved bases of a project. ``files`` are absolute paths of every module."""

    root: str
    files: frozenset[str]
    src: tuple[str, ...] = ()
    data: dict[str, bytes] = field(default_factory=dict)
    _modules: dict[str, ModuleSummary] = field(default_factory=dict)
    _classes: dict[tuple[str, str], _Class | str] = field(default_factory=dict)
    _listings: dict[str, tuple[frozenset[str], frozenset[str]]] = field(default_factory=dict)
    _chain_top: dict[str, str] = field(default_factory=dict)
    _never_run: list[NeverRun] | None = None
    _by_root: dict[str, dict[str, int]] | None = None
    _roots_by_path: dict[str, list[str]] | None = None
    _skipped_tests: list[tuple[str, int, str]] = field(default_factory=list)
    memo: dict[str, object] = field(default_factory=dict)  # derived sets, for callers
    # True when the caller handed over the bytes of every file that holds async tests.
    handed_over: bool = False
    _candidates: set[str] = field(default_factory=set)
    # Memos: a class by id, shown paths, module lookups (asked per base of every class; the
    # listings they read do not change during a run).
    _by_ident: dict[str, _Class] = field(default_factory=dict)
    _shown: dict[str, str] = field(default_factory=dict)
    _found_modules: dict[tuple[tuple[str, ...], tuple[str, ...]], tuple[str, int] | None] = field(
        default_factory=dict
    )
    # What an absolute name means from the files with these import roots (asked per base of
    # every class; most name the same few framework classes).
    _resolved: dict[tuple[tuple[str, ...], str], list[Target]] = field(default_factory=dict)
    # Summaries made by the first pass (screening), taken into ``_modules`` when first asked
    # for (so what the index looked at stays what its questions needed).
    _ready: dict[str, ModuleSummary] = field(default_factory=dict)
    # context_for's ExternalClass of a class by (id, rebased in this run).
    _shown_classes: dict[tuple[str, bool], ExternalClass] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        root: str | os.PathLike[str],
        files: Iterable[str | os.PathLike[str]],
        *,
        src: Sequence[str | os.PathLike[str]] = (),
        data: dict[str, bytes] | None = None,
        summaries: dict[str, ModuleSummary] | None = None,
    ) -> ProjectIndex:
        """*summaries*: :func:`~ssot_codemod.project.modules.summarise` of some of *data*'s
        files, made already (by path; each of those paths must be in *data*)."""
        absolute = frozenset(os.path.abspath(f) for f in files)
        index = cls(
            os.path.abspath(root),
            absolute,
            tuple(os.path.abspath(s) for s in src),
            {os.path.abspath(k): v for k, v in (data or {}).items()},
        )
        index.handed_over = data is not None
        for path, summary in (summaries or {}).items():
            path = os.path.abspath(path)
            if path in index.data:
                summary.path = path
                index._ready[path] = summary
        return index

    def _listing(self, directory: str) -> tuple[frozenset[str], frozenset[str]]:
        """(``*.py`` file names, folder names) of a directory; one scandir per directory."""
        cached = self._listings.get(directory)
        if cached is None:
            files: set[str] = set()
            dirs: set[str] = set()
            try:
                with os.scandir(directory) as entries:
                    for entry in entries:
                        try:
                            if entry.is_dir():
                                dirs.add(entry.name)
                            elif entry.name.endswith(".py"):
                                files.add(entry.name)
                        except OSError:
                            continue
            except OSError:
                pass
            cached = (frozenset(files), frozenset(dirs))
            self._listings[directory] = cached
        return cached

    def _is_dir(self, path: str) -> bool:
        parent, name = os.path.split(path)
        return name in self._listing(parent)[1]

    def _has_init(self, directory: str) -> bool:
        return "__init__.py" in self._listing(directory)[0]

    # -- reading --------------------------------------------------------------------------
    def _bytes(self, path: str) -> bytes | None:
        found = self.data.get(path)
        if found is None:
            try:
                with open(path, "rb") as fh:
                    found = fh.read()
            except OSError:
                return None
            self.data[path] = found
        return found

    def module(self, path: str) -> ModuleSummary:
        summary = self._modules.get(path)
        if summary is None and path in self._ready:
            summary = self._modules[path] = self._ready.pop(path)
        if summary is None:
            data = self._bytes(path)
            if data is None:
                summary = ModuleSummary(path, error="cannot read it")
            else:
                summary = summarise(path, data)
            self._modules[path] = summary
        return summary

    def relpath(self, path: str) -> str:
        """How messages show a path: relative to the current directory, like the report
        (so a file gets the same messages whichever PATHs name it)."""
        shown = self._shown.get(path)
        if shown is None:
            shown = self._shown[path] = display(path)
        return shown

    # -- finding modules ------------------------------------------------------------------
    def _roots_for(self, path: str) -> list[str]:
        directory = os.path.dirname(path)
        top = self._chain_top.get(directory)
        if top is None:
            top = directory
            while self._has_init(top):
                parent = os.path.dirname(top)
                if parent == top:
                    break
                top = parent
            self._chain_top[directory] = top
        roots = [*self.src, top, self.root, os.path.join(self.root, "src")]
        return list(dict.fromkeys(roots))

    def _submodule(self, directory: str, name: str) -> str | None:
        """The module ``name`` in ``directory``: a file, a package or a namespace package."""
        files, dirs = self._listing(directory)
        base = os.path.join(directory, name)
        if name in dirs:
            if self._has_init(base):
                return os.path.join(base, "__init__.py")
            if name + ".py" not in files:
                return base  # a namespace package (a module of the same name wins)
        if name + ".py" in files:
            return base + ".py"
        return None

    def _longest_module(self, bases: list[str], parts: list[str]) -> tuple[str, int] | None:
        key = (tuple(bases), tuple(parts))
        if key not in self._found_modules:
            self._found_modules[key] = self._search_module(bases, parts)
        return self._found_modules[key]

    def _search_module(self, bases: list[str], parts: list[str]) -> tuple[str, int] | None:
        best: tuple[str, int] | None = None
        for base in bases:
            directory = base
            for count, part in enumerate(parts, start=1):
                found = self._submodule(directory, part)
                if found is None:
                    break
                if best is None or count > best[1]:
                    best = (found, count)
                if found.endswith("__init__.py"):
                    directory = os.path.dirname(found)
                elif found.endswith(".py"):
                    break
                else:
                    directory = found
            if best is not None:
                return best  # the first root that has the package wins, as on sys.path
        return best

    # -- resolving names ------------------------------------------------------------------
    def resolve_qualified(self, from_path: str, qualified: str, depth: int = 0) -> list[Target]:
        """What ``qualified`` (a spelling from ``from_path``'s bindings) refers to."""
        if depth > _MAX_DEPTH:
            return [("unknown", "the import chain is too long or circular", "")]
        if qualified.startswith("."):
            level = len(qualified) - len(qualified.lstrip("."))
            rest = qualified[level:]
            directory = os.path.dirname(from_path)
            for _ in range(level - 1):
                directory = os.path.dirname(directory)
            parts = rest.split(".") if rest else []
            if not parts:
                return [("unknown", f"{qualified} is a package", "")]
            package = self._submodule(os.path.dirname(directory), os.path.basename(directory))
            found = self._longest_module([directory], parts)
            # ``from . import Base``: a name of the package's __init__ comes before a submodule.
            if package is not None and package.endswith("__init__.py"):
                in_package = self._attribute(package, parts, depth)
                if in_package and in_package[0][0] != "unknown":
                    return in_package
            if found is None:
                if package is not None:
                    return self._attribute(package, parts, depth)
                return [
                    ("unknown", f"no module for {qualified} next to {self.relpath(from_path)}", "")
                ]
            return self._attribute(found[0], parts[found[1] :], depth)
        parts = qualified.split(".")
        if parts[0] in ("unittest", "builtins", "asyncio"):
            return [("lib", qualified, "")]
        roots = self._roots_for(from_path)
        if depth:
            return self._resolve_absolute(roots, parts, depth)
        key = (tuple(roots), qualified)  # the answer at depth 0 depends on nothing else
        cached = self._resolved.get(key)
        if cached is None:
            cached = self._resolved[key] = self._resolve_absolute(roots, parts, 0)
        return list(cached)

    def _resolve_absolute(self, roots: list[str], parts: list[str], depth: int) -> list[Target]:
        found = self._longest_module(roots, parts)
        if found is None:
            return [("lib", ".".join(parts), "")]
        return self._attribute(found[0], parts[found[1] :], depth)

    def _attribute(self, module: str, parts: list[str], depth: int) -> list[Target]:
        """``module.parts[0].parts[1]...``"""
        if not parts:
            return [("module", module, "")]
        name, rest = parts[0], parts[1:]
        if not module.endswith(".py"):
            sub = self._submodule(module, name)
            if sub is None:
                return [("unknown", f"no module {name} in {self.relpath(module)}", "")]
            return self._attribute(sub, rest, depth + 1)
        summary = self.module(module)
        if summary.error is not None:
            return [("unknown", f"{self.relpath(module)}: {summary.error}", "")]
        bound = summary.bindings.get(name)
        if bound is None:
            if module.endswith("__init__.py"):
                sub = self._submodule(os.path.dirname(module), name)
                if sub is not None:
                    return self._attribute(sub, rest, depth + 1)
            for star in summary.star_imports:
                found = self.resolve_qualified(module, f"{star}.{name}", depth + 1)
                if found and found[0][0] in ("class", "module"):
                    return self._continue(found, rest, depth)
            where = self.relpath(module)
            if summary.star_imports:
                return [("unknown", f"{name} may come from a star import in {where}", "")]
            return [("unknown", f"{name} is not defined in {where}", "")]
        if len(bound) != 1:
            return [("unknown", f"{name} is bound more than once in {self.relpath(module)}", "")]
        (target,) = bound
        if target == UNKNOWN:
            where = self.relpath(module)
            return [("unknown", f"{name} is computed at runtime in {where}", "")]
        if target.startswith(LOCAL_PREFIX):
            found = [("class", module, target[len(LOCAL_PREFIX) :])]
        elif target == BUILTIN_OBJECT:
            found = [("lib", BUILTIN_OBJECT, "")]
        else:
            found = self.resolve_qualified(module, target, depth + 1)
        return self._continue(found, rest, depth)

    def _continue(self, found: list[Target], rest: list[str], depth: int) -> list[Target]:
        if not rest:
            return found
        out: list[Target] = []
        for kind, what, extra in found:
            if kind == "module":
                out.extend(self._attribute(what, rest, depth + 1))
            elif kind == "lib":
                out.append(("lib", ".".join([what, *rest]), ""))
            elif kind == "class":
                out.append(("unknown", f"{'.'.join(rest)} is an attribute of class {extra}", ""))
            else:
                out.append((kind, what, extra))
        return out

    # -- classes --------------------------------------------------------------------------
    def _class(self, path: str, name: str, stack: tuple[str, ...] = ()) -> _Class | str:
        """The class ``name`` defined at module level in ``path``, with its facts (or why not)."""
        key = (path, name)
        cached = self._classes.get(key)
        if cached is not None:
            return cached
        summary = self.module(path)
        defs = summary.classes.get(name, [])
        ident = f"{self.relpath(path)}::{name}"
        if summary.error is not None:
            return f"{self.relpath(path)}: {summary.error}"
        if len(defs) != 1:
            return f"{name} is defined {len(defs)} times in {self.relpath(path)}"
        if ident in stack:
            return f"{name} inherits from itself through an import cycle"
        node = _Class(ident, name, path, defs[0], summary)
        self._compute(node, (*stack, ident))
        self._classes[key] = node
        self._by_ident[ident] = node
        return node

    def base_targets(
        self, summary: ModuleSummary, node: ClassSummary, stack: tuple[str, ...] = ()
    ) -> list[tuple[str, str, _Class | str | None]]:
        """(expression text, qualified spelling, class or reason/None for a library class)."""
        out: list[tuple[str, str, _Class | str | None]] = []
        for text, base in zip(node.base_texts(), node.bases):
            names = base.names
            if len(names) != 1:
                out.append((text, text, f"{text} is bound to several things"))
                continue
            (qualified,) = names
            if qualified == UNKNOWN:
                out.append((text, text, f"{text} is not an imported or module-level name"))
            elif qualified == BUILTIN_OBJECT:
                out.append((text, qualified, None))
            elif qualified.startswith(LOCAL_PREFIX):
                out.append(
                    (
                        text,
                        qualified,
                        self._class(summary.path, qualified[len(LOCAL_PREFIX) :], stack),
                    )
                )
            else:
                targets = self.resolve_qualified(summary.path, qualified)
                kind, what, extra = targets[0]
                if kind == "class":
                    out.append((text, qualified, self._class(what, extra, stack)))
                elif kind == "lib":
                    out.append((text, what, None))
                elif kind == "module":
                    out.append((text, qualified, f"{text} is a module"))
                else:
                    out.append((text, qualified, what))
        return out

    def _compute(self, node: _Class, stack: tuple[str, ...]) -> None:
        cls = node.node
        is_testcase = is_async = runs_hooks = False
        unknown: list[str] = []
        has_metaclass = cls.has_metaclass
        methods = cls.method_names
        overrides_runner = any(name in methods for name in RUNNER_METHODS)
        sequences: list[list[str]] = []
        direct: list[str] = []
        mro_ok = True
        roots: list[str] = []
        blocker: str | None = None
        for text, qualified, target in self.base_targets(node.module, cls, stack):
            if isinstance(target, _Class):
                data = target.data
                assert data is not None
                is_testcase |= data.is_testcase
                is_async |= data.is_async_aware
                runs_hooks |= data.runs_async_hooks
                unknown.extend(data.unknown_bases)
                has_metaclass |= data.has_metaclass
                overrides_runner |= data.overrides_runner
                direct.append(data.id)
                if data.linear is None:
                    mro_ok = False
                else:
                    sequences.append(list(data.linear))
                if target.root is not None:
                    roots.append(target.root)
                    blocker = blocker or target.root_blocker
            elif isinstance(target, str):
                unknown.append(f"{text} ({target})")
                mro_ok = False
            else:
                if qualified in ASYNC_AWARE_BASES:
                    is_async = True
                    runs_hooks |= qualified in RUNS_ASYNC_HOOKS_BASES
                elif qualified in TESTCASE_BASES:
                    is_testcase = True
                    node.lists_testcase = True
                elif qualified != BUILTIN_OBJECT:
                    unknown.append(f"{text} ({qualified} is not part of the project)")
                    mro_ok = False
                direct.append(qualified)
                sequences.append(
                    [qualified] if qualified == BUILTIN_OBJECT else [qualified, BUILTIN_OBJECT]
                )
        mro: tuple[str, ...] | None = None
        if mro_ok:
            sequences.append(direct)
            merged = c3_merge(node.id, [list(s) for s in sequences])
            mro = tuple(merged) if merged is not None else None
        summaries = cls.hook_summaries()
        if node.lists_testcase:
            roots.insert(0, node.id)
            blocker = self._rebase_blocker(node, cls, mro)
        node.root = roots[0] if roots else None
        node.root_blocker = blocker if roots else None
        node.data = ExternalClass(
            id=node.id,
            name=node.name,
            path=self.relpath(node.path),
            line=cls.line,
            linear=mro,
            is_testcase=is_testcase,
            is_async_aware=is_async,
            runs_async_hooks=runs_hooks,
            unknown_bases=tuple(dict.fromkeys(unknown)),
            has_metaclass=has_metaclass,
            overrides_runner=overrides_runner,
            method_names=methods,
            methods=summaries,
        )

    def _rebase_blocker(
        self, node: _Class, cls: ClassSummary, mro: tuple[str, ...] | None
    ) -> str | None:
        """Why the root class cannot be switched to IsolatedAsyncioTestCase in its module."""
        for number, base in enumerate(cls.bases):
            if base.names & TESTCASE_BASES:
                if base.owner is not None:  # an attribute (``x.TestCase``)
                    if base.owner != {"unittest"}:
                        text = cls.base_texts()[number]
                        return f"its base {text} is not spelled unittest.TestCase"
                elif base.ident is None:
                    return f"its base {cls.base_texts()[number]} is not a plain name"
        if mro is None:
            return "some of its bases cannot be resolved"
        own = cls.method_names
        for sync_name in ("setUp", "tearDown"):
            if sync_name in own:
                continue
            for ident in mro[1:]:
                ancestor = self._by_id(ident)
                if ancestor is None or ancestor.data is None:
                    break
                summary = ancestor.data.method(sync_name)
                if summary is not None:
                    # A bridge from a plain base of the same module is copied into the rebased
                    # class without the bridge (SSC004); one from another file cannot be.
                    copyable = ancestor.path == node.path and summary.depends is None
                    if summary.bridges and not summary.gated and not copyable:
                        return (
                            f"it inherits the bridge in {ancestor.name}.{sync_name} "
                            f"({ancestor.data.where}), which must not run for it any more"
                        )
                    break
                if sync_name in ancestor.data.method_names:
                    break
        return None

    def _by_id(self, ident: str) -> _Class | None:
        """A class computed so far, by id (``relpath::Name``)."""
        return self._by_ident.get(ident)

    def ancestors(self, data: ExternalClass) -> list[ExternalClass]:
        out = []
        for ident in data.linear or (data.id,):
            found = self._by_id(ident)
            if found is not None and found.data is not None:
                out.append(found.data)
        return out

    # -- never-run async tests --------------------------------------------------------------
    def never_run(self) -> list[NeverRun]:
        """Every class in the project with async tests that never run, with its root."""
        if self._never_run is not None:
            return self._never_run
        found: list[NeverRun] = []
        # In a run, the files that hold async tests were handed over with their bytes;
        # an index built without bytes reads every file.
        paths = self.files if not self.handed_over else [p for p in self.data if p in self.files]
        for path in sorted(paths):
            data = self._bytes(path)
            if data is None or not will_summarise(data):
                continue
            summary = self.module(path)
            for cls in summary.all_classes:
                tests = cls.async_tests
                transparent = [t for t in tests if t.transparent]
                if not tests:
                    continue
                facts = self._class_facts(summary, cls)
                if facts is None:
                    continue
                data_, root = facts
                if transparent and (
                    _never_awaits(data_)
                    or (
                        not data_.is_testcase
                        and not data_.unknown_bases
                        and _used_as_base(summary, cls.name)
                    )
                ):
                    # SSC004 may report here (a never-run test, or a mixin lending one).
                    self._candidates.add(path)
                if not _never_awaits(data_):
                    continue
                for test in tests:
                    if not test.transparent:
                        self._skipped_tests.append((path, test.line, f"{cls.name}.{test.name}"))
                if transparent and root is not None:
                    found.append(NeverRun(path, cls.name, cls.line, len(transparent), root))
        self._never_run = found
        return found

    def async_test_candidates(self) -> set[str]:
        """Files where SSC004 may report: a class with async tests that is not async-aware
        and whose bases all resolve (replaces the rule's own ``ast`` prefilter in a run)."""
        self.never_run()
        return set(self._candidates)

    def skipped_tests(self) -> list[tuple[str, int, str]]:
        """Async tests in never-awaiting classes whose decorators the tool cannot see through."""
        self.never_run()
        return list(self._skipped_tests)

    def _class_facts(
        self, summary: ModuleSummary, cls: ClassSummary
    ) -> tuple[ExternalClass, str | None] | None:
        if cls.module_level and len(summary.classes[cls.name]) == 1:
            found = self._class(summary.path, cls.name)
            if isinstance(found, _Class) and found.data is not None:
                return found.data, found.root
            return None
        # A class that is not a unique module-level one: computed on the spot, not cached.
        node = _Class(
            f"{self.relpath(summary.path)}::{cls.name}@{cls.line}",
            cls.name,
            summary.path,
            cls,
            summary,
        )
        self._compute(node, (node.id,))
        assert node.data is not None
        return node.data, node.root

    def unresolved(self, paths: Iterable[str]) -> list[Unresolved]:
        """Classes in ``paths`` with a base that cannot be resolved (library bases excluded:
        those are named in findings where they matter)."""
        out: list[Unresolved] = []
        for path in paths:
            path = os.path.abspath(path)
            if path not in self._modules:
                continue  # never needed by this run's questions
            summary = self._modules[path]
            for cls in summary.all_classes:
                if not cls.matters:
                    continue
                for text, qualified, target in self.base_targets(summary, cls):
                    if isinstance(target, str):
                        out.append(Unresolved(path, cls.name, cls.line, text, target))
                    elif target is None and qualified not in _KNOWN_LIBRARY:
                        why = f"{qualified} is not part of the project"
                        out.append(Unresolved(path, cls.name, cls.line, text, why))
        return out

    # -- per-file contexts ----------------------------------------------------------------
    def context_for(
        self, path: str, *, unsafe_fixes: bool = False, writable: frozenset[str] | None = None
    ) -> ProjectContext:
        """What ``path``'s rules need to know about the other files."""
        path = os.path.abspath(path)
        summary = self.module(path)
        names: dict[str, str] = {}
        unresolved: dict[str, str] = {}
        classes: dict[str, ExternalClass] = {}
        rebased = self._rebased_roots(unsafe_fixes, writable)
        unwritable: dict[str, str] = {}
        for cls in summary.all_classes:
            for _text, qualified, target in self.base_targets(summary, cls):
                if qualified.startswith(LOCAL_PREFIX):
                    continue
                if isinstance(target, _Class) and target.path != path:
                    names[qualified] = target.id
                    for ident in (*(target.data.linear or ()), target.id) if target.data else ():
                        ancestor = self._by_id(ident)
                        if ancestor is None or ancestor.data is None:
                            continue
                        data = ancestor.data
                        rebase = False
                        if ancestor.root is not None:
                            root = self._by_id(ancestor.root)
                            if ancestor.root in rebased and root is not None and root.data:
                                rebase = True
                            elif (
                                unsafe_fixes
                                and root is not None
                                and root.data
                                and root.root_blocker is None
                            ):
                                unwritable[ancestor.root] = (
                                    f"{root.data.path} is not among the named files"
                                )
                        # The same few ancestors appear in most files' contexts: their final
                        # value is made once (a dataclasses.replace per file cost a fifth of
                        # the contexts' time on a big tree).
                        shown = self._shown_classes.get((ident, rebase))
                        if shown is None:
                            if rebase:
                                root = self._by_id(ancestor.root or "")
                                assert root is not None and root.data is not None
                                data = _with_rebase(data, root.data)
                            data = _with_root(data, ancestor.root, ancestor.root_blocker, self)
                            shown = self._shown_classes[ident, rebase] = data
                        classes[shown.id] = shown
                elif isinstance(target, str):
                    unresolved[qualified] = target
        roots: dict[str, RootInfo] = {}
        for ident in self._roots_in_file().get(path, ()):
            root = self._by_id(ident)
            if root is None:
                continue
            by_file = self._root_tests_by_file()[ident]
            others = [tests for file, tests in by_file.items() if file != path]
            if not others:
                continue
            roots[root.name] = RootInfo(
                sum(others), len(others), writable is None or path in writable
            )
        return ProjectContext(
            names=tuple(sorted(names.items())),
            classes=tuple(classes[k] for k in sorted(classes)),
            unresolved=tuple(sorted(unresolved.items())),
            roots=tuple(sorted(roots.items())),
            unwritable_roots=tuple(sorted(unwritable.items())),
        )

    def _root_tests_by_file(self) -> dict[str, dict[str, int]]:
        """Root id -> file -> never-run tests there; computed once (context_for asks per file,
        and walking never_run() each time made a run quadratic in the number of subclasses)."""
        if self._by_root is None:
            by_root: dict[str, dict[str, int]] = {}
            for item in self.never_run():
                files = by_root.setdefault(item.root, {})
                files[item.path] = files.get(item.path, 0) + item.tests
            self._by_root = by_root
        return self._by_root

    def _roots_in_file(self) -> dict[str, list[str]]:
        """File -> ids of the roots defined in it (of never-run tests)."""
        if self._roots_by_path is None:
            out: dict[str, list[str]] = {}
            for ident in self._root_tests_by_file():
                root = self._by_id(ident)
                if root is not None:
                    out.setdefault(root.path, []).append(ident)
            self._roots_by_path = out
        return self._roots_by_path

    def _root_counts(self) -> dict[str, tuple[int, set[str]]]:
        return {
            root: (sum(files.values()), set(files))
            for root, files in self._root_tests_by_file().items()
        }

    def _rebased_roots(self, unsafe_fixes: bool, writable: frozenset[str] | None) -> set[str]:
        if not unsafe_fixes:
            return set()
        out: set[str] = set()
        for ident in self._root_counts():
            root = self._by_id(ident)
            if root is None or root.root_blocker is not None:
                continue
            if writable is None or root.path in writable:
                out.add(ident)
        return out

    def root_display(self, ident: str) -> tuple[str, str, int] | None:
        root = self._by_id(ident)
        if root is None or root.data is None:
            return None
        return root.name, root.data.path, root.data.line

    def root_blocker(self, ident: str) -> str | None:
        root = self._by_id(ident)
        return root.root_blocker if root is not None else None


def _with_rebase(data: ExternalClass, root: ExternalClass) -> ExternalClass:
    from dataclasses import replace

    return replace(data, runs_async_hooks=True, rebased_root=f"`{root.name}` ({root.where})")


def _with_root(
    data: ExternalClass, root: str | None, blocker: str | None, index: ProjectIndex
) -> ExternalClass:
    from dataclasses import replace

    if root is None:
        return data
    shown = index.root_display(root)
    if shown is None:
        return data
    return replace(data, root=f"`{shown[0]}` ({shown[1]}:{shown[2]})", root_blocker=blocker)


_CLASS_BASES = re.compile(rb"class[ \t]+\w+[ \t]*\(([^)]*)\)")
_WORD = re.compile(rb"\w+")
# Base tokens that cannot make a class a plain TestCase (IsolatedAsyncioTestCase, object).
_ASYNC_OR_PLAIN = frozenset({b"unittest", b"IsolatedAsyncioTestCase", b"object"})


def will_summarise(data: bytes) -> bool:
    """:meth:`ProjectIndex.never_run` summarises this file when its bytes are handed over
    (the first pass makes the summary ahead for such files: :mod:`ssot_codemod.screening`)."""
    return _ASYNC_TEST in data and _may_hold_testcase(data)


def _may_hold_testcase(data: bytes) -> bool:
    """Some class header names a base other than IsolatedAsyncioTestCase/object (a file of
    pytest-style classes or IsolatedAsyncioTestCases only is not parsed)."""
    return any(set(_WORD.findall(bases)) - _ASYNC_OR_PLAIN for bases in _CLASS_BASES.findall(data))


_KNOWN_LIBRARY = TESTCASE_BASES | ASYNC_AWARE_BASES | {BUILTIN_OBJECT}


def _never_awaits(data: ExternalClass) -> bool:
    return (
        data.is_testcase
        and not data.is_async_aware
        and not data.unknown_bases
        and not data.has_metaclass
        and not data.overrides_runner
    )


def _used_as_base(summary: ModuleSummary, name: str) -> bool:
    """Some class of the module lists ``name`` among its bases (a mixin lending tests)."""
    return any(base.ident == name for cls in summary.all_classes for base in cls.bases)
