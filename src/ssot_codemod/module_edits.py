"""Module-level edits a rewrite needs: the helper's definition and the imports it relies on.

Kept apart from the engine because it is plain LibCST statement surgery with no rule logic. The
inserted code lands in someone's pull request, so it goes where a person (and isort, and black)
would put it:

- imports: ``import x`` into the standard-library section, alphabetically among the plain
  imports, which isort's default profile puts before the ``from x import y`` lines;
  ``from x import y`` merged into an existing ``from x import ...`` (names kept in isort's
  order), else after the section's plain imports; a section the module lacks is started where
  isort would start it (after ``__future__``, before third-party imports);
- the helper: after the module's *preamble* — docstring, ``__future__`` and other imports,
  import-only ``if TYPE_CHECKING:`` / ``try: import ... except ImportError:`` blocks and module
  dunders such as ``__author__`` or ``__all__`` — one blank line after it (what isort wants
  before a non-import statement) and two blank lines around the ``def`` (black).
"""

from __future__ import annotations

import functools
import os
import re
import sys
import sysconfig
from collections.abc import Sequence
from typing import TYPE_CHECKING, Union

import libcst as cst

from ssot_codemod.helper_source import HELPER_IMPORTS, HELPER_NAME, HELPER_SOURCE
from ssot_codemod.rules.base import Plan

if TYPE_CHECKING:
    from ssot_codemod.sourcemap import SourceMap

# What LibCST's Module.body really holds (its annotation says BaseStatement).
Statement = Union[cst.SimpleStatementLine, cst.BaseCompoundStatement]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

_Import = tuple[str, Union[str, None]]  # (module, None) for ``import module``, else (module, obj)


def add_helper_and_imports(
    module: cst.Module,
    plan: Plan,
    helper_module: str | None,
    original: cst.Module | None = None,
    *,
    removed: Sequence[cst.CSTNode] | None = None,
    source: SourceMap | None = None,
) -> cst.Module:
    """*module* (the rewrite of *original*) with the helper and the imports it needs, and
    without standard-library imports whose last use the rewrite removed (*removed* and
    *source*: see :func:`drop_imports_left_unused`)."""
    imports: list[_Import] = sorted(plan.imports, key=str)
    insert_helper = False
    if plan.needs_helper and not defines_name(module, HELPER_NAME):
        if helper_module:
            imports.append((helper_module, HELPER_NAME))
        else:
            insert_helper = True
            imports.extend((name, None) for name in HELPER_IMPORTS)
    module = ensure_imports(module, imports)
    if insert_helper:
        module = _insert_helper(module)
    if original is None:
        return module
    return drop_imports_left_unused(original, module, removed=removed, source=source)


def defines_name(module: cst.Module, name: str) -> bool:
    """Whether *module* binds *name* at top level: def, class, import or assignment."""
    for stmt in module.body:
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            if stmt.name.value == name:
                return True
        elif isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if name in _bound_names(small):
                    return True
    return False


def _bound_names(small: cst.BaseSmallStatement) -> set[str]:
    if isinstance(small, (cst.Import, cst.ImportFrom)) and not isinstance(
        small.names, cst.ImportStar
    ):
        return {
            alias.evaluated_alias or alias.evaluated_name.split(".")[0] for alias in small.names
        }
    if isinstance(small, cst.Assign):
        return {t.target.value for t in small.targets if isinstance(t.target, cst.Name)}
    if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name):
        return {small.target.value}
    return set()


# --------------------------------------------------------------------------------------------
# imports


