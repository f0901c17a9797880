"""One module's top-level bindings and classes, from ``ast`` (CPython's fast parser).

The bindings mirror :class:`ssot_codemod.analysis.ModuleIndex` exactly - same qualified
spellings (``pkg.mod.Name``, ``.mod.Name`` for relative imports, ``local:Name``, ``?``) - so the
names a per-file context is keyed by are the names the engine asks about.

A summary is plain data (tuples, strings, numbers: no ``ast`` nodes), everything the project
index and check's ast path (:mod:`ssot_codemod.project.ast_findings`) read of a module, worked
out from the module alone. So it can be made where the bytes are read - in the first pass's
pool workers on big trees (:mod:`ssot_codemod.screening`) - and sent back cheaply: unpickling
``ast`` nodes cost as much as parsing again. The index then only resolves names across files.
"""

from __future__ import annotations

import ast
import re
import warnings
from dataclasses import dataclass, field
from typing import NamedTuple

from ssot_codemod.analysis import (
    BUILTIN_OBJECT,
    LOCAL_PREFIX,
    UNKNOWN,
    decorators_transparent,
    depends_on_class_ast,
    normalized_ast_function,
)
from ssot_codemod.nesting import LIBCST_SAFE_DEPTH, deeper_than
from ssot_codemod.project.context import MethodSummary
from ssot_codemod.rules._tree_gate import NO_BLOCKS
from ssot_codemod.rules.ssc002_reentry import SYNC_FOR_HOOK, reentry_gate

# Methods whose bodies other files' rules ask about (hooks, their twins, the runner).
SUMMARISED = frozenset(
    {
        "setUp",
        "tearDown",
        "setUpClass",
        "tearDownClass",
        "asyncSetUp",
        "asyncTearDown",
        "setup_method",
        "teardown_method",
    }
)
_HOOKS = frozenset({"asyncSetUp", "asyncTearDown", "asyncSetUpClass", "asyncTearDownClass"})
_VERSION_GATE = re.compile(r"version|PY\w*\d|PYTHON", re.IGNORECASE)


class AsyncTest(NamedTuple):
    """An ``async def test...`` in a class body (where check's ast path reports it)."""

    name: str
    line: int
    column: int  # col_offset of the definition (``async``), 0-based
    end_line: int | None
    transparent: bool  # every decorator is one the tool sees through (analysis)


class SyncCall(NamedTuple):
    """A statement ``super().setUp()`` or ``<receiver>.setUp()`` (``tearDown`` in
    ``asyncTearDown``) in an ``async def asyncSetUp`` of a class body: what SSC002 reports,
    for check's ast path (:func:`~ssot_codemod.project.ast_findings.ssc002_findings`)."""

    hook: str  # asyncSetUp or asyncTearDown
    # "self", "super" (``super()``), or "other": a shape the ast path leaves to the engine
    # (``super(Cls, self)``, a parenthesised statement)
    target: str
    line: int
    column: int  # col_offset of the call (0-based, bytes)
    end_line: int
    end_column: int
    # Reached through blocks' bodies only (if, for, while, with, try, match): no
    # else/elif branch (SSC002's else-branch case, left to the engine).
    plain: bool


class Base(NamedTuple):
    """One expression in a class's bases."""

    names: frozenset[str]  # ModuleSummary.resolve of it: its possible qualified names
    ident: str | None  # the name, when it is a plain name (``Base``)
    # For ``x.TestCase``: the possible names of ``x``; None when it is not an attribute.
    owner: frozenset[str] | None


class ClassSummary(NamedTuple):
    """A class statement, as far as the index and SSC004's ast path read it."""

    name: str
    line: int
    module_level: bool
    bases: tuple[Base, ...]
    has_metaclass: bool
    method_names: tuple[str, ...]  # sorted, unique (functions of the body)
    async_tests: tuple[AsyncTest, ...]  # in body order, every ``async def test*``
    matters: bool  # defines a hook (or a twin's name) or an async test (see index.unresolved)
    # The bases' source text (``ast.unparse``) and the summaries of the hooks it defines (the
    # last definition of each SUMMARISED name, by name).
    texts: tuple[str, ...]
    hooks: tuple[MethodSummary, ...]
    # The sync hook calls in its async hooks (the last definition of each, when async).
    sync_calls: tuple[SyncCall, ...] = ()

    def base_texts(self) -> tuple[str, ...]:
        return self.texts

    def hook_summaries(self) -> tuple[MethodSummary, ...]:
        return self.hooks


