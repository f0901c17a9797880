"""SSC004: ``async def test_*`` in a plain ``unittest.TestCase`` is never awaited."""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from typing import ClassVar

from ssot_codemod.analysis import (
    LOCAL_PREFIX,
    TESTCASE_BASES,
    ClassInfo,
    InheritedMethod,
    ModuleIndex,
    block_statements,
    class_body,
    decorators_transparent,
)
from ssot_codemod.lazy_cst import cst
from ssot_codemod.project.context import ExternalClass, ProjectContext
from ssot_codemod.rules._async_test_scan import may_have_never_awaited_tests
from ssot_codemod.rules._common import (
    Bridge,
    bridges_in,
    has_async_runner_twin,
    is_async,
    unused_loop_locals,
)
from ssot_codemod.rules.base import Plan, Rule
from ssot_codemod.types import FixSafety

TARGET_BASE = "IsolatedAsyncioTestCase"


class AsyncTestNeverRunsRule(Rule):
    code = "SSC004"
    name = "async-test-never-awaited"
    summary = "async def test_* in a unittest.TestCase that is not an IsolatedAsyncioTestCase"
    why = (
        "unittest.TestCase calls the test method and ignores the coroutine it returns: the body "
        "never runs, yet the test is reported PASSED, under unittest and pytest alike (with or "
        "without pytest-asyncio). The only trace is a 'coroutine ... was never awaited' "
        "RuntimeWarning. `unittest.IsolatedAsyncioTestCase` awaits async tests and runs "
        "asyncSetUp/asyncTearDown itself. Switching is not behaviour-preserving on purpose — tests "
        "that never ran start running and may fail, and the class's hand-written bridge must go "
        "(it would run asyncSetUp twice) — so the fix is only applied with --unsafe-fixes. "
        "Decorators do not save such tests: `@pytest.mark.*` (pytest-asyncio ignores unittest "
        "classes) and `@patch`/`@patch.object`/`@patch.dict` keep them coroutine functions; only "
        "a decorator the tool cannot see through keeps it silent (said in --verbose). The class "
        "is followed through bases in other modules, and the fix happens at the root: the one "
        "class that lists unittest.TestCase is rebased, once, in its own module (its bridge "
        "deleted; a bridge it inherits from a plain base of that module is left out of an "
        "override), however many subclasses in other files hold the tests. Where setUp() is "
        "called from async code, asyncSetUp no longer runs there afterwards."
    )
    example = (
        "class ApiTests(unittest.TestCase):\n"
        "    async def test_login(self):\n"
        "        self.assertTrue(await login())  # never runs\n"
    )
    use_instead = (
        "class ApiTests(unittest.IsolatedAsyncioTestCase):\n"
        "    async def test_login(self):\n"
        "        self.assertTrue(await login())\n"
    )
    fix_safety: ClassVar[FixSafety] = "unsafe"
    needles = ((b"async def test",), (b"TestCase",))

    def could_match_tree(self, tree: ast.Module, context: ProjectContext | None = None) -> bool:
        """Seen alone, a module where every class with an async test certainly inherits from
        IsolatedAsyncioTestCase, or certainly has a base from another module, holds nothing to
        report (``may_have_never_awaited_tests``). With a project context the index decided:
        it selects this rule for the files it resolved, across modules."""
        return context is not None or may_have_never_awaited_tests(tree)

    def tree_facts(self, tree: ast.Module, *, with_context: bool) -> object:
        # With a context the tree is not read (see could_match_tree).
        return with_context or may_have_never_awaited_tests(tree)

    def could_match_facts(self, facts: object, context: ProjectContext | None) -> bool:
        return context is not None or bool(facts)

    def analyze(self, module: cst.Module, index: ModuleIndex, plan: Plan) -> None:
        # Async tests a plain mixin (no TestCase base) lends to TestCase classes, by test node.
        lent: dict[int, tuple[cst.FunctionDef, str, list[str]]] = {}
        # Local root classes already planned (form C happens once, at the root).
        planned: dict[str, bool | None] = {}
        for info in index.classes.values():
            if not self._never_awaits(index, info):
                continue
            tests = _async_tests(index, info)
            root = index.context.root(info.name) if info.module_scope else None
            fix: bool | None = None
            suffix = ""
            if root is not None and _lists_testcase(index, info):
                fix = self._plan_root(index, info, plan, planned)
                self._report_root(info, root.tests, root.files, fix, plan)
            if tests:
                fix, suffix = self._fix_for(index, info, plan, planned)
            if not fix:  # once switched to IsolatedAsyncioTestCase, inherited tests run too
                for test, mixin in _inherited_async_tests(index, info):
                    lent.setdefault(id(test), (test, mixin, []))[2].append(info.name)
            for test in tests:
                message = never_run_message(info.name, test.name.value, fix, suffix)
                plan.report(
                    self.code,
                    test,
                    message,
                    fix="unsafe" if fix is not None else "none",
                    applied=bool(fix),
                )
        self._report_lent(lent, plan)
        switched = index.memo.pop(("ssc004_names", 0), 0)
        if isinstance(switched, int) and switched:
            _import_target_base(index, plan, switched)

    def _fix_for(
        self,
        index: ModuleIndex,
        info: ClassInfo,
        plan: Plan,
        planned: dict[str, bool | None],
    ) -> tuple[bool | None, str]:
        """Form C for a class with never-run tests: at its root class, which may be this class,
        another class of this module, or a class in another file (rebased in its own module).
        Returns (fix: None = impossible, False = not enabled, True = planned; message suffix)."""
        for key in index.mro(info) or ():
            if key.startswith(LOCAL_PREFIX):
                owner = index.classes[key[len(LOCAL_PREFIX) :]]
                if not _lists_testcase(index, owner):
                    continue
                if owner is info:
                    return self._plan_root(index, info, plan, planned), ""
                fix = self._plan_root(index, owner, plan, planned)
                if fix is None:
                    return None, ""
                return fix, f"; the fix rebases {owner.name}, the class that lists TestCase"
            external = index.external_class(key)
            if external is None or external.root is None:
                continue
            return root_in_another_file(external)
        return self._plan_root(index, info, plan, planned), ""

    def _plan_root(
        self,
        index: ModuleIndex,
        info: ClassInfo,
        plan: Plan,
        planned: dict[str, bool | None],
    ) -> bool | None:
        if info.key not in planned:
            planned[info.key] = self._plan_fix(index, info, plan)
        return planned[info.key]

    def _report_root(
        self, info: ClassInfo, tests: int, files: int, fix: bool | None, plan: Plan
    ) -> None:
        message = (
            f"{tests} async test(s) in {files} other file(s) never run because {info.name} is "
            "a plain unittest.TestCase that they inherit; "
        )
        message += (
            "`apply --unsafe-fixes` rebases it on IsolatedAsyncioTestCase (here, once; where "
            "setUp() is called from async code, asyncSetUp no longer runs there)"
            if fix is not None
            else "make it an IsolatedAsyncioTestCase by hand"
        )
        plan.report(
            self.code,
            info.node,
            message,
            fix="unsafe" if fix is not None else "none",
            applied=bool(fix),
        )

    def _report_lent(
        self, lent: dict[int, tuple[cst.FunctionDef, str, list[str]]], plan: Plan
    ) -> None:
        for test, mixin, users in lent.values():
            plan.report(
                self.code,
                test,
                f"{mixin}.{test.name.value} is an async test that {', '.join(users)} "
                "inherit(s) as unittest.TestCase classes that are not IsolatedAsyncioTestCase: "
                "it is never awaited and is reported PASSED without running; make those "
                "classes IsolatedAsyncioTestCase by hand",
            )

    def _never_awaits(self, index: ModuleIndex, info: ClassInfo) -> bool:
        """Only say "never runs" when it is true: anything that may await coroutine tests
        (an async-aware or unknown base, a metaclass, an overridden run()) is left alone."""
        facts = index.facts(info)
        return not (
            not facts.is_testcase
            or facts.is_async_aware
            or facts.unknown_bases
            or facts.has_metaclass
            or facts.overrides_runner
            or has_async_runner_twin(index, info)
        )

    def _plan_fix(self, index: ModuleIndex, info: ClassInfo, plan: Plan) -> bool | None:
        """Edits for form C, or None when this class cannot be switched on its own.

        Returns False when a fix exists but unsafe fixes are not enabled.
        """
        base_arg = None
        for arg in info.node.bases:
            if index.resolve(arg.value) & TESTCASE_BASES:
                base_arg = arg
        if base_arg is None:
            return None
        new_base = _switched_base(index, base_arg.value)
        if new_base is None:
            return None
        # The runner of IsolatedAsyncioTestCase runs asyncSetUp itself: the class's own bridge
        # must go. A bridge inherited from another class cannot be removed from here.
        removals: list[cst.CSTNode] = []
        claims: list[cst.FunctionDef] = []
        overrides: list[cst.FunctionDef] = []
        for sync_name in ("setUp", "tearDown"):
            found = index.lookup(info, sync_name)
            if found.external is not None and found.external.bridges and not found.external.gated:
                return None  # a bridge inherited from another file: it would run twice
            if found.node is None:
                continue
            bridges = [b for b in bridges_in(found.node, index) if b.hook.startswith("async")]
            if not bridges:
                continue
            if any(bridge.statement is None for bridge in bridges):
                return None
            # The bridge statements are listed even inside a removed guard: other rules then
            # know the bridge goes (SSC001 does not rewrite it).
            dropped: list[cst.CSTNode] = [b.statement for b in bridges if b.statement is not None]
            guards = _hook_guards(index, found.node, bridges)
            dropped.extend(guards or unused_loop_locals(index, found.node, bridges))
            if found.node is info.method(sync_name):
                removals.extend(dropped)
                claims.append(found.node)
                continue
            # Inherited from a plain base that other classes share: that bridge must keep
            # running for them, but not for this class any more. It gets its own copy of the
            # method without the bridge (the base's code is otherwise untouched).
            if index.depends_on_defining_class(found.node) is not None:
                return None
            overrides.append(_override_without(found, dropped))
        if not plan.may_fix("unsafe"):
            return False
        # Only a fix that happens claims the methods it edits (SSC003 then leaves them).
        plan.claimed.update(id(node) for node in claims)
        plan.replace(base_arg.value, new_base[0])
        if new_base[1]:  # the import changes once per module, after every class (see analyze)
            key = ("ssc004_names", 0)
            count = index.memo.get(key, 0)
            index.memo[key] = (count if isinstance(count, int) else 0) + 1
        for node in removals:
            plan.remove(node)
        body = class_body(info.node)
        if overrides and body:
            last = body[-1]
            if isinstance(last, cst.SimpleStatementLine) and _is_pass(last):
                # ``class Base(Plain, TestCase): pass``: the override takes the pass's place.
                first, *rest = overrides
                plan.replace(last, first.with_changes(leading_lines=last.leading_lines))
                overrides = rest
            for override in overrides:
                plan.insert_after(last, override)
        return True


