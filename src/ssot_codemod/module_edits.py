"""Module-level edits a rewrite needs: the helper's definition and the imports it relies on.

Kept apart from the engine because it is plain LibCST statement surgery with no rule logic: where
the leading import block ends, where ``import x`` goes so the block stays sorted, how to extend an
existing ``from m import a``, and where the helper is inserted.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Union

import libcst as cst

from ssot_codemod.helper_source import HELPER_IMPORTS, HELPER_NAME, HELPER_SOURCE
from ssot_codemod.rules.base import Plan

# What LibCST's Module.body really holds (its annotation says BaseStatement).
Statement = Union[cst.SimpleStatementLine, cst.BaseCompoundStatement]


def add_helper_and_imports(module: cst.Module, plan: Plan, helper_module: str | None) -> cst.Module:
    imports: list[tuple[str, str | None]] = sorted(plan.imports, key=str)
    if plan.needs_helper and not _defines_top_level(module, HELPER_NAME):
        if helper_module:
            imports.append((helper_module, HELPER_NAME))
        else:
            module = _insert_helper(module)
            imports.extend((name, None) for name in HELPER_IMPORTS)
    return ensure_imports(module, imports)


def ensure_imports(module: cst.Module, imports: Sequence[tuple[str, str | None]]) -> cst.Module:
    """Add ``import M`` / ``from M import O`` lines that the module lacks, after its last
    leading import.

    This is what LibCST's AddImportsVisitor does in spirit, but constructing that
    matcher-based visitor costs ~20 ms per file (more than parsing a typical test module), so
    rewritten files would pay for it once per file; the cases we need are only these two forms.
    """
    present: set[tuple[str, str | None]] = set()
    for stmt in module.body:
        if not isinstance(stmt, cst.SimpleStatementLine):
            continue
        for small in stmt.body:
            if isinstance(small, cst.Import):
                present.update(
                    (alias.evaluated_name, None) for alias in small.names if alias.asname is None
                )
            elif (
                isinstance(small, cst.ImportFrom)
                and small.module is not None
                and not small.relative
                and not isinstance(small.names, cst.ImportStar)
            ):
                source = cst.Module([]).code_for_node(small.module)
                present.update(
                    (source, alias.evaluated_name) for alias in small.names if alias.asname is None
                )
    missing = [item for item in dict.fromkeys(imports) if item not in present]
    if not missing:
        return module
    body: list[Statement] = list(module.body)
    for mod, obj in [item for item in missing if item[1] is not None]:
        merged = _merge_from_import(body, mod, obj)
        if merged:
            missing.remove((mod, obj))
    # Plain ``import x`` lines go where isort would put them: in alphabetical order among the
    # file's leading run of plain imports (the standard-library block, usually).
    for mod, obj in [item for item in missing if item[1] is None]:
        slot = _sorted_plain_import_slot(body, mod)
        if slot is not None:
            new = _statement(f"import {mod}")
            assert isinstance(new, cst.SimpleStatementLine)
            following = body[slot] if slot < len(body) else None
            if following is not None and slot == _after_docstring(body):
                # Comments above the first import stay above the block.
                new = new.with_changes(leading_lines=following.leading_lines)
                body[slot] = following.with_changes(leading_lines=())
            body.insert(slot, new)
            missing.remove((mod, obj))
    new_lines = [
        _statement(f"from {mod} import {obj}" if obj else f"import {mod}") for mod, obj in missing
    ]
    if not new_lines:
        return module.with_changes(body=body)
    position = _after_leading_imports(body)
    if position == 0 and body:
        # No import block: keep the new imports below the file's leading comments.
        first = body[0]
        new_lines[0] = new_lines[0].with_changes(leading_lines=first.leading_lines)
        body[0] = first.with_changes(leading_lines=())
    body[position:position] = new_lines
    return module.with_changes(body=body)


def _after_docstring(body: Sequence[Statement]) -> int:
    return (
        1
        if body
        and _is_import_or_docstring(body[0], first=True)
        and not (
            isinstance(body[0], cst.SimpleStatementLine)
            and isinstance(body[0].body[0], (cst.Import, cst.ImportFrom))
        )
        else 0
    )


@functools.lru_cache(maxsize=64)
def _statement(code: str) -> cst.SimpleStatementLine:
    """A parsed one-line statement; nodes are immutable, so one parse serves every file."""
    statement = cst.parse_statement(code)
    assert isinstance(statement, cst.SimpleStatementLine)
    return statement


def _sorted_plain_import_slot(body: Sequence[Statement], name: str) -> int | None:
    """Index at which ``import name`` keeps the first run of plain imports sorted, or None
    when the module opens without such a run."""
    run: list[tuple[int, str]] = []
    for i, stmt in enumerate(body[: _after_leading_imports(body)]):
        plain = (
            isinstance(stmt, cst.SimpleStatementLine)
            and len(stmt.body) == 1
            and isinstance(stmt.body[0], cst.Import)
            and len(stmt.body[0].names) == 1
        )
        if plain:
            assert isinstance(stmt, cst.SimpleStatementLine)
            imported = stmt.body[0]
            assert isinstance(imported, cst.Import)
            run.append((i, imported.names[0].evaluated_name))
        elif run:
            break
    if not run:
        return None
    for i, existing in run:
        if existing.lower() > name.lower():
            return i
    return run[-1][0] + 1


def _merge_from_import(body: list[Statement], module_name: str, obj: str | None) -> bool:
    """Add ``obj`` to an existing single-line ``from module_name import ...``, in place."""
    for i, stmt in enumerate(body):
        if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
            continue
        small = stmt.body[0]
        if (
            isinstance(small, cst.ImportFrom)
            and small.module is not None
            and not small.relative
            and small.lpar is None
            and not isinstance(small.names, cst.ImportStar)
            and cst.Module([]).code_for_node(small.module) == module_name
            and obj is not None
        ):
            names = list(small.names)
            names[-1] = names[-1].with_changes(
                comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
            )
            names.append(cst.ImportAlias(name=cst.Name(obj)))
            body[i] = stmt.with_changes(body=[small.with_changes(names=names)])
            return True
    return False


def _defines_top_level(module: cst.Module, name: str) -> bool:
    for stmt in module.body:
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)) and stmt.name.value == name:
            return True
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, cst.ImportFrom) and not isinstance(
                    small.names, cst.ImportStar
                ):
                    for alias in small.names:
                        bound = alias.evaluated_alias or alias.evaluated_name
                        if bound == name:
                            return True
    return False


@functools.lru_cache(maxsize=4)
def _helper_statements(newline: str) -> tuple[Statement, ...]:
    """The helper's statements, with the target module's newline inside its docstring too
    (nodes are immutable, so one parse serves every module)."""
    return tuple(cst.parse_module(HELPER_SOURCE.replace("\n", newline)).body)


def _insert_helper(module: cst.Module) -> cst.Module:
    helper_body: list[Statement] = list(_helper_statements(module.default_newline))
    two_blank = [cst.EmptyLine(), cst.EmptyLine()]
    helper_body[0] = helper_body[0].with_changes(leading_lines=two_blank)

    body: list[Statement] = list(module.body)
    position = _after_leading_imports(body)
    if position < len(body):
        following = body[position]
        blanks = 0
        for line in following.leading_lines:
            if line.comment is not None:
                break
            blanks += 1
        if blanks < 2:
            missing = [cst.EmptyLine()] * (2 - blanks)
            body[position] = following.with_changes(
                leading_lines=[*missing, *following.leading_lines]
            )
    elif position == 0:
        helper_body[0] = helper_body[0].with_changes(leading_lines=())
    body[position:position] = helper_body
    return module.with_changes(body=body)


def _after_leading_imports(body: Sequence[Statement]) -> int:
    """Index just past the module docstring and the import block that opens the module."""
    position = 0
    for i, stmt in enumerate(body):
        if not _is_import_or_docstring(stmt, first=i == 0):
            break
        position = i + 1
    return position


def _is_import_or_docstring(stmt: cst.CSTNode, *, first: bool) -> bool:
    if not isinstance(stmt, cst.SimpleStatementLine):
        return False
    if all(isinstance(small, (cst.Import, cst.ImportFrom)) for small in stmt.body):
        return True
    return (
        first
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], cst.Expr)
        and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )
