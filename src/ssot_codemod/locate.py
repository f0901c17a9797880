"""Find where a test reported by a runner is defined in the source, statically.

A JUnit ``classname`` (``tests.test_api.TestLogin``) plus ``name`` (``test_ok[2]``) is mapped
to a file, a class and the method that runs. A method the class inherits is followed through
its bases, in the same module or through ``import``/``from ... import`` statements, by reading
files with :mod:`ast` -- user code is never imported. Each file is parsed once per
:class:`SourceTree`.

The interface is deliberately narrow (:meth:`SourceTree.locate`, :meth:`SourceTree.definition`)
so that a project-wide index of modules and classes can stand behind it later.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ClassKey", "Definition", "Located", "SourceTree", "Unlocated", "split_test_name"]

_MAX_BASE_DEPTH = 30

#: A class as (absolute file path, class path within the file).
ClassKey = tuple[Path, tuple[str, ...]]


@dataclass(frozen=True)
class Definition:
    """A test method (or, with ``method=None``, a class) as written in one file."""

    path: Path
    class_path: tuple[str, ...]  # ("Outer", "Inner")
    method: str | None
    line: int
    is_async: bool = False  # ``async def``: a test that only runs under an async-aware base

    @property
    def qualname(self) -> str:
        parts = [*self.class_path, *([self.method] if self.method else [])]
        return ".".join(parts)


@dataclass(frozen=True)
class Located:
    """Where the runner's test is: the class it ran in and where its method is defined."""

    path: Path  # the file of the class the test ran in
    class_path: tuple[str, ...]
    method: str | None  # None: the class itself (an error in setUpClass)
    definition: Definition  # == the test's own class unless the method is inherited

    @property
    def inherited(self) -> bool:
        return (self.definition.path, self.definition.class_path) != (self.path, self.class_path)


@dataclass(frozen=True)
class Unlocated:
    """Why a reported test could not be pinned to its source (reported, never guessed)."""

    reason: str


def split_test_name(name: str) -> str:
    """The method name of a test id: ``test_x[1-2]`` -> ``test_x``."""
    bracket = name.find("[")
    return name[:bracket] if bracket > 0 else name


class _Module:
    """One parsed file: its top-level classes (nested ones reachable) and import bindings."""

    def __init__(self, path: Path, tree: ast.Module, data: bytes = b"") -> None:
        self.path = path
        self.tree = tree
        self.data = data  # the bytes *tree* was parsed from
        self.classes: dict[str, ast.ClassDef] = {}
        # local name -> (module, attribute or None, level); ``import a.b as c`` -> ("a.b", None, 0)
        self.imports: dict[str, tuple[str, str | None, int]] = {}
        for stmt in _top_level(tree.body):
            if isinstance(stmt, ast.ClassDef):
                self.classes[stmt.name] = stmt
            elif isinstance(stmt, ast.Import):
                for alias in stmt.names:
                    if alias.asname:
                        self.imports[alias.asname] = (alias.name, None, 0)
                    else:
                        top = alias.name.split(".")[0]
                        self.imports.setdefault(top, (top, None, 0))
            elif isinstance(stmt, ast.ImportFrom):
                for alias in stmt.names:
                    if alias.name != "*":
                        local = alias.asname or alias.name
                        self.imports[local] = (stmt.module or "", alias.name, stmt.level)

    def find_class(self, class_path: Sequence[str]) -> ast.ClassDef | None:
        if not class_path:
            return None
        node = self.classes.get(class_path[0])
        for part in class_path[1:]:
            if node is None:
                return None
            node = next(
                (n for n in node.body if isinstance(n, ast.ClassDef) and n.name == part), None
            )
        return node


def _top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Module statements, looking into ``if``/``try`` blocks (imports often sit there)."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, ast.If):
            yield from _top_level(stmt.body)
            yield from _top_level(stmt.orelse)
        elif isinstance(stmt, ast.Try):
            yield from _top_level(stmt.body)
            for handler in stmt.handlers:
                yield from _top_level(handler.body)


