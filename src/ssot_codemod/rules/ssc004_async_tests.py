"""SSC004: ``async def test_*`` in a plain ``unittest.TestCase`` is never awaited."""

from __future__ import annotations

from typing import ClassVar

import libcst as cst

from ssot_codemod.analysis import (
    LOCAL_PREFIX,
    TESTCASE_BASES,
    ClassInfo,
    ModuleIndex,
    class_body,
)
from ssot_codemod.rules._async_test_scan import may_have_never_awaited_tests
from ssot_codemod.rules._common import bridges_in, has_async_runner_twin, is_async
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
        "(it would run asyncSetUp twice) — so the fix is only applied with --unsafe-fixes."
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

    def could_match(self, data: bytes) -> bool:
        return super().could_match(data) and may_have_never_awaited_tests(data)

    def analyze(self, module: cst.Module, index: ModuleIndex, plan: Plan) -> None:
        # Async tests a plain mixin (no TestCase base) lends to TestCase classes, by test node.
        lent: dict[int, tuple[cst.FunctionDef, str, list[str]]] = {}
        for info in index.classes.values():
            if not self._never_awaits(index, info):
                continue
            tests = _async_tests(info)
            fix = self._plan_fix(index, info, plan) if tests else None
            if not fix:  # once switched to IsolatedAsyncioTestCase, inherited tests run too
                for test, mixin in _inherited_async_tests(index, info):
                    lent.setdefault(id(test), (test, mixin, []))[2].append(info.name)
            if not tests:
                continue
            for test in tests:
                message = (
                    f"{info.name}.{test.name.value} is an async test in a unittest.TestCase "
                    "that is not an IsolatedAsyncioTestCase: it is never awaited and is "
                    "reported PASSED without running"
                )
                if fix is None:
                    message += (
                        "; make the class that lists unittest.TestCase an "
                        "IsolatedAsyncioTestCase by hand"
                    )
                plan.report(
                    self.code,
                    test,
                    message,
                    fix="unsafe" if fix is not None else "none",
                    applied=bool(fix),
                )
        self._report_lent(lent, plan)

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
        for sync_name in ("setUp", "tearDown"):
            found = index.lookup(info, sync_name)
            if found.node is None:
                continue
            bridges = [b for b in bridges_in(found.node, index) if b.hook.startswith("async")]
            if not bridges:
                continue
            if found.node not in (info.method(sync_name),):
                return None
            for bridge in bridges:
                statement = bridge.statement
                if statement is None:
                    return None
                removals.append(statement)
            plan.claimed.add(id(found.node))
        if not plan.may_fix("unsafe"):
            return False
        plan.replace(base_arg.value, new_base[0])
        if new_base[1]:
            plan.imports.add(("unittest", TARGET_BASE))
        for node in removals:
            plan.remove(node)
        return True


def _async_tests(info: ClassInfo) -> list[cst.FunctionDef]:
    return [
        stmt
        for stmt in class_body(info.node)
        if isinstance(stmt, cst.FunctionDef)
        and is_async(stmt)
        and stmt.name.value.startswith("test")
        # A decorator often wraps a coroutine test into a sync one that does run.
        and not stmt.decorators
    ]


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
                (test, owner.name) for test in _async_tests(owner) if test.name.value not in seen
            )
        seen.update(owner.methods)
    return found


def _switched_base(
    index: ModuleIndex, expr: cst.BaseExpression
) -> tuple[cst.BaseExpression, bool] | None:
    """The IsolatedAsyncioTestCase expression replacing ``expr``, and whether it needs an import."""
    if isinstance(expr, cst.Attribute) and index.resolve(expr.value) == {"unittest"}:
        return expr.with_changes(attr=cst.Name(TARGET_BASE)), False
    if isinstance(expr, cst.Name) and index.resolve(expr) & TESTCASE_BASES:
        return expr.with_changes(value=TARGET_BASE), True
    return None
