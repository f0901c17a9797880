"""The rules' LibCST visitors, kept apart from the rule modules.

A visitor subclasses a LibCST class, so defining one imports LibCST (~0.3 s). The rule modules
(metadata, prefilters and ``analyze``) must import without it: a run that parses no file never
needs it (``lazy_cst.py``). Each visitor is imported by the function that uses it, which only
runs on a parsed module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from ssot_codemod.rules._common import HOOK_HOSTS
from ssot_codemod.rules.ssc001_bridge import _RUNNER_WORD
from ssot_codemod.rules.ssc002_reentry import _Call
from ssot_codemod.rules.ssc005_isolated_bridge import _VERSION_GATE

if TYPE_CHECKING:
    from ssot_codemod.analysis import ClassInfo, ModuleIndex


# -- SSC001 -----------------------------------------------------------------------------------
class LooseBridgeFinder(cst.CSTVisitor):
    """Calls that run an async hook on a loop, in any scope of a method (nested functions and
    lambdas included): wrapped hooks (``wait_for(self.asyncSetUp(), 5)``), hooks with
    arguments or on ``super()``, keyword arguments, coroutines or hooks held in a local
    (``coro = self.asyncSetUp()``, ``getattr(self, 'asyncTearDown', None)``), runners passed as
    callbacks (``addCleanup(loop.run_until_complete, self.asyncTearDown())``,
    ``functools.partial``) and local helper methods that run what they are given."""

    def __init__(self, index: ModuleIndex, info: ClassInfo, receiver: str) -> None:
        self.index = index
        self.info = info
        self.receiver = receiver
        self.calls: list[cst.Call] = []
        self.aliases: set[str] = set()
        self.nested = 0
        self.nested_calls: set[int] = set()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.nested += 1

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.nested -= 1

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.nested += 1

    def leave_Lambda(self, original_node: cst.Lambda) -> None:
        self.nested -= 1

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_Assign(self, node: cst.Assign) -> None:
        if self._mentions(node.value):
            for target in node.targets:
                if isinstance(target.target, cst.Name):
                    self.aliases.add(target.target.value)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        if isinstance(node.target, cst.Name) and self._mentions(node.value):
            self.aliases.add(node.target.value)

    def visit_Call(self, node: cst.Call) -> None:
        self.calls.append(node)
        if self.nested:
            self.nested_calls.add(id(node))

    def matches(self) -> list[tuple[cst.Call, str]]:
        found: list[tuple[cst.Call, str]] = []
        for call in self.calls:
            if not any(self._mentions(arg.value) for arg in call.args):
                continue
            if self._is_runner(call.func):
                if len(call.args) != 1:
                    continue  # not a call that can work: someone else's API
                shape = (
                    "in a nested function or lambda"
                    if id(call) in self.nested_calls
                    else (
                        "a wrapped hook, a hook with arguments, or a coroutine held in a variable"
                    )
                )
                found.append((call, shape))
            elif any(self._is_runner(arg.value) for arg in call.args):
                found.append((call, "the runner is passed as a callback"))
            elif self._is_running_helper(call.func):
                found.append((call, "through a helper method that runs the coroutine it is given"))
        return found

    def _is_runner(self, func: cst.BaseExpression) -> bool:
        if isinstance(func, cst.Attribute) and func.attr.value == "run_until_complete":
            return True
        name = func.attr.value if isinstance(func, cst.Attribute) else None
        if isinstance(func, cst.Name):
            name = func.value
        return name == "run" and self.index.resolves_to(func, "asyncio.run")

    def _is_running_helper(self, func: cst.BaseExpression) -> bool:
        if not (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name)):
            return False
        helper = self.index.lookup(self.info, func.attr.value).node
        if helper is None or helper.asynchronous is not None:
            return False
        return _RUNNER_WORD.search(self.index.code_for(helper).encode()) is not None

    def _mentions(self, expr: cst.BaseExpression) -> bool:
        finder = HookMention(self.aliases, self.receiver)
        expr.visit(finder)
        return finder.found


class HookMention(cst.CSTVisitor):
    """``recv.asyncSetUp()`` or ``super().asyncSetUp()`` with no arguments (hooks with
    arguments or on other objects are someone else's API), a local holding one, or the hook's
    fetched with ``getattr(self, 'asyncTearDown', None)``."""

    def __init__(self, aliases: set[str], receiver: str) -> None:
        self.aliases = aliases
        self.receiver = receiver
        self.found = False

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if (
            isinstance(func, cst.Name)
            and func.value == "getattr"
            and len(node.args) >= 2
            and isinstance(node.args[0].value, cst.Name)
            and isinstance(node.args[1].value, cst.SimpleString)
            and node.args[1].value.value[1:-1] in HOOK_HOSTS
        ):
            self.found = True
            return
        if node.args or not isinstance(func, cst.Attribute) or func.attr.value not in HOOK_HOSTS:
            return
        owner = func.value
        self.found |= (isinstance(owner, cst.Name) and owner.value == self.receiver) or (
            isinstance(owner, cst.Call)
            and isinstance(owner.func, cst.Name)
            and owner.func.value == "super"
        )

    def visit_Name(self, node: cst.Name) -> None:
        self.found |= node.value in self.aliases


class PytestCheckFinder(cst.CSTVisitor):
    def __init__(self, module: cst.Module) -> None:
        self.module = module
        self.found = False

    def visit_If(self, node: cst.If) -> None:
        if "pytest" in self.module.code_for_node(node.test).lower():
            self.found = True

    def visit_IfExp(self, node: cst.IfExp) -> None:
        if "pytest" in self.module.code_for_node(node.test).lower():
            self.found = True


# -- SSC002 -----------------------------------------------------------------------------------
class SyncCallFinder(cst.CSTVisitor):
    def __init__(self, receiver: str, sync_name: str) -> None:
        self.receiver = receiver
        self.sync_name = sync_name
        self.found: list[_Call] = []
        self.stack: list[cst.CSTNode] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_If(self, node: cst.If) -> None:
        self.stack.append(node)

    def leave_If(self, original_node: cst.If) -> None:
        self.stack.pop()

    def visit_Else(self, node: cst.Else) -> None:
        self.stack.append(node)

    def leave_Else(self, original_node: cst.Else) -> None:
        self.stack.pop()

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        for small in node.body:
            if not isinstance(small, cst.Expr) or not isinstance(small.value, cst.Call):
                continue
            matched = self._match(small.value)
            if matched is not None:
                target, super_from = matched
                self.found.append(_Call(node, small, target, super_from, tuple(self.stack)))

    def _match(self, call: cst.Call) -> tuple[str, str | None] | None:
        func = call.func
        if call.args or not isinstance(func, cst.Attribute) or func.attr.value != self.sync_name:
            return None
        owner = func.value
        if isinstance(owner, cst.Name) and owner.value == self.receiver:
            return "self", None
        if isinstance(owner, cst.Call) and isinstance(owner.func, cst.Name):
            if owner.func.value != "super":
                return None
            if not owner.args:
                return "super", None
            if (
                len(owner.args) == 2
                and isinstance(owner.args[0].value, cst.Name)
                and isinstance(owner.args[1].value, cst.Name)
                and owner.args[1].value.value == self.receiver
            ):
                return "super", owner.args[0].value.value
        return None


# -- SSC005 -----------------------------------------------------------------------------------
class GateFinder(cst.CSTVisitor):
    def __init__(self) -> None:
        self.stack: list[bool] = []
        self.gated: set[int] = set()
        self.module = cst.Module(body=[])

    def visit_If(self, node: cst.If) -> None:
        self.stack.append(bool(_VERSION_GATE.search(self.module.code_for_node(node.test))))

    def leave_If(self, original_node: cst.If) -> None:
        self.stack.pop()

    def visit_Call(self, node: cst.Call) -> None:
        if any(self.stack):
            self.gated.add(id(node))


# -- bridges (_common.py) --------------------------------------------------------------------
class CallCollector(cst.CSTVisitor):
    """Calls in a function's own body; nested functions, lambdas and classes are other scopes."""

    def __init__(self) -> None:
        self.calls: list[cst.Call] = []
        self.lines: list[cst.SimpleStatementLine | None] = []  # the line each call is on
        self.line: cst.SimpleStatementLine | None = None
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
        self.lines.append(self.line)