def _method(node: ast.ClassDef, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    found = None
    for stmt in node.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name == name:
            found = stmt  # the last definition wins, as at run time
    return found


def _dotted(expr: ast.expr) -> list[str] | None:
    if isinstance(expr, ast.Name):
        return [expr.id]
    if isinstance(expr, ast.Attribute):
        inner = _dotted(expr.value)
        return None if inner is None else [*inner, expr.attr]
    return None


class SourceTree:
    """The files under *roots* as far as locating tests needs them; parses each file once.

    *roots* are the directories dotted names are resolved against (the pytest rootdir first,
    then ``src/`` layouts and the like).
    """

    def __init__(self, roots: Sequence[Path]) -> None:
        self.roots = [Path(os.path.abspath(r)) for r in dict.fromkeys(roots)]
        self._modules: dict[Path, _Module | None] = {}
        self.parse_errors: dict[Path, str] = {}
        self._ancestors: dict[ClassKey, set[ClassKey]] = {}
        self._report_files: dict[str, Path | None] = {}  # a report's file -> its path

    # ---------------------------------------------------------------------------- files

    def module(self, path: Path) -> _Module | None:
        if path in self._modules:  # a key is absolute and normalised: *path* is that path
            return self._modules[path]
        key = Path(os.path.abspath(path))
        if key not in self._modules:
            try:
                data = key.read_bytes()
                tree = ast.parse(data, filename=str(key))
            except (OSError, SyntaxError, ValueError, RecursionError) as exc:
                self.parse_errors[key] = f"{type(exc).__name__}: {exc}"
                self._modules[key] = None
            else:
                self._modules[key] = _Module(key, tree, data)
        return self._modules[key]

    def parsed(self, path: Path, data: bytes) -> ast.Module | None:
        """The tree of *path* if it was parsed here from exactly *data* (a caller editing the
        file reuses it instead of parsing again); None otherwise. Read-only: shared."""
        module = self._modules.get(Path(os.path.abspath(path)))
        return module.tree if module is not None and module.data == data else None

    def forget(self, path: Path) -> None:
        """Drop the cached parse of *path* (after it was rewritten)."""
        self._modules.pop(Path(os.path.abspath(path)), None)

    def module_file(self, dotted: str, *, near: Path | None = None) -> Path | None:
        """The file of module *dotted*: ``a/b.py`` or ``a/b/__init__.py`` under a root."""
        if not dotted:
            return None
        rel = Path(*dotted.split("."))
        bases = list(self.roots)
        if near is not None:
            bases.insert(0, _import_base(near))
        for base in bases:
            for candidate in (base / rel.with_suffix(".py"), base / rel / "__init__.py"):
                if candidate.is_file():
                    return candidate
        return None

    def _relative_module(self, origin: Path, module: str, level: int) -> Path | None:
        directory = origin.parent
        for _ in range(level - 1):
            directory = directory.parent
        rel = Path(*module.split(".")) if module else None
        if rel is None:
            candidate = directory / "__init__.py"
            return candidate if candidate.is_file() else None
        for candidate in (directory / rel.with_suffix(".py"), directory / rel / "__init__.py"):
            if candidate.is_file():
                return candidate
        return None

    # ---------------------------------------------------------------------------- tests

    def split_classname(
        self, classname: str, file: str | None
    ) -> tuple[Path, tuple[str, ...]] | Unlocated:
        """(file, class path) for a JUnit classname, using the report's ``file`` if given."""
        parts = classname.split(".") if classname else []
        if file:
            if file not in self._report_files:  # one lookup per file, not per test
                candidates = (root / file for root in self.roots)
                self._report_files[file] = next((p for p in candidates if p.is_file()), None)
            path = self._report_files[file]
            if path is not None:
                module = self.module(path)
                if module is None:
                    return Unlocated(f"{file} cannot be parsed")
                dotted = file[:-3].replace("/", ".") if file.endswith(".py") else file
                if not parts or dotted.endswith(classname):
                    return path, ()  # a module-level test function
                if classname.startswith(dotted + "."):
                    return path, tuple(classname[len(dotted) + 1 :].split("."))
                # Another rootdir: the longest tail of the classname that is a class here.
                for k in range(len(parts) - 1, 0, -1):
                    if module.find_class(parts[-k:]) is not None:
                        return path, tuple(parts[-k:])
                return path, (parts[-1],)
        for i in range(len(parts), 0, -1):
            found = self.module_file(".".join(parts[:i]))
            if found is not None and found.name != "__init__.py":
                return found, tuple(parts[i:])
        where = file or classname
        return Unlocated(f"no source file for {where!r} under {', '.join(map(str, self.roots))}")

    def locate(self, classname: str, name: str, file: str | None = None) -> Located | Unlocated:
        """Where the test (JUnit *classname*, *name*, optional *file*) is defined."""
        class_level = _class_level_name(name)
        if class_level is not None:  # unittest-xml-reporting: "setUpClass (pkg.mod.Class)"
            classname, name = class_level, ""
        split = self.split_classname(classname, file)
        if isinstance(split, Unlocated):
            return split
        path, class_path = split
        if not class_path:
            return Unlocated("a plain test function, not a method of a test class: not marked")
        module = self.module(path)
        if module is None:
            return Unlocated(f"{path} cannot be parsed")
        node = module.find_class(class_path)
        if node is None:
            return Unlocated(f"class {'.'.join(class_path)} not found in {path} (renamed?)")
        if not name:
            definition = Definition(path, class_path, None, node.lineno)
            return Located(path, class_path, None, definition)
        method = split_test_name(name)
        found = self.definition(path, class_path, method)
        if found is None:
            return Unlocated(
                f"{'.'.join(class_path)}.{method} not found in {path} or the bases it can "
                "follow (removed or renamed?)"
            )
        return Located(path, class_path, method, found)

    def definition(
        self, path: Path, class_path: tuple[str, ...], method: str, _depth: int = 0
    ) -> Definition | None:
        """Where *method* of class *class_path* in *path* is defined: the class itself or the
        first base (depth first, in order, as far as it can be followed) that defines it."""
        if _depth > _MAX_BASE_DEPTH:
            return None
        module = self.module(path)
        node = module.find_class(class_path) if module is not None else None
        if module is None or node is None:
            return None
        own = _method(node, method)
        if own is not None:
            return Definition(
                module.path,  # absolute
                class_path,
                method,
                own.lineno,
                isinstance(own, ast.AsyncFunctionDef),
            )
        for base in node.bases:
            target = self._resolve_base(module, base)
            if target is None:
                continue
            found = self.definition(target[0], target[1], method, _depth + 1)
            if found is not None:
                return found
        return None

    def ancestors(self, path: Path, class_path: tuple[str, ...]) -> set[ClassKey]:
        """Every class that *class_path* in *path* inherits from and that can be followed
        (itself too if its bases lead back to it)."""
        key = (Path(os.path.abspath(path)), class_path)
        cached = self._ancestors.get(key)
        if cached is not None:
            return cached
        # One walk per question, reusing only finished answers: a cycle met half-way can never
        # leave a partial answer behind for a later question.
        found: set[ClassKey] = set()
        seen = {key}
        stack = [key]
        while stack:
            current = stack.pop()
            finished = self._ancestors.get(current)
            if finished is not None:
                found |= finished
                continue
            module = self.module(current[0])
            node = module.find_class(current[1]) if module is not None else None
            if module is None or node is None:
                continue
            for base in node.bases:
                target = self._resolve_base(module, base)
                if target is None:
                    continue
                base_module = self.module(target[0])
                if base_module is None or base_module.find_class(target[1]) is None:
                    continue
                base_key = (Path(os.path.abspath(target[0])), target[1])
                found.add(base_key)
                if base_key not in seen:
                    seen.add(base_key)
                    stack.append(base_key)
        self._ancestors[key] = found
        return found

    def _resolve_base(self, module: _Module, base: ast.expr) -> tuple[Path, tuple[str, ...]] | None:
        parts = _dotted(base)
        if not parts:
            return None
        head = parts[0]
        if len(parts) == 1 and head in module.classes:
            return module.path, (head,)
        binding = module.imports.get(head)
        if binding is None:
            return None
        source, attribute, level = binding
        if attribute is not None:  # from source import attribute [as head]
            if level:
                origin = self._relative_module(module.path, source, level)
            else:
                origin = self.module_file(source, near=module.path)
            if origin is None:  # maybe "from pkg import submodule"
                return None
            if len(parts) == 1:
                return self._follow_name(origin, attribute)
            return None
        # import a.b [as head]: head.rest... -> module a.b (longest existing prefix), class rest
        dotted = [*source.split("."), *parts[1:]]
        for i in range(len(dotted) - 1, 0, -1):
            origin = self.module_file(".".join(dotted[:i]), near=module.path)
            if origin is not None:
                return origin, tuple(dotted[i:])
        return None

    def _follow_name(
        self, origin: Path, name: str, _depth: int = 0
    ) -> tuple[Path, tuple[str, ...]] | None:
        """Class *name* as module *origin* binds it: defined there, or re-exported."""
        module = self.module(origin)
        if module is None or _depth > _MAX_BASE_DEPTH:
            return None
        if name in module.classes:
            return origin, (name,)
        binding = module.imports.get(name)
        if binding is None:
            return None
        source, attribute, level = binding
        if attribute is None:
            return None
        nxt = (
            self._relative_module(origin, source, level)
            if level
            else self.module_file(source, near=origin)
        )
        return None if nxt is None else self._follow_name(nxt, attribute, _depth + 1)


def _class_level_name(name: str) -> str | None:
    for hook in ("setUpClass", "tearDownClass"):
        prefix = hook + " ("
        if name.startswith(prefix) and name.endswith(")"):
            return name[len(prefix) : -1]
    return None


def _import_base(path: Path) -> Path:
    """The directory pytest's default import mode puts on sys.path for *path*: the first
    directory upwards without ``__init__.py``."""
    directory = path.parent
    while (directory / "__init__.py").is_file() and directory.parent != directory:
        directory = directory.parent
    return directory