def _hook_guards(
    index: ModuleIndex, func: cst.FunctionDef, bridges: list[Bridge]
) -> list[cst.CSTNode]:
    """``if hasattr(self, 'asyncSetUp') and ...:`` blocks of the method that exist only to run
    the hook: no ``else``, the test names the hook, and every statement inside either holds the
    bridge or only prepares its loop. Under IsolatedAsyncioTestCase the whole block goes."""
    guards: list[cst.CSTNode] = []
    for bridge in bridges:
        guard = None
        for stmt in block_statements(func.body):
            if isinstance(stmt, cst.If) and bridge.call in _descendants(stmt):
                guard = stmt
        if not (
            isinstance(guard, cst.If)
            and guard.orelse is None
            and bridge.hook in index.code_for(guard.test)
        ):
            return []
        for inner in block_statements(guard.body):
            text = index.code_for(inner)
            holds_bridge = bridge.call in _descendants(inner)
            if not holds_bridge and "loop" not in text:
                return []
        guards.append(guard)
    return guards


def _descendants(node: cst.CSTNode) -> list[cst.CSTNode]:
    found: list[cst.CSTNode] = []
    pending = [node]
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(current.children)
    return found


def _is_pass(stmt: cst.CSTNode) -> bool:
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], cst.Pass)
    )


