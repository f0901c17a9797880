"""Shapes several rules need to recognise: methods of a class, and the async-hook bridge call."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import libcst as cst

from ssot_codemod.analysis import ClassInfo, ModuleIndex, class_body
from ssot_codemod.helper_source import HELPER_NAME

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


def iter_methods(info: ClassInfo) -> Iterator[cst.FunctionDef]:
    """Functions defined in the class body, also under class-level ``if``/``try`` blocks."""
    pending: list[cst.CSTNode] = list(class_body(info.node))
    while pending:
        stmt = pending.pop(0)
        if isinstance(stmt, cst.FunctionDef):
            yield stmt
        elif isinstance(stmt, (cst.If, cst.Try)):
            pending.extend(_children_statements(stmt))


def _children_statements(stmt: cst.If | cst.Try) -> list[cst.CSTNode]:
    out: list[cst.CSTNode] = []
    suites: list[cst.BaseSuite] = [stmt.body]
    if isinstance(stmt, cst.If):
        if isinstance(stmt.orelse, cst.If):
            out.append(stmt.orelse)
        elif stmt.orelse is not None:
            suites.append(stmt.orelse.body)
    else:
        suites.extend(h.body for h in stmt.handlers)
        if stmt.orelse is not None:
            suites.append(stmt.orelse.body)
        if stmt.finalbody is not None:
            suites.append(stmt.finalbody.body)
    for suite in suites:
        if isinstance(suite, cst.IndentedBlock):
            out.extend(suite.body)
    return out


def first_param(func: cst.FunctionDef) -> str | None:
    params = [*func.params.posonly_params, *func.params.params]
    return params[0].name.value if params else None


def is_async(func: cst.FunctionDef) -> bool:
    return func.asynchronous is not None


class _CallCollector(cst.CSTVisitor):
    """Calls in a function's own body; nested functions, lambdas and classes are other scopes."""

    def __init__(self) -> None:
        self.calls: list[cst.Call] = []
        self.depth = 0

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self.depth += 1
        return self.depth == 1

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.depth -= 1

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_Call(self, node: cst.Call) -> None:
        self.calls.append(node)


def calls_in(func: cst.FunctionDef) -> list[cst.Call]:
    collector = _CallCollector()
    func.visit(collector)
    return collector.calls


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
    receiver = first_param(func)
    if receiver is None or is_async(func):
        return []
    found = []
    for call in calls_in(func):
        bridge = match_bridge(call, receiver, index)
        if bridge is not None:
            found.append(bridge)
    return found


def source_of(module: cst.Module, node: cst.CSTNode) -> str:
    """Source text of a node on one line, for messages."""
    return " ".join(module.code_for_node(node).split())


def statement_of(func: cst.FunctionDef, call: cst.Call) -> cst.SimpleStatementLine | None:
    """The statement line inside ``func`` that is exactly ``<call>`` as an expression."""
    finder = _ExprStatementFinder(call)
    func.body.visit(finder)
    return finder.found


class _ExprStatementFinder(cst.CSTVisitor):
    def __init__(self, call: cst.Call) -> None:
        self.call = call
        self.found: cst.SimpleStatementLine | None = None

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        if len(node.body) == 1 and isinstance(node.body[0], cst.Expr):
            if node.body[0].value is self.call:
                self.found = node