class _Uses(cst.CSTVisitor):
    """Names read outside import statements, and the words of every string literal (a name in
    ``__all__`` or a string annotation counts as used).

    With *source* (a :class:`SourceMap` of a module whose nodes the visited tree shares), a
    node whose recorded text contains none of *words* is skipped with its children: it holds
    no name and no string word from *words*, so for those words the result is the same as a
    full visit, at a fraction of its cost (a rewrite keeps most nodes of the original).

    With *until_all_read*, the visit stops once every one of *words* was read as a name: its
    ``strings`` are then incomplete, and only ``names`` answers (every word is read).
    """

    def __init__(
        self,
        words: set[str] | frozenset[str] = frozenset(),
        source: SourceMap | None = None,
        *,
        until_all_read: bool = False,
    ) -> None:
        super().__init__()
        self.names: set[str] = set()
        self.strings: list[str] = []
        self.in_helper = False  # its docstring mentions ``asyncio.run``: not a use of ``run``
        self._words = tuple(words)
        self._source = source if words else None
        self._skipped: set[int] = set()
        self._until_read = frozenset(words) if until_all_read and words else None
        self.all_read = False

    def on_visit(self, node: cst.CSTNode) -> bool:
        if self.all_read or (
            self._source is not None and self._source.mentions(node, self._words) is False
        ):
            self._skipped.add(id(node))
            return False
        return super().on_visit(node)

    def on_leave(self, original_node: cst.CSTNode) -> None:
        if id(original_node) not in self._skipped:
            super().on_leave(original_node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if node.name.value == HELPER_NAME:
            self.in_helper = True

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        if original_node.name.value == HELPER_NAME:
            self.in_helper = False

    def visit_Import(self, node: cst.Import) -> bool:
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        return False

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        node.value.visit(self)  # ``x.run`` reads x, not a name ``run``
        return False

    def visit_Name(self, node: cst.Name) -> None:
        self.names.add(node.value)
        if self._until_read is not None and node.value in self._until_read:
            self.all_read = self._until_read <= self.names

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        if not self.in_helper:
            self.strings.append(node.value)

    def visit_FormattedStringText(self, node: cst.FormattedStringText) -> None:
        if not self.in_helper:
            self.strings.append(node.value)


def _uses(
    node: cst.CSTNode,
    words: set[str] | frozenset[str] = frozenset(),
    source: SourceMap | None = None,
    *,
    until_all_read: bool = False,
) -> _Uses:
    uses = _Uses(words, source, until_all_read=until_all_read)
    node.visit(uses)
    return uses


def drop_imports_left_unused(
    original: cst.Module,
    module: cst.Module,
    *,
    removed: Sequence[cst.CSTNode] | None = None,
    source: SourceMap | None = None,
) -> cst.Module:
    """Remove top-level standard-library imports that *original* used and *module* no longer
    does (``from asyncio import run`` once ``run(...)`` is rewritten), as ruff's F401 fix
    would; imports of other modules may have side effects and stay, except the import of our
    own helper (``from pkg.compat import run_coroutine_sync``) once the rewrite deleted its
    last call.

    Two optional facts make this cheap without changing the answer. *removed*: the nodes of
    *original* the rewrite removed or replaced, when every other name of *original* survives
    in *module* (so only a name read in them can stop being used). *source*: the SourceMap of
    *original*, whose nodes *module* (and *removed*) share, so the visits skip what cannot
    mention a candidate name.
    """
    candidates = _droppable_names(module)
    if removed is not None and candidates:
        in_removed: set[str] = set()
        for node in removed:  # alone, a node shows a superset of its uses
            unread = candidates - in_removed
            if not unread:
                break
            in_removed |= _uses(node, unread, source, until_all_read=True).names
        candidates &= in_removed
    if not candidates:
        return module
    # The rewrite first: it usually still reads every candidate (the test code around what
    # changed), which ends its visit early and spares the original's.
    after = _uses(module, candidates, source, until_all_read=True)
    if after.all_read:
        return module
    left = candidates - after.names
    gone = _uses(original, left, source).names & left
    if gone:
        gone -= set(_IDENTIFIER.findall("\n".join(after.strings)))
    if not gone:
        return module
    body: list[Statement] = list(module.body)
    changed = False
    for i, small, stdlib in reversed(_droppable_imports(body)):
        kept = [
            a
            for a in small.names  # type: ignore[union-attr]  # never a star import here
            if (a.evaluated_alias or a.evaluated_name) not in gone
            or not (stdlib or a.evaluated_name == HELPER_NAME)
        ]
        if len(kept) == len(small.names):  # type: ignore[arg-type]
            continue
        changed = True
        stmt = body[i]
        assert isinstance(stmt, cst.SimpleStatementLine)
        if kept:
            kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
            body[i] = stmt.with_changes(body=[small.with_changes(names=kept)])
            continue
        del body[i]
        if i < len(body) and stmt.leading_lines and not body[i].leading_lines:
            body[i] = body[i].with_changes(leading_lines=stmt.leading_lines)
    return module.with_changes(body=body) if changed else module


def _droppable_imports(
    body: Sequence[Statement],
) -> list[tuple[int, cst.Import | cst.ImportFrom, bool]]:
    """Top-level one-import lines :func:`drop_imports_left_unused` may shorten: (index, the
    import, whether it imports from the standard library)."""
    found = []
    for i, stmt in enumerate(body):
        small = _single_import(stmt)
        if small is None or isinstance(small.names, cst.ImportStar):
            continue
        name = (
            small.names[0].evaluated_name if isinstance(small, cst.Import) else _from_module(small)
        )
        if name is None:
            continue
        stdlib = _section(name) == 1
        if stdlib or isinstance(small, cst.ImportFrom):
            found.append((i, small, stdlib))
    return found


def _droppable_names(module: cst.Module) -> set[str]:
    """The names :func:`drop_imports_left_unused` would remove from *module* once unused."""
    names: set[str] = set()
    for _i, small, stdlib in _droppable_imports(module.body):
        for alias in small.names:  # type: ignore[union-attr]  # never a star import here
            if stdlib or alias.evaluated_name == HELPER_NAME:
                names.add(alias.evaluated_alias or alias.evaluated_name)
    return names


def ensure_imports(module: cst.Module, imports: Sequence[_Import]) -> cst.Module:
    """Add the ``import M`` / ``from M import O`` lines that the module lacks.

    This is what LibCST's AddImportsVisitor does in spirit, but constructing that
    matcher-based visitor costs ~20 ms per file (more than parsing a typical test module), and
    it places new imports with no regard for isort's sections.
    """
    present: set[_Import] = set()
    for stmt in module.body:
        for small in stmt.body if isinstance(stmt, cst.SimpleStatementLine) else ():
            if isinstance(small, cst.Import):
                present.update((a.evaluated_name, None) for a in small.names if a.asname is None)
            elif isinstance(small, cst.ImportFrom):
                source = _from_module(small)
                if source is not None and not isinstance(small.names, cst.ImportStar):
                    present.update(
                        (source, a.evaluated_name) for a in small.names if a.asname is None
                    )
    missing = [item for item in dict.fromkeys(imports) if item not in present]
    if not missing:
        return module
    body: list[Statement] = list(module.body)
    for mod, obj in missing:
        if obj is None or not _merge_from_import(body, mod, obj):
            _insert_import(body, mod, obj)
    return module.with_changes(body=body)


def _single_import(stmt: cst.CSTNode) -> cst.Import | cst.ImportFrom | None:
    if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1:
        small = stmt.body[0]
        if isinstance(small, (cst.Import, cst.ImportFrom)):
            return small
    return None


def _from_module(small: cst.ImportFrom) -> str | None:
    """The absolute module of ``from M import names``; None for relative or star imports."""
    if small.module is None or small.relative or isinstance(small.names, cst.ImportStar):
        return None
    return cst.Module([]).code_for_node(small.module)


@functools.lru_cache(maxsize=1)
def _stdlib_names() -> frozenset[str]:
    names = getattr(sys, "stdlib_module_names", None)
    if names is not None:
        return frozenset(names)
    # Python 3.9: the top-level names in the standard library directory, plus built-ins.
    found = set(sys.builtin_module_names)
    try:
        entries = os.listdir(sysconfig.get_paths()["stdlib"])
    except OSError:  # pragma: no cover - a stripped interpreter
        entries = []
    for entry in entries:
        stem = entry[:-3] if entry.endswith(".py") else entry
        if stem.isidentifier() and entry != "site-packages":
            found.add(stem)
    return frozenset(found)


def _section(module_name: str) -> int:
    """isort's section order: 0 ``__future__``, 1 standard library, 2 everything else."""
    top = module_name.split(".")[0]
    if top == "__future__":
        return 0
    return 1 if top in _stdlib_names() else 2


def _sort_key(small: cst.Import | cst.ImportFrom) -> tuple[int, int, str]:
    """Where isort's default profile puts a line: section, plain before from, then name."""
    if isinstance(small, cst.Import):
        name = small.names[0].evaluated_name
        return _section(name), 0, name.lower()
    name = _from_module(small) or "." * len(small.relative)
    return _section(name), 1, name.lower()


def _insert_import(body: list[Statement], mod: str, obj: str | None) -> None:
    """Insert one new import line where isort would put it among the leading imports."""
    new = _statement(f"from {mod} import {obj}" if obj else f"import {mod}")
    new_key = _sort_key(new.body[0])  # type: ignore[arg-type]  # an import by construction
    leading = [
        (i, _sort_key(small))
        for i, stmt in enumerate(body[: _preamble_end(body, stop_at_code=True)])
        if (small := _single_import(stmt)) is not None
    ]
    if not leading:
        position = _after_docstring(body)
        if position == 0 and body:
            # No imports and no docstring: keep the file's leading comments above the import.
            separator = _blank_lines_after_imports(body[0])
            _take_leading_lines(body, 0, new, separator)
        else:
            body.insert(position, new.with_changes(leading_lines=[cst.EmptyLine()] * position))
            if position + 1 < len(body):
                following = body[position + 1]
                _ensure_blank_lines(body, position + 1, _blank_lines_after_imports(following))
        return
    before = next(((i, key) for i, key in leading if key > new_key), None)
    if before is None:
        last, last_key = leading[-1]
        separator = 1 if last_key[0] != new_key[0] else 0
        body.insert(last + 1, new.with_changes(leading_lines=[cst.EmptyLine()] * separator))
        return
    index, key = before
    previous = [k for i, k in leading if i < index]
    if previous and previous[-1][0] == new_key[0]:
        # Inside its section: right after the previous line, before the next one's leading
        # lines (the blank line that separates the sections, a comment).
        body.insert(index, new)
    else:
        # First of its section: it takes over the leading lines of the line it now precedes;
        # one blank line separates that line when it is in a later section.
        separator = 1 if key[0] != new_key[0] else 0
        _take_leading_lines(body, index, new, separator)


def _take_leading_lines(
    body: list[Statement], index: int, new: cst.SimpleStatementLine, separator: int
) -> None:
    """Insert *new* before ``body[index]``, moving that statement's leading lines onto it."""
    following = body[index]
    body[index] = following.with_changes(leading_lines=[cst.EmptyLine()] * separator)
    lines = list(following.leading_lines)
    while len(lines) > 1 and lines[0].comment is None and lines[1].comment is None:
        del lines[0]  # at most one blank line above an import block
    body.insert(index, new.with_changes(leading_lines=lines))


def _ensure_blank_lines(body: list[Statement], index: int, count: int) -> None:
    """At least *count* blank lines before ``body[index]`` (and before its comments)."""
    stmt = body[index]
    blanks = 0
    for line in stmt.leading_lines:
        if line.comment is not None:
            break
        blanks += 1
    if blanks < count:
        extra = [cst.EmptyLine()] * (count - blanks)
        body[index] = stmt.with_changes(leading_lines=[*extra, *stmt.leading_lines])


def _blank_lines_after_imports(stmt: Statement) -> int:
    """What isort (``lines-after-imports = -1``) and black want after an import block."""
    return 2 if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)) else 1


