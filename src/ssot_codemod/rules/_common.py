"""Shapes several rules need to recognise: methods of a class, and the async-hook bridge call."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Literal

from ssot_codemod.analysis import (
    ClassInfo,
    ModuleIndex,
    block_statements,
    child_statements,
    class_body,
)
from ssot_codemod.helper_source import HELPER_NAME
from ssot_codemod.lazy_cst import cst

# The async hooks a bridge runs, and the sync method that is supposed to run each one.
HOOK_HOSTS = {
    "asyncSetUp": ("setUp", "setup_method"),
    "asyncTearDown": ("tearDown", "teardown_method"),
    "asyncSetUpClass": ("setUpClass", "setup_class"),
    "asyncTearDownClass": ("tearDownClass", "teardown_class"),
}
HOST_METHODS = frozenset(host for hosts in HOOK_HOSTS.values() for host in hosts)
# unittest's own machinery; a bridge here is a test runner (e.g. an IsolatedAsyncioTestCase
# backport driving the hooks), not the bug.
RUNNER_METHODS = frozenset(
    {"run", "debug", "__call__", "_callSetUp", "_callTearDown", "_callTestMethod"}
)


@dataclass(frozen=True)
class Bridge:
    call: cst.Call  # the whole bridging call
    hook_call: cst.Call  # recv.asyncSetUp()
    hook: str
    loop: cst.BaseExpression | None  # None for asyncio.run
    kind: Literal["run_until_complete", "asyncio.run", "rewritten"]
    # The statement line that is exactly this call, when it is used as a statement.
    statement: cst.SimpleStatementLine | None = None


def iter_methods(info: ClassInfo) -> Iterator[cst.FunctionDef]:
    """Functions defined in the class body, also under class-level ``if``/``try`` blocks."""
    pending: list[cst.CSTNode] = list(class_body(info.node))
    while pending:
        stmt = pending.pop(0)
        if isinstance(stmt, cst.FunctionDef):
            yield stmt
        elif isinstance(stmt, (cst.If, cst.Try)):
            pending.extend(child_statements(stmt))


def has_async_runner_twin(index: ModuleIndex, info: ClassInfo) -> bool:
    """Another module-level class of the same name runs the async hooks itself: this one is
    the fallback of a version gate (``if sys.version_info >= (3, 8): class T(Isolated...)``
    ``else: class T(TestCase)``), dead on the Pythons the rewrite targets."""
    return info.module_scope and any(
        other is not info
        and other.module_scope
        and other.name == info.name
        and index.facts(other).runs_async_hooks
        for other in index.classes.values()
    )


def first_param(func: cst.FunctionDef) -> str | None:
    params = [*func.params.posonly_params, *func.params.params]
    return params[0].name.value if params else None


def is_async(func: cst.FunctionDef) -> bool:
    return func.asynchronous is not None


def _calls_mentioning_hooks(
    func: cst.FunctionDef, index: ModuleIndex
) -> list[tuple[cst.Call, cst.SimpleStatementLine | None]]:
    """Calls in the function's own scope, visiting only statements whose text names a hook.

    Walking statements and generating their text is far cheaper than visiting every expression
    of every method, and a bridge call always names its hook literally.
    """
    from ssot_codemod.rules._visitors import CallCollector  # LibCST: parsed files only

    collector = CallCollector()
    collector.depth = 1  # already inside the function: nested defs are other scopes
    pending: list[cst.CSTNode] = list(block_statements(func.body))
    while pending:
        stmt = pending.pop(0)
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            continue
        if not any(hook in index.code_for(stmt) for hook in HOOK_HOSTS):
            continue
        if isinstance(stmt, cst.SimpleStatementLine):
            collector.line = stmt
            stmt.visit(collector)
            continue
        collector.line = None
        for header in _header_expressions(stmt):
            header.visit(collector)
        pending.extend(child_statements(stmt))
    return list(zip(collector.calls, collector.lines))


def _header_expressions(stmt: cst.CSTNode) -> list[cst.CSTNode]:
    if isinstance(stmt, (cst.If, cst.While)):
        return [stmt.test]
    if isinstance(stmt, cst.For):
        return [stmt.target, stmt.iter]
    if isinstance(stmt, cst.With):
        return list(stmt.items)
    if isinstance(stmt, cst.Match):
        return [stmt.subject]
    return []


def hook_call(expr: cst.BaseExpression, receiver: str) -> tuple[cst.Call, str] | None:
    """``receiver.asyncSetUp()`` (or another hook) with no arguments."""
    if (
        isinstance(expr, cst.Call)
        and not expr.args
        and isinstance(expr.func, cst.Attribute)
        and isinstance(expr.func.value, cst.Name)
        and expr.func.value.value == receiver
        and expr.func.attr.value in HOOK_HOSTS
    ):
        return expr, expr.func.attr.value
    return None


def _single_positional(call: cst.Call) -> cst.BaseExpression | None:
    if len(call.args) == 1 and call.args[0].keyword is None and not call.args[0].star:
        return call.args[0].value
    return None


def match_bridge(call: cst.Call, receiver: str, index: ModuleIndex) -> Bridge | None:
    """Recognise ``<loop>.run_until_complete(recv.hook())``, ``asyncio.run(recv.hook())`` and
    the already rewritten ``run_coroutine_sync(recv.hook(), ...)``."""
    func = call.func
    if isinstance(func, cst.Attribute) and func.attr.value == "run_until_complete":
        arg = _single_positional(call)
        found = hook_call(arg, receiver) if arg is not None else None
        if found:
            return Bridge(call, found[0], found[1], func.value, "run_until_complete")
        return None
    if isinstance(func, cst.Name) and func.value == HELPER_NAME and call.args:
        found = hook_call(call.args[0].value, receiver)
        if found:
            loop = call.args[1].value if len(call.args) > 1 else None
            return Bridge(call, found[0], found[1], loop, "rewritten")
        return None
    if isinstance(func, (cst.Name, cst.Attribute)) and index.resolves_to(func, "asyncio.run"):
        arg = _single_positional(call)
        found = hook_call(arg, receiver) if arg is not None else None
        if found:
            return Bridge(call, found[0], found[1], None, "asyncio.run")
    return None


def bridges_in(func: cst.FunctionDef, index: ModuleIndex) -> list[Bridge]:
    """Bridges in a sync method's own body (memoised: several rules ask about the same one)."""
    key = ("bridges", id(func))
    cached = index.memo.get(key)
    if not isinstance(cached, list):
        cached = _find_bridges(func, index)
        index.memo[key] = cached
    return cached


