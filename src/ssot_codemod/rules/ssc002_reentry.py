"""SSC002: ``super().setUp()`` called from ``async def asyncSetUp`` (and the tearDown mirror)."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from ssot_codemod.analysis import (
    LOCAL_PREFIX,
    UNKNOWN,
    ClassInfo,
    InheritedMethod,
    ModuleIndex,
)
from ssot_codemod.lazy_cst import cst
from ssot_codemod.rules._common import bridges_in, first_param, is_async, source_of
from ssot_codemod.rules._tree_gate import calls_attribute, found_inside
from ssot_codemod.rules.base import Plan, Rule
from ssot_codemod.types import FixSafety

if TYPE_CHECKING:
    from ssot_codemod.project.context import ExternalClass, ProjectContext

# Linear by construction (docs/architecture.md, "Linear-time gates"): each starts at a literal
# and alternates between disjoint classes (`\s` / a literal / `\s` ...).
_ASYNC_HOOK_DEF = re.compile(rb"async\s+def\s+async(?:SetUp|TearDown)\b")
_SYNC_CALL = re.compile(rb"\.\s*(?:setUp|tearDown)\s*\(\s*\)")
# `super(...)` holds no parenthesis: `[^()]*` stops at the next one, so attempts from a run of
# `super(super(super(` (in a long string, say) never rescan each other's text.
_SUPER_SYNC_CALL = {
    name: re.compile(rf"super\([^()]*\)\s*\.\s*{name}\s*\(") for name in ("setUp", "tearDown")
}

SYNC_FOR_HOOK = {"asyncSetUp": "setUp", "asyncTearDown": "tearDown"}
_SYNC_NAMES = frozenset(SYNC_FOR_HOOK.values())


def reentry_gate(tree: ast.AST) -> bool:
    """SSC002's tree gate (:meth:`ReentryRule.could_match_tree`), also recorded in the module
    summaries for check's ast path: some ``async def asyncSetUp``/``asyncTearDown`` holds a
    call of ``<x>.setUp``/``<x>.tearDown``."""
    return found_inside(
        tree,
        lambda node: isinstance(node, ast.AsyncFunctionDef) and node.name in SYNC_FOR_HOOK,
        lambda node: calls_attribute(node, _SYNC_NAMES),
    )


@dataclass(frozen=True)
class _Call:
    line: cst.SimpleStatementLine  # the statement line holding the call
    expr: cst.Expr  # the call as a statement
    target: str  # "super" or "self"
    super_from: str | None  # class named in super(Cls, self), if any
    parents: tuple[cst.CSTNode, ...]  # compound statements around it, innermost last


class ReentryRule(Rule):
    code = "SSC002"
    name = "sync-setup-from-async-hook"
    summary = "asyncSetUp/asyncTearDown calls the sync setUp/tearDown"
    why = (
        "When setUp runs asyncSetUp through a bridge, `super().setUp()` inside asyncSetUp "
        "re-enters that setUp while its loop is running: `RuntimeError: This event loop is "
        "already running`. Removing the call is the fix; the sync setup still runs once, "
        "through the setUp that called asyncSetUp. In an IsolatedAsyncioTestCase the runner "
        "already called setUp, so the call runs the parent's sync setup a second time per "
        "test; there it becomes `await super().asyncSetUp()`. The setUp that `super()` reaches is "
        "followed across modules (the project view), so a bridge defined in the framework's "
        "module is recognised from the subclass's file."
    )
    example = (
        "class SSotAsyncTestCase(SSotBaseTestCase, unittest.TestCase):\n"
        "    async def asyncSetUp(self):\n"
        "        if hasattr(super(), 'setUp'):\n"
        "            super().setUp()\n"
        "        self.client = await connect()\n"
    )
    use_instead = (
        "class SSotAsyncTestCase(SSotBaseTestCase, unittest.TestCase):\n"
        "    async def asyncSetUp(self):\n"
        "        self.client = await connect()\n"
    )
    fix_safety: ClassVar[FixSafety] = "safe"
    needles = ((b"asyncSetUp", b"asyncTearDown"), (b"setUp", b"tearDown"))

    def could_match(self, data: bytes) -> bool:
        """An ``async def asyncSetUp``/``asyncTearDown`` and a ``.setUp()``/``.tearDown()`` call."""
        return (
            super().could_match(data)
            and _ASYNC_HOOK_DEF.search(data) is not None
            and _SYNC_CALL.search(data) is not None
        )

    def could_match_tree(self, tree: ast.Module, context: ProjectContext | None = None) -> bool:
        """An ``async def asyncSetUp``/``asyncTearDown`` holding a call of ``<x>.setUp`` or
        ``<x>.tearDown``: :meth:`analyze` only reports calls ``SyncCallFinder`` finds in such a
        function (``recv.setUp()``, ``super().setUp()``, ``super(C, recv).setUp()``). ASCII
        names are spelled the same in ``ast`` (see SSC001's gate); the receiver, the arguments
        and which hook pairs with which sync method are not checked.
        """
        return reentry_gate(tree)

    def analyze(self, module: cst.Module, index: ModuleIndex, plan: Plan) -> None:
        for info in index.classes.values():
            for hook, sync_name in SYNC_FOR_HOOK.items():
                func = info.method(hook)
                if func is None or not is_async(func):
                    continue
                receiver = first_param(func)
                # Every call _sync_calls finds spells sync_name in the function's text, so
                # this skips only functions where it finds nothing.
                if receiver is None or not index.mentions(func, (sync_name,)):
                    continue
                for call in _sync_calls(func, receiver, sync_name):
                    self._handle(module, index, info, func, sync_name, call, plan)

    def _handle(
        self,
        module: cst.Module,
        index: ModuleIndex,
        info: ClassInfo,
        func: cst.FunctionDef,
        sync_name: str,
        call: _Call,
        plan: Plan,
    ) -> None:
        hook = func.name.value
        shown = source_of(index, call.expr.value)
        where = f"{info.name}.{hook}"
        facts = index.facts(info)
        if any(_is_else_branch(p, call.parents) for p in call.parents):
            plan.report(
                self.code,
                call.expr,
                f"`{shown}` in {where} sits in an elif/else branch after the async parent hook; "
                "the branch is dead when the parent defines it and re-enters the bridge when it "
                "does not — report only, remove the branch by hand",
            )
            return
        if facts.runs_async_hooks:
            self._async_case(module, index, info, func, sync_name, call, plan)
            return
        if facts.unknown_bases:
            plan.report(
                self.code,
                call.expr,
                f"`{shown}` in {where} may re-enter the setUp that runs {hook}; not rewritten "
                f"because base {', '.join(facts.unknown_bases)} comes from another module and "
                "its setUp cannot be checked here",
            )
            return
        runner = index.lookup(info, sync_name)
        if not runner.defined or not _chain_bridges(index, info, sync_name, hook):
            # The sync method (nor the ones it reaches through super()) does not bridge to
            # this hook: calling it is not a re-entry.
            return
        after = LOCAL_PREFIX + info.key
        if call.super_from is not None:
            named = index.resolve(cst.Name(call.super_from))
            after = next(iter(named)) if len(named) == 1 else UNKNOWN
            external = index.external_class(after)
            if external is not None:
                after = external.id
        target = runner if call.target == "self" else index.lookup(info, sync_name, after=after)
        if not target.defined and target.known:
            return  # it reaches TestCase's no-op (or nothing): not a re-entry
        if not target.defined:
            plan.report(
                self.code,
                call.expr,
                f"`{shown}` in {where} may re-enter the {sync_name} that runs {hook}; not "
                f"rewritten because the {sync_name} it reaches cannot be checked here",
            )
            return
        same = (target.node is not None and target.node is runner.node) or (
            target.owner == runner.owner and target.external is not None
        )
        if not same:
            key = index.method_key(target)
            same = key is not None and key == index.method_key(runner)
        if not same:
            plan.report(
                self.code,
                call.expr,
                f"`{shown}` in {where} calls a {sync_name} other than the one that runs {hook} "
                f"(it may re-enter the bridge: 'This event loop is already running'); not "
                f"removed because that could drop {sync_name} steps — check by hand",
            )
            return
        self._remove(call, plan)
        plan.report(
            self.code,
            call.expr,
            reentry_message(shown, where, sync_name, hook, _defined_in(index, runner)),
            fix="safe",
            applied=True,
        )

    def _async_case(
        self,
        module: cst.Module,
        index: ModuleIndex,
        info: ClassInfo,
        func: cst.FunctionDef,
        sync_name: str,
        call: _Call,
        plan: Plan,
    ) -> None:
        hook = func.name.value
        shown = source_of(index, call.expr.value)
        if call.target != "super" or call.super_from is not None:
            plan.report(
                self.code,
                call.expr,
                f"`{shown}` in {info.name}.{hook}: the runner already called {sync_name}, so "
                "this runs it a second time per test; report only",
            )
            return
        awaited = f"await super().{hook}()"
        already = awaited in " ".join(index.code_for(func.body).split())
        guard = _empty_guard(call)
        if already:
            self._remove(call, plan)
        else:
            statement = cst.parse_statement(awaited + "\n")
            assert isinstance(statement, cst.SimpleStatementLine)
            if guard is not None:
                plan.replace(guard, statement.with_changes(leading_lines=guard.leading_lines))
            else:
                plan.replace(call.expr, statement.body[0])
        plan.report(
            self.code,
            call.expr,
            f"`{shown}` in {info.name}.{hook}: the runner already called {sync_name}, so the "
            f"parent's sync {sync_name} runs twice per test; "
            + ("remove the call" if already else f"use `{awaited}` instead")
            + f" — it then runs once (behaviour change: {sync_name} side effects happen once)",
            fix="safe",
            applied=True,
        )

    def _remove(self, call: _Call, plan: Plan) -> None:
        guard = _empty_guard(call)
        if guard is not None:
            plan.remove(guard)
        elif len(call.line.body) == 1:
            plan.remove(call.line)
        else:
            plan.remove(call.expr)


def reentry_message(shown: str, where: str, sync_name: str, hook: str, defined_in: str) -> str:
    """The finding for a call that re-enters the bridge (check's ast path reports it too:
    project.ast_findings)."""
    return (
        f"`{shown}` in {where} re-enters {sync_name}, which is running {hook}: 'This event "
        f"loop is already running'; remove the call — the sync {sync_name} still runs once "
        f"per test, through the {sync_name} that runs {hook}" + defined_in
    )


def defined_in_message(owner_name: str, method: str, where: str) -> str:
    """`` (Owner.method is in path:line)``: where a method of a class in another file is."""
    return f" ({owner_name}.{method} is in {where})"


def _defined_in(index: ModuleIndex, found: InheritedMethod) -> str:
    """`` (defined in path:line)`` for a method of a class in another file."""
    if found.external is None:
        return ""
    owner = index.external_class(found.owner)
    return defined_in_message(found.owner_name, found.external.name, owner.where) if owner else ""


def external_chain_step(external: ExternalClass, sync_name: str, hook: str) -> bool | None:
    """A class from another file in :func:`_chain_bridges`' walk: True when its ``sync_name``
    bridges to ``hook``, False when the chain stops there, None when it goes on to the next
    class (no ``sync_name`` here, or one that calls ``super()``)."""
    summary = external.method(sync_name)
    if summary is None:
        return False if sync_name in external.method_names else None
    if hook in summary.bridges:
        return True
    if not summary.calls_super:
        return False
    return None


def _chain_bridges(index: ModuleIndex, info: ClassInfo, sync_name: str, hook: str) -> bool:
    """Whether the instance's ``sync_name`` runs ``hook`` through a bridge, itself or in a
    cooperative ``super().setUp()`` chain (a mixin that does its own setup, then defers to the
    bridging mixin) of classes in this module or, through the project view, in others."""
    for key in index.mro(info) or ():
        external = index.external_class(key)
        if external is not None:
            step = external_chain_step(external, sync_name, hook)
            if step is not None:
                return step
            continue
        if not key.startswith(LOCAL_PREFIX):
            return False  # TestCase and the other known bases never bridge
        node = index.classes[key[len(LOCAL_PREFIX) :]].method(sync_name)
        if node is None:
            continue
        if any(b.hook == hook for b in bridges_in(node, index)):
            return True
        if not _SUPER_SYNC_CALL[sync_name].search(index.code_for(node)):
            return False
    return False


def _empty_guard(call: _Call) -> cst.If | None:
    """The ``if hasattr(super(), 'setUp'):`` around the call when it holds nothing else."""
    if not call.parents:
        return None
    parent = call.parents[-1]
    if (
        isinstance(parent, cst.If)
        and parent.orelse is None
        and isinstance(parent.body, cst.IndentedBlock)
        and len(parent.body.body) == 1
        and parent.body.body[0] is call.line
        and len(call.line.body) == 1
        and _is_hasattr_test(parent.test)
    ):
        return parent
    return None


def _is_hasattr_test(test: cst.BaseExpression) -> bool:
    """``hasattr(x, 'name')`` (or several joined by and/or, possibly negated) over names,
    ``super()`` and string literals only: dropping it with its body drops no side effect."""
    if isinstance(test, cst.BooleanOperation):
        return _is_hasattr_test(test.left) and _is_hasattr_test(test.right)
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return _is_hasattr_test(test.expression)
    if not (
        isinstance(test, cst.Call)
        and isinstance(test.func, cst.Name)
        and test.func.value == "hasattr"
        and len(test.args) == 2
    ):
        return False
    obj, name = test.args[0].value, test.args[1].value
    plain_obj = isinstance(obj, cst.Name) or (
        isinstance(obj, cst.Call)
        and isinstance(obj.func, cst.Name)
        and obj.func.value == "super"
        and all(isinstance(arg.value, cst.Name) for arg in obj.args)
    )
    return plain_obj and isinstance(name, cst.SimpleString)


def _is_else_branch(node: cst.CSTNode, parents: tuple[cst.CSTNode, ...]) -> bool:
    """True when ``node`` is an ``if`` reached only through another ``if``'s elif/else."""
    for outer in parents:
        if isinstance(outer, cst.If) and outer.orelse is not None:
            if outer.orelse is node:
                return True
            if isinstance(outer.orelse, cst.Else) and node is outer.orelse:
                return True
    return False


def _sync_calls(func: cst.FunctionDef, receiver: str, sync_name: str) -> list[_Call]:
    from ssot_codemod.rules._visitors import SyncCallFinder  # LibCST: parsed files only

    finder = SyncCallFinder(receiver, sync_name)
    func.body.visit(finder)
    return finder.found