def _after_docstring(body: Sequence[Statement]) -> int:
    return 1 if body and _is_docstring(body[0]) else 0


@functools.lru_cache(maxsize=64)
def _statement(code: str) -> cst.SimpleStatementLine:
    """A parsed one-line statement; nodes are immutable, so one parse serves every file."""
    statement = cst.parse_statement(code)
    assert isinstance(statement, cst.SimpleStatementLine)
    return statement


def _name_key(name: str) -> tuple[int, str]:
    """isort's ``order_by_type``: CONSTANTS, then Classes, then functions and modules."""
    if name.isupper() and len(name) > 1:
        return 0, name
    return (1, name) if name[:1].isupper() else (2, name)


def _merge_from_import(body: list[Statement], module_name: str, obj: str) -> bool:
    """Add ``obj`` to an existing one-line ``from module_name import ...``, in isort's order."""
    for i, stmt in enumerate(body):
        small = _single_import(stmt)
        if (
            not isinstance(small, cst.ImportFrom)
            or small.lpar is not None
            or _from_module(small) != module_name
        ):
            continue
        assert isinstance(stmt, cst.SimpleStatementLine)
        assert not isinstance(small.names, cst.ImportStar)
        names = list(small.names)
        keys = [_name_key(alias.evaluated_name) for alias in names]
        at = len(names)
        if keys == sorted(keys):
            at = next((j for j, key in enumerate(keys) if key > _name_key(obj)), len(names))
        comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        alias = cst.ImportAlias(name=cst.Name(obj))
        if at == len(names):
            names[-1] = names[-1].with_changes(comma=comma)
        else:
            alias = alias.with_changes(comma=comma)
        names.insert(at, alias)
        body[i] = stmt.with_changes(body=[small.with_changes(names=names)])
        return True
    return False