@dataclass
class ModuleSummary:
    path: str
    bindings: dict[str, set[str]] = field(default_factory=dict)
    star_imports: list[str] = field(default_factory=list)
    # Module-scope classes by name (several when a name is reused), and every class.
    classes: dict[str, list[ClassSummary]] = field(default_factory=dict)
    all_classes: list[ClassSummary] = field(default_factory=list)
    error: str | None = None
    # Nested deeper than LibCST certainly handles (nesting.LIBCST_SAFE_DEPTH): check's ast
    # path (project.ast_findings) leaves such a file to the engine. Also True when not
    # measured (no ``async`` in the file: nothing for the ast path there).
    deep: bool = True
    # SSC002's tree gate (``ReentryRule.could_match_tree``) passes: some ``async def
    # asyncSetUp``/``asyncTearDown`` calls ``<x>.setUp``/``<x>.tearDown``.
    reentry_gate: bool = False

    def bind(self, name: str, target: str) -> None:
        self.bindings.setdefault(name, set()).add(target)

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
    return summarise_with_tree(path, data)[0]


def summarise_with_tree(path: str, data: bytes) -> tuple[ModuleSummary, ast.Module | None]:
    """:func:`summarise`, and the ``ast`` tree of *data* it was made from (None when *data*
    does not parse): the first pass reads the tree for the engine too (``engine.tree_verdict``).
    Nothing here changes the tree."""
    summary = ModuleSummary(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(data)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        summary.error = f"cannot parse it ({type(exc).__name__})"
        return summary, None
    # Measured only where the ast path may answer (SSC004 needs an ``async def``): the walk of
    # long headers costs as much as the parse on data-heavy modules.
    summary.deep = b"async" not in data or deeper_than(tree, data, LIBCST_SAFE_DEPTH)
    if b"asyncSetUp" in data or b"asyncTearDown" in data:
        summary.reentry_gate = reentry_gate(tree)
    pending: list[tuple[str, ast.expr]] = []
    _index_bindings(tree.body, summary, pending)
    for name, value in pending:
        for target in summary.resolve(value):
            summary.bind(name, target)
    found: list[tuple[ast.ClassDef, bool]] = []
    _collect_classes(tree.body, found, module_scope=True)
    # Two module-level classes of one name make the name ambiguous (as in ModuleIndex).
    counts: dict[str, int] = {}
    for node, module_level in found:
        if module_level:
            counts[node.name] = counts.get(node.name, 0) + 1
    for name, count in counts.items():
        if count > 1:
            summary.bind(name, UNKNOWN)
    # Summarised once the bindings are final (bases and decorators are resolved with them).
    try:
        classes = [(_class_summary(summary, node, level), level) for node, level in found]
    except (RecursionError, MemoryError) as exc:
        # A base or hook nested too deep to turn back into text (``ast.unparse`` recurses):
        # the module is one the index cannot read, like one it cannot parse; the engine
        # reports the file itself.
        return ModuleSummary(path, error=f"cannot summarise it ({type(exc).__name__})"), tree
    for cls, module_level in classes:
        summary.all_classes.append(cls)
        if module_level:
            summary.classes.setdefault(cls.name, []).append(cls)
    return summary, tree


def _collect_classes(
    stmts: list[ast.stmt], found: list[tuple[ast.ClassDef, bool]], *, module_scope: bool
) -> None:
    """Every class statement (and whether it is at module scope), in source order."""
    for stmt in stmts:
        if type(stmt) in NO_BLOCKS:  # most statements: nothing below to look at
            continue
        if isinstance(stmt, ast.ClassDef):
            found.append((stmt, module_scope))
            _collect_classes(stmt.body, found, module_scope=False)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            _collect_classes(stmt.body, found, module_scope=False)
        else:
            for name in ("body", "orelse", "finalbody"):
                inner = getattr(stmt, name, None)
                if isinstance(inner, list):
                    _collect_classes(inner, found, module_scope=module_scope)
            for handler in getattr(stmt, "handlers", []):
                _collect_classes(handler.body, found, module_scope=module_scope)
            for case in getattr(stmt, "cases", []):
                _collect_classes(case.body, found, module_scope=module_scope)


def _class_summary(summary: ModuleSummary, cls: ast.ClassDef, module_level: bool) -> ClassSummary:
    methods = _methods(cls)
    bases = tuple(
        Base(
            frozenset(summary.resolve(base)),
            base.id if isinstance(base, ast.Name) else None,
            frozenset(summary.resolve(base.value)) if isinstance(base, ast.Attribute) else None,
        )
        for base in cls.bases
    )
    tests = tuple(
        AsyncTest(
            stmt.name,
            stmt.lineno,
            stmt.col_offset,
            stmt.end_lineno,
            decorators_transparent(
                [
                    summary.resolve(d.func if isinstance(d, ast.Call) else d)
                    for d in stmt.decorator_list
                ]
            ),
        )
        for stmt in cls.body
        if isinstance(stmt, ast.AsyncFunctionDef) and stmt.name.startswith("test")
    )
    texts = tuple(ast.unparse(base) for base in cls.bases)
    hooks = tuple(
        _summarise_method(summary, func)
        for name, func in sorted(methods.items())
        if name in SUMMARISED
    )
    return ClassSummary(
        name=cls.name,
        line=cls.lineno,
        module_level=module_level,
        bases=bases,
        has_metaclass=any(kw.arg == "metaclass" for kw in cls.keywords),
        method_names=tuple(sorted(methods)),
        async_tests=tests,
        matters=bool(tests) or any(name in SUMMARISED for name in methods),
        texts=texts,
        hooks=hooks,
        sync_calls=tuple(
            call
            for hook in SYNC_FOR_HOOK
            if isinstance(methods.get(hook), ast.AsyncFunctionDef)
            for call in _sync_calls(methods[hook])
        ),
    )


# Module-level, never nested in summarise_with_tree: a nested function that calls itself is a
# reference cycle, which kept each module's tree alive until the cyclic collector's next pass.
def _index_bindings(
    stmts: list[ast.stmt], summary: ModuleSummary, pending: list[tuple[str, ast.expr]]
) -> None:
    for stmt in stmts:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname:
                    summary.bind(alias.asname, alias.name)
                else:
                    head = alias.name.split(".")[0]
                    summary.bind(head, head)
        elif isinstance(stmt, ast.ImportFrom):
            module = "." * stmt.level + (stmt.module or "")
            for alias in stmt.names:
                if alias.name == "*":
                    summary.star_imports.append(module)
                    continue
                target = f"{module}.{alias.name}" if module else alias.name
                if module.endswith("."):  # from . import x
                    target = module + alias.name
                summary.bind(alias.asname or alias.name, target)
        elif isinstance(stmt, ast.ClassDef):
            summary.bind(stmt.name, LOCAL_PREFIX + stmt.name)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            summary.bind(stmt.name, UNKNOWN)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target_expr in targets:
                if isinstance(target_expr, ast.Name):
                    if stmt.value is not None:
                        pending.append((target_expr.id, stmt.value))
                else:
                    for sub in ast.walk(target_expr):
                        if isinstance(sub, ast.Name):
                            summary.bind(sub.id, UNKNOWN)
        elif isinstance(stmt, (ast.If, ast.Try, ast.With)) or type(stmt).__name__ == "TryStar":
            _index_bindings(getattr(stmt, "body", []), summary, pending)
            _index_bindings(getattr(stmt, "orelse", []), summary, pending)
            _index_bindings(getattr(stmt, "finalbody", []), summary, pending)
            for handler in getattr(stmt, "handlers", []):
                _index_bindings(handler.body, summary, pending)


def _sync_calls(func: ast.FunctionDef | ast.AsyncFunctionDef) -> list[SyncCall]:
    """``SyncCallFinder`` over ``ast``: the expression statements that call the hook's sync
    twin on the receiver or ``super(...)``, in the function's own scope."""
    params = [*func.args.posonlyargs, *func.args.args]
    if not params:
        return []  # the rule skips a hook without a receiver
    found: list[SyncCall] = []
    _walk_sync_calls(func.body, True, (func.name, params[0].arg, SYNC_FOR_HOOK[func.name]), found)
    return found


def _walk_sync_calls(
    stmts: list[ast.stmt], plain: bool, names: tuple[str, str, str], found: list[SyncCall]
) -> None:
    """:func:`_sync_calls`' walk; *names*: the hook, the receiver, the sync twin's name."""
    hook, receiver, sync_name = names
    for stmt in stmts:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue  # other scopes: the finder does not enter them
        if isinstance(stmt, ast.Expr):
            target = _sync_target(stmt.value, receiver, sync_name)
            if target is not None:
                call = stmt.value
                same = (stmt.lineno, stmt.col_offset, stmt.end_lineno, stmt.end_col_offset)
                if same != (call.lineno, call.col_offset, call.end_lineno, call.end_col_offset):
                    target = "other"  # parenthesised: the statement's text is not the call's
                found.append(
                    SyncCall(
                        hook,
                        target,
                        call.lineno,
                        call.col_offset,
                        call.end_lineno or call.lineno,
                        call.end_col_offset or 0,
                        plain,
                    )
                )
            continue
        cases = getattr(stmt, "cases", None)  # ``match`` (3.10+; no ast.Match on 3.9)
        if isinstance(cases, list):
            for case in cases:
                _walk_sync_calls(case.body, plain, names, found)
            continue
        for name in ("body", "finalbody"):
            inner = getattr(stmt, name, None)
            if isinstance(inner, list):
                _walk_sync_calls(inner, plain, names, found)
        for handler in getattr(stmt, "handlers", ()):
            _walk_sync_calls(handler.body, plain, names, found)
        orelse = getattr(stmt, "orelse", None)
        if isinstance(orelse, list):
            _walk_sync_calls(orelse, False, names, found)


def _sync_target(expr: ast.expr, receiver: str, sync_name: str) -> str | None:
    """``SyncCallFinder._match``: "self", "super", "other" for ``super(...)`` with arguments
    (left to the engine), None for a call the rule does not report."""
    if not isinstance(expr, ast.Call) or expr.args or expr.keywords:
        return None
    func = expr.func
    if not isinstance(func, ast.Attribute) or func.attr != sync_name:
        return None
    owner = func.value
    if isinstance(owner, ast.Name) and owner.id == receiver:
        return "self"
    if isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name):
        if owner.func.id != "super":
            return None
        return "super" if not owner.args and not owner.keywords else "other"
    return None


