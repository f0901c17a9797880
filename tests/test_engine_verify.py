"""The engine's verification of a rewrite: it compiles, and a second pass changes nothing.

The second pass first analyses the tree the rewrite was generated from (no second parse); these
rules prove that an unstable rewrite is still refused, and that an edit the second pass plans
but which changes no byte (the full re-analysis decides) is still accepted.
"""

from __future__ import annotations

from typing import ClassVar

import libcst as cst
import pytest

from ssot_codemod.analysis import ModuleIndex
from ssot_codemod.engine import fix_source
from ssot_codemod.rules.base import Plan, Rule
from ssot_codemod.types import EngineError, FixSafety


class _Toy(Rule):
    code = "SSC900"
    name = "toy"
    summary = why = example = use_instead = "toy"
    fix_safety: ClassVar[FixSafety] = "safe"
    needles = ((b"=",),)
    step: ClassVar[int] = 1

    def analyze(self, module: cst.Module, index: ModuleIndex, plan: Plan) -> None:
        for stmt in module.body:
            if not isinstance(stmt, cst.SimpleStatementLine):
                continue
            small = stmt.body[0]
            if isinstance(small, cst.Assign) and isinstance(small.value, cst.Integer):
                value = int(small.value.value)
                if self.step == 0 and value == 1:
                    continue  # already rewritten: yet a no-op edit is planned below
                new = cst.Integer(str(value + self.step if value != 0 else 1))
                plan.replace(small.value, new)
                plan.report(self.code, small, "toy", fix="safe", applied=True)


class _Bump(_Toy):
    """Never stable: every pass adds one again."""

    step = 1


class _Settle(_Toy):
    """0 becomes 1; on 1 it plans a replacement with an equal node (no byte changes)."""

    step = 0

    def analyze(self, module: cst.Module, index: ModuleIndex, plan: Plan) -> None:
        super().analyze(module, index, plan)
        for stmt in module.body:
            if isinstance(stmt, cst.SimpleStatementLine):
                small = stmt.body[0]
                if isinstance(small, cst.Assign) and isinstance(small.value, cst.Integer):
                    if small.value.value == "1":
                        plan.replace(small.value, cst.Integer("1"))


def test_an_unstable_rewrite_is_refused() -> None:
    with pytest.raises(EngineError, match="not stable"):
        fix_source("x = 1\n", rules=[_Bump()])


def test_a_second_pass_whose_edits_change_no_byte_is_accepted() -> None:
    assert fix_source("x = 0\n", rules=[_Settle()]).code == "x = 1\n"


def test_a_rewrite_that_does_not_compile_is_refused() -> None:
    class _Break(_Toy):
        def analyze(self, module: cst.Module, index: ModuleIndex, plan: Plan) -> None:
            stmt = module.body[0]
            assert isinstance(stmt, cst.SimpleStatementLine)
            plan.replace(stmt, cst.parse_statement("x = 1\n").with_changes(body=[cst.Return()]))
            plan.report(self.code, stmt, "toy", fix="safe", applied=True)

    with pytest.raises(EngineError, match="does not compile"):
        fix_source("x = 1\n", rules=[_Break()])


class _BreakSecond(_Toy):
    """Replaces the module's second statement with one that does not compile."""

    def analyze(self, module: cst.Module, index: ModuleIndex, plan: Plan) -> None:
        stmt = cst.ensure_type(module.body[1], cst.SimpleStatementLine)
        plan.replace(stmt, stmt.with_changes(body=[cst.Return()]))  # its blank lines kept
        plan.report(self.code, stmt, "toy", fix="safe", applied=True)


def test_a_refused_rewrite_names_the_line_of_the_whole_rewrite() -> None:
    with pytest.raises(EngineError, match=r"\('return' outside function, line 4\)"):
        fix_source("x = 1\n\n\ny = 2\nz = 3\n", rules=[_BreakSecond()])


# ``ast`` parses these; only the compiler refuses them.
_ONLY_THE_COMPILER_REFUSES = "def f():\n    await g()\n"


def test_what_the_rewrite_kept_is_not_compiled_again() -> None:
    """The original already did not compile there: the rewrite, which compiles where it
    generated code, is written."""
    source = f"x = 0\n\n\n{_ONLY_THE_COMPILER_REFUSES}"
    assert fix_source(source, rules=[_Settle()]).code == f"x = 1\n\n\n{_ONLY_THE_COMPILER_REFUSES}"


def test_a_module_naming_future_is_compiled_whole() -> None:
    """Where ``__future__`` imports must come first, one statement's meaning depends on the
    others: the whole rewrite is compiled."""
    source = f"from __future__ import annotations\nx = 0\n\n\n{_ONLY_THE_COMPILER_REFUSES}"
    with pytest.raises(EngineError, match="'await' outside async function, line 6"):
        fix_source(source, rules=[_Settle()])
