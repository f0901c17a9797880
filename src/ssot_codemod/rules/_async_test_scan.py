"""An ``ast`` pass that rules out files where SSC004 cannot report anything (its tree gate).

Suites that use ``IsolatedAsyncioTestCase`` are full of ``async def test_*``; parsing each such
file with LibCST only to learn that its classes are async-aware made ``check`` slow on big trees.
``ast`` parses ~10x faster. This keeps a file unless *every* class with an async test
(undecorated, or decorated only with ``pytest.mark.*`` / ``patch``, which leave it a coroutine)
certainly inherits from IsolatedAsyncioTestCase or certainly has a base imported from another
module (which SSC004 only reports on when the project index says so: the api then selects the
rule for the file itself) — so it can only err towards keeping a file.
"""

from __future__ import annotations

import ast

from ssot_codemod.analysis import decorators_transparent
from ssot_codemod.rules._tree_gate import statements

_ASYNC_AWARE = frozenset(
    {"unittest.IsolatedAsyncioTestCase", "unittest.async_case.IsolatedAsyncioTestCase"}
)


def may_have_never_awaited_tests(tree: ast.Module) -> bool:
    """Whether SSC004 may report something in this module, seen alone (no project context)."""
    classes: dict[str, list[ast.ClassDef]] = {}
    bound: dict[str, set[str]] = {}
    for node in statements(tree):
        if isinstance(node, ast.ClassDef):
            classes.setdefault(node.name, []).append(node)  # a name may be reused
        elif isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.split(".")[0]
                bound.setdefault(local, set()).add(alias.name if alias.asname else local)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                bound.setdefault(alias.asname or alias.name, set()).add(
                    f"{node.module}.{alias.name}"
                )
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.NamedExpr)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        bound.setdefault(name.id, set()).add("?")  # an alias: anything
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            bound.setdefault(node.name, set()).add("?")

    names = _ModuleNames(classes, bound)
    for cls in (definition for group in classes.values() for definition in group):
        has_async_test = any(
            isinstance(stmt, ast.AsyncFunctionDef)
            and stmt.name.startswith("test")
            and names.transparent(stmt)
            for stmt in cls.body
        )
        if has_async_test and not names.certainly_excluded(cls, frozenset({cls.name})):
            return True
    return False


class _ModuleNames:
    """What a module's names refer to, as far as its own imports and classes tell. A class,
    not nested functions: a nested function that calls itself is a reference cycle, which kept
    the module's tree alive until the cyclic collector's next pass."""

    def __init__(self, classes: dict[str, list[ast.ClassDef]], bound: dict[str, set[str]]):
        self.classes = classes
        self.bound = bound

    def qualified(self, expr: ast.expr) -> set[str]:
        if isinstance(expr, ast.Name):
            if expr.id in self.classes:
                return {"local:" + expr.id}
            return self.bound.get(expr.id, {"?"})
        if isinstance(expr, ast.Attribute):
            return {
                q + "." + expr.attr if q not in ("?",) and not q.startswith("local:") else "?"
                for q in self.qualified(expr.value)
            }
        return {"?"}

    def certainly_excluded(self, cls: ast.ClassDef, seen: frozenset[str]) -> bool:
        """True when SSC004 cannot report on this class: an async-aware or foreign base."""
        for base in cls.bases:
            names = self.qualified(base)
            if len(names) != 1:
                continue
            (name,) = names
            if name in _ASYNC_AWARE:
                return True
            if name.startswith("local:"):
                parent = name[len("local:") :]
                if parent not in seen and all(
                    self.certainly_excluded(definition, seen | {parent})
                    for definition in self.classes[parent]
                ):
                    return True
            elif name != "?" and not name.startswith("unittest.") and name != "builtins.object":
                return True  # imported from another module: SSC004 reports unknown bases never
        return False

    def transparent(self, stmt: ast.AsyncFunctionDef) -> bool:
        callees = [d.func if isinstance(d, ast.Call) else d for d in stmt.decorator_list]
        return decorators_transparent([self.qualified(c) for c in callees])