# --------------------------------------------------------------------------------------------
# the helper


@functools.lru_cache(maxsize=8)
def helper_donor(newline: str, indent: str) -> tuple[cst.Module, SourceMap]:
    """The helper as a module of its own in the target module's newline and indentation, its
    docstring included, and its SourceMap: its statements are inserted as these very nodes
    (immutable, so one parse serves every module), whose text the rewrite's code generation
    then reuses (``splice_codegen``)."""
    from ssot_codemod.sourcemap import SourceMap

    lines = []
    for line in HELPER_SOURCE.splitlines():
        stripped = line.lstrip(" ")
        lines.append(indent * ((len(line) - len(stripped)) // 4) + stripped)
    module = cst.parse_module(newline.join(lines) + newline)
    source = SourceMap(module)
    # A rewrite's verification compiles what it generated, not these copied statements.
    compile(source.code, "<ssot-codemod helper>", "exec", dont_inherit=True)
    return module, source


def _helper_statements(newline: str, indent: str) -> tuple[Statement, ...]:
    return tuple(helper_donor(newline, indent)[0].body)


def _insert_helper(module: cst.Module) -> cst.Module:
    helper = list(_helper_statements(module.default_newline, module.default_indent))
    body: list[Statement] = list(module.body)
    position = _preamble_end(body)
    if position == 0 and body:
        # Nothing to follow: the file's leading comments stay above the helper.
        helper[0] = helper[0].with_changes(leading_lines=body[0].leading_lines)
        body[0] = body[0].with_changes(leading_lines=())
    elif position:
        helper[0] = helper[0].with_changes(leading_lines=[cst.EmptyLine()])
    if position < len(body):
        _ensure_blank_lines(body, position, 2)  # after a top-level def (black, E305)
    body[position:position] = helper
    return module.with_changes(body=body)


def _preamble_end(body: Sequence[Statement], *, stop_at_code: bool = False) -> int:
    """Index just past the module's preamble (see the module docstring).

    Plain statements between imports (``sys.path.insert(...)``) do not end it, so the helper
    never lands above an import; the first other compound statement (def, class, ``if``) does.
    With *stop_at_code*, the first plain statement ends it too: the first import block, where
    new imports go.
    """
    position = 0
    for i, stmt in enumerate(body):
        if i == 0 and _is_docstring(stmt):
            position = 1
        elif _single_import(stmt) is not None or _is_dunder(stmt) or _is_import_block(stmt):
            position = i + 1
        elif stop_at_code or not isinstance(stmt, cst.SimpleStatementLine):
            break
    return position


def _is_docstring(stmt: cst.CSTNode) -> bool:
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], cst.Expr)
        and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def _is_dunder(stmt: cst.CSTNode) -> bool:
    """``__author__ = ...``, ``__all__: list[str] = [...]``, ``__all__ += [...]``."""
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return False
    small = stmt.body[0]
    if isinstance(small, cst.AugAssign):
        names = {small.target.value} if isinstance(small.target, cst.Name) else set()
    elif isinstance(small, (cst.Assign, cst.AnnAssign)):
        names = _bound_names(small)
    else:
        return False
    return bool(names) and all(n.startswith("__") and n.endswith("__") for n in names)