def _methods(cls: ast.ClassDef) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    """The definition of each method that exists at runtime (the last one in the body)."""
    out: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for stmt in cls.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out[stmt.name] = stmt
    return out


def _summarise_method(
    module: ModuleSummary, func: ast.FunctionDef | ast.AsyncFunctionDef
) -> MethodSummary:
    is_async = isinstance(func, ast.AsyncFunctionDef)
    params = [*func.args.posonlyargs, *func.args.args]
    receiver = params[0].arg if params else None
    bridges: list[str] = []
    gated_all = True
    calls_super = False
    pending: list[tuple[ast.AST, bool]] = [(stmt, False) for stmt in func.body]
    while pending:
        node, gated = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, ast.If) and _VERSION_GATE.search(ast.unparse(node.test)):
            gated = True
        if isinstance(node, ast.Call):
            hook = _bridged_hook(module, node, receiver) if not is_async else None
            if hook is not None:
                bridges.append(hook)
                gated_all &= gated
            f = node.func
            if (
                isinstance(f, ast.Attribute)
                and f.attr == func.name
                and isinstance(f.value, ast.Call)
                and isinstance(f.value.func, ast.Name)
                and f.value.func.id == "super"
            ):
                calls_super = True
        pending.extend((child, gated) for child in ast.iter_child_nodes(node))
    return MethodSummary(
        name=func.name,
        is_async=is_async,
        key=normalized_ast_function(func),
        bridges=tuple(sorted(set(bridges))),
        gated=bool(bridges) and gated_all,
        calls_super=calls_super,
        depends=depends_on_class_ast(func),
    )


def _bridged_hook(module: ModuleSummary, call: ast.Call, receiver: str | None) -> str | None:
    """``loop.run_until_complete(self.asyncSetUp())``, ``asyncio.run(...)`` or the rewritten
    ``run_coroutine_sync(self.asyncSetUp(), loop)``: the hook it runs."""
    if receiver is None or not call.args:
        return None
    arg = call.args[0]
    if not (
        isinstance(arg, ast.Call)
        and not arg.args
        and isinstance(arg.func, ast.Attribute)
        and arg.func.attr in _HOOKS
        and isinstance(arg.func.value, ast.Name)
        and arg.func.value.id == receiver
    ):
        return None
    f = call.func
    if isinstance(f, ast.Attribute) and f.attr == "run_until_complete":
        return arg.func.attr
    if isinstance(f, ast.Name) and f.id == "run_coroutine_sync":
        return arg.func.attr
    if module.resolve(f) == {"asyncio.run"}:
        return arg.func.attr
    return None