def _find_bridges(func: cst.FunctionDef, index: ModuleIndex) -> list[Bridge]:
    receiver = first_param(func)
    if receiver is None or is_async(func):
        return []
    # A search in the method's text is several times cheaper than visiting its expressions.
    if not index.mentions(func, HOOK_HOSTS):
        return []
    found = []
    for call, line in _calls_mentioning_hooks(func, index):
        bridge = match_bridge(call, receiver, index)
        if bridge is not None:
            if (
                line is not None
                and len(line.body) == 1
                and isinstance(line.body[0], cst.Expr)
                and line.body[0].value is call
            ):
                bridge = replace(bridge, statement=line)
            found.append(bridge)
    return found


def source_of(index: ModuleIndex, node: cst.CSTNode) -> str:
    """Source text of a node on one line, for messages. Its text in the module (recorded once)
    differs from its own code generation only in the indentation of the lines of blocks in
    it, which this collapses like any other whitespace (and, for an ``If`` that is an
    ``elif``, in that keyword; tests/test_sourcemap.py checks every node)."""
    return " ".join(index.code_for(node).split())


def built_source_of(index: ModuleIndex, node: cst.CSTNode) -> str:
    """:func:`source_of` for a node a rule built (not in the module: its own code generation,
    without looking for it among the module's)."""
    return " ".join(index.module.code_for_node(node).split())


_LOOP_FACTORIES = ("asyncio.get_event_loop", "asyncio.new_event_loop")


def unused_loop_locals(
    index: ModuleIndex, func: cst.FunctionDef, bridges: list[Bridge]
) -> list[cst.SimpleStatementLine]:
    """``loop = asyncio.get_event_loop()`` lines whose local only fed the deleted bridges
    (left behind, they would be an unused variable)."""
    names = {b.loop.value for b in bridges if isinstance(b.loop, cst.Name)}
    found: list[cst.SimpleStatementLine] = []
    text = index.code_for(func)
    for stmt in block_statements(func.body):
        if not (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1):
            continue
        small = stmt.body[0]
        if not (
            isinstance(small, cst.Assign)
            and len(small.targets) == 1
            and isinstance(small.targets[0].target, cst.Name)
            and small.targets[0].target.value in names
            and isinstance(small.value, cst.Call)
            and not small.value.args
            and index.resolve(small.value.func) & set(_LOOP_FACTORIES)
        ):
            continue
        name = small.targets[0].target.value
        uses = len(re.findall(rf"\b{re.escape(name)}\b", text))
        if uses == 1 + sum(
            1 for b in bridges if isinstance(b.loop, cst.Name) and b.loop.value == name
        ):
            found.append(stmt)
    return found