def _is_import_block(stmt: cst.CSTNode) -> bool:
    """``if TYPE_CHECKING:`` / ``try: import x except ImportError:`` made only of imports (and
    fallback assignments or ``pass`` in the handlers)."""
    if isinstance(stmt, cst.If):
        branches: list[cst.BaseSuite] = [stmt.body]
        orelse = stmt.orelse
        while orelse is not None:
            branches.append(orelse.body)
            orelse = orelse.orelse if isinstance(orelse, cst.If) else None
        return all(_only(branch, assignments=False) for branch in branches)
    if isinstance(stmt, cst.Try):
        return (
            _only(stmt.body, assignments=False)
            and all(_only(handler.body, assignments=True) for handler in stmt.handlers)
            and (stmt.orelse is None or _only(stmt.orelse.body, assignments=True))
            and stmt.finalbody is None
        )
    return False


def _only(suite: cst.BaseSuite, *, assignments: bool) -> bool:
    allowed: tuple[type[cst.CSTNode], ...] = (cst.Import, cst.ImportFrom, cst.Pass)
    if assignments:
        allowed = (*allowed, cst.Assign, cst.AnnAssign)
    statements = suite.body if isinstance(suite, cst.IndentedBlock) else [suite]
    for stmt in statements:
        if isinstance(stmt, cst.SimpleStatementSuite):
            smalls: Sequence[cst.CSTNode] = stmt.body
        elif isinstance(stmt, cst.SimpleStatementLine):
            smalls = stmt.body
        else:
            return False
        if not all(isinstance(small, allowed) for small in smalls):
            return False
    return True