def _override_without(found: InheritedMethod, dropped: Sequence[cst.CSTNode]) -> cst.FunctionDef:
    """A copy of an inherited method without the given statements, for the rebased class."""
    assert found.node is not None
    drop = {id(node) for node in dropped}

    class _Drop(cst.CSTTransformer):
        def on_leave(  # type: ignore[override]
            self, original_node: cst.CSTNode, updated_node: cst.CSTNode
        ) -> cst.CSTNode | cst.RemovalSentinel:
            if id(original_node) in drop:
                return cst.RemovalSentinel.REMOVE
            if isinstance(updated_node, cst.IndentedBlock) and not updated_node.body:
                return updated_node.with_changes(body=[cst.SimpleStatementLine([cst.Pass()])])
            return updated_node

    copy = found.node.visit(_Drop())
    assert isinstance(copy, cst.FunctionDef)
    # The copy keeps the method's own docstring; one blank line separates it, as black does.
    return copy.with_changes(leading_lines=[cst.EmptyLine(indent=False)])


def _async_tests(index: ModuleIndex, info: ClassInfo) -> list[cst.FunctionDef]:
    return [
        stmt
        for stmt in class_body(info.node)
        if isinstance(stmt, cst.FunctionDef)
        and is_async(stmt)
        and stmt.name.value.startswith("test")
        # pytest marks and mock's patchers keep it a coroutine function; any other decorator
        # may wrap it into a sync test that does run (said in --verbose by the project view).
        and decorators_transparent([index.resolve(_callee(d.decorator)) for d in stmt.decorators])
    ]


def _callee(expr: cst.BaseExpression) -> cst.BaseExpression:
    return expr.func if isinstance(expr, cst.Call) else expr


