"""One module's top-level bindings and classes, from ``ast`` (CPython's fast parser).

The bindings mirror :class:`ssot_codemod.analysis.ModuleIndex` exactly - same qualified
spellings (``pkg.mod.Name``, ``.mod.Name`` for relative imports, ``local:Name``, ``?``) - so the
names a per-file context is keyed by are the names the engine asks about.
"""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass, field

from ssot_codemod.analysis import BUILTIN_OBJECT, LOCAL_PREFIX, UNKNOWN
from ssot_codemod.nesting import LIBCST_SAFE_DEPTH, deeper_than


@dataclass
class ModuleSummary:
    path: str
    bindings: dict[str, set[str]] = field(default_factory=dict)
    star_imports: list[str] = field(default_factory=list)
    # Module-scope classes by name (several when a name is reused), and every class.
    classes: dict[str, list[ast.ClassDef]] = field(default_factory=dict)
    all_classes: list[ast.ClassDef] = field(default_factory=list)
    error: str | None = None
    # Nested deeper than LibCST certainly handles (nesting.LIBCST_SAFE_DEPTH): check's ast
    # path (project.ast_findings) leaves such a file to the engine. The tree itself is not
    # kept: the classes are enough, and a big tree must not sit in memory. Also True when not
    # measured (no ``async`` in the file: nothing for the ast path there).
    deep: bool = True

    def resolve(self, expr: ast.expr, depth: int = 0) -> set[str]:
        """Possible qualified names of an expression (``ModuleIndex.resolve`` over ``ast``)."""
        if depth > 20:
            return {UNKNOWN}
        if isinstance(expr, ast.IfExp):
            return self.resolve(expr.body, depth + 1) | self.resolve(expr.orelse, depth + 1)
        if isinstance(expr, ast.Name):
            bound = self.bindings.get(expr.id)
            if bound is None:
                return {BUILTIN_OBJECT} if expr.id == "object" else {UNKNOWN}
            return set(bound)
        if isinstance(expr, ast.Attribute):
            return {
                UNKNOWN if h == UNKNOWN or h.startswith(LOCAL_PREFIX) else f"{h}.{expr.attr}"
                for h in self.resolve(expr.value, depth + 1)
            }
        return {UNKNOWN}


def summarise(path: str, data: bytes) -> ModuleSummary:
    summary = ModuleSummary(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(data)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        summary.error = f"cannot parse it ({type(exc).__name__})"
        return summary
    # Measured only where the ast path may answer (SSC004 needs an ``async def``): the walk of
    # long headers costs as much as the parse on data-heavy modules.
    summary.deep = b"async" not in data or deeper_than(tree, data, LIBCST_SAFE_DEPTH)
    pending: list[tuple[str, ast.expr]] = []

    def bind(name: str, target: str) -> None:
        summary.bindings.setdefault(name, set()).add(target)

    def index(stmts: list[ast.stmt]) -> None:
        for stmt in stmts:
            if isinstance(stmt, ast.Import):
                for alias in stmt.names:
                    if alias.asname:
                        bind(alias.asname, alias.name)
                    else:
                        head = alias.name.split(".")[0]
                        bind(head, head)
            elif isinstance(stmt, ast.ImportFrom):
                module = "." * stmt.level + (stmt.module or "")
                for alias in stmt.names:
                    if alias.name == "*":
                        summary.star_imports.append(module)
                        continue
                    target = f"{module}.{alias.name}" if module else alias.name
                    if module.endswith("."):  # from . import x
                        target = module + alias.name
                    bind(alias.asname or alias.name, target)
            elif isinstance(stmt, ast.ClassDef):
                bind(stmt.name, LOCAL_PREFIX + stmt.name)
            elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                bind(stmt.name, UNKNOWN)
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for target_expr in targets:
                    if isinstance(target_expr, ast.Name):
                        if stmt.value is not None:
                            pending.append((target_expr.id, stmt.value))
                    else:
                        for sub in ast.walk(target_expr):
                            if isinstance(sub, ast.Name):
                                bind(sub.id, UNKNOWN)
            elif isinstance(stmt, (ast.If, ast.Try, ast.With)) or type(stmt).__name__ == "TryStar":
                index(getattr(stmt, "body", []))
                index(getattr(stmt, "orelse", []))
                index(getattr(stmt, "finalbody", []))
                for handler in getattr(stmt, "handlers", []):
                    index(handler.body)

    index(tree.body)
    for name, value in pending:
        for target in summary.resolve(value):
            bind(name, target)
    _collect_classes(tree.body, summary, module_scope=True)
    # Two module-level classes of one name make the name ambiguous (as in ModuleIndex).
    for name, defs in summary.classes.items():
        if len(defs) > 1:
            bind(name, UNKNOWN)
    return summary


def _collect_classes(stmts: list[ast.stmt], summary: ModuleSummary, *, module_scope: bool) -> None:
    for stmt in stmts:
        if isinstance(stmt, ast.ClassDef):
            summary.all_classes.append(stmt)
            if module_scope:
                summary.classes.setdefault(stmt.name, []).append(stmt)
            _collect_classes(stmt.body, summary, module_scope=False)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            _collect_classes(stmt.body, summary, module_scope=False)
        else:
            for name in ("body", "orelse", "finalbody"):
                inner = getattr(stmt, name, None)
                if isinstance(inner, list):
                    _collect_classes(inner, summary, module_scope=module_scope)
            for handler in getattr(stmt, "handlers", []):
                _collect_classes(handler.body, summary, module_scope=module_scope)
            for case in getattr(stmt, "cases", []):
                _collect_classes(case.body, summary, module_scope=module_scope)