def never_run_message(class_name: str, test_name: str, fix: bool | None, suffix: str) -> str:
    """The finding's text (check's ast path, ``project.ast_findings``, says the same)."""
    message = (
        f"{class_name}.{test_name} is an async test in a unittest.TestCase "
        "that is not an IsolatedAsyncioTestCase: it is never awaited and is "
        "reported PASSED without running"
    )
    if suffix:
        return message + suffix
    if fix is None:
        return message + (
            "; make the class that lists unittest.TestCase an IsolatedAsyncioTestCase by hand"
        )
    return message


def root_in_another_file(external: ExternalClass) -> tuple[bool | None, str]:
    """(fix, message suffix) for never-run tests whose root class is *external*'s root, in
    another file (check's ast path, ``project.ast_findings``, says the same)."""
    root = external.root
    if external.root_blocker is not None:
        return None, (
            f"; it never runs because {root} is a plain unittest.TestCase, which "
            f"cannot be rebased automatically ({external.root_blocker})"
        )
    return bool(external.rebased_root), (
        f"; it never runs because {root} is a plain unittest.TestCase; "
        "`apply --unsafe-fixes` rebases it, in its own module"
    )


def _lists_testcase(index: ModuleIndex, info: ClassInfo) -> bool:
    """The class names unittest.TestCase among its own bases (form C changes that base)."""
    return any(index.resolve(arg.value) & TESTCASE_BASES for arg in info.node.bases)


def _inherited_async_tests(
    index: ModuleIndex, info: ClassInfo
) -> list[tuple[cst.FunctionDef, str]]:
    """Async tests the class gets from local mixins that are not TestCases themselves (a
    TestCase ancestor reports its own tests), unless something earlier in the MRO shadows them."""
    found: list[tuple[cst.FunctionDef, str]] = []
    seen: set[str] = set()
    for key in index.mro(info) or ():
        if not key.startswith(LOCAL_PREFIX):
            break
        owner = index.classes[key[len(LOCAL_PREFIX) :]]
        if owner is not info and not index.facts(owner).is_testcase:
            found.extend(
                (test, owner.name)
                for test in _async_tests(index, owner)
                if test.name.value not in seen
            )
        seen.update(owner.methods)
    return found


_TESTCASE_USE = re.compile(r"(?<![.\w])TestCase\b")


def _import_target_base(index: ModuleIndex, plan: Plan, switched: int) -> None:
    """Import IsolatedAsyncioTestCase where ``TestCase`` is imported from unittest: in place of
    it when nothing else uses TestCase any more (no unused import left behind), else beside it,
    sorted as isort does (classes alphabetically, case-insensitively). Multi-line imports and
    other shapes get the import added by the engine instead."""
    for stmt in index.module.body:
        if not isinstance(stmt, cst.SimpleStatementLine):
            continue
        for small in stmt.body:
            if not (
                isinstance(small, cst.ImportFrom)
                and small.relative == ()
                and small.module is not None
                and index.module.code_for_node(small.module) == "unittest"
                and isinstance(small.names, Sequence)
                and small.lpar is None
            ):
                continue
            names = [a for a in small.names if isinstance(a.name, cst.Name)]
            if len(names) != len(small.names) or not any(
                a.name.value == "TestCase" and a.asname is None for a in names
            ):
                continue
            uses = len(_TESTCASE_USE.findall(index.module.code)) - 1 - switched
            if any(a.asname is not None for a in names):
                break  # an alias (``import x as y``): leave the layout to the engine
            kept = {
                a.name.value
                for a in names
                if isinstance(a.name, cst.Name) and not (a.name.value == "TestCase" and uses <= 0)
            }
            wanted = sorted(kept | {TARGET_BASE}, key=_isort_key)
            new_names = [
                cst.ImportAlias(
                    name=cst.Name(name),
                    comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
                    if i < len(wanted) - 1
                    else cst.MaybeSentinel.DEFAULT,
                )
                for i, name in enumerate(wanted)
            ]
            plan.replace(small, small.with_changes(names=new_names))
            return
    plan.imports.add(("unittest", TARGET_BASE))


def _isort_key(name: str) -> tuple[int, str]:
    """isort's default order within one import: CONSTANTS, Classes, then functions."""
    kind = 0 if name.isupper() else 1 if name[:1].isupper() else 2
    return kind, name.lower()


def _switched_base(
    index: ModuleIndex, expr: cst.BaseExpression
) -> tuple[cst.BaseExpression, bool] | None:
    """The IsolatedAsyncioTestCase expression replacing ``expr``, and whether it needs an import."""
    if isinstance(expr, cst.Attribute) and index.resolve(expr.value) == {"unittest"}:
        return expr.with_changes(attr=cst.Name(TARGET_BASE)), False
    if isinstance(expr, cst.Name) and index.resolve(expr) & TESTCASE_BASES:
        return expr.with_changes(value=TARGET_BASE), True
    return None
