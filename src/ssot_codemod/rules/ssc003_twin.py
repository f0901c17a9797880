"""SSC003: the same setUp/tearDown body twice — redefined in one class, or an identical override."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, ClassVar

from ssot_codemod.analysis import (
    LOCAL_PREFIX,
    ClassInfo,
    ModuleIndex,
    class_body,
    function_key,
    normalized_ast_function,
)
from ssot_codemod.lazy_cst import cst
from ssot_codemod.rules._tree_gate import statements
from ssot_codemod.rules._twin_scan import may_have_twins
from ssot_codemod.rules.base import Plan, Rule
from ssot_codemod.types import FixSafety

if TYPE_CHECKING:
    from ssot_codemod.project.context import ProjectContext

TWIN_METHODS = (
    "setUp",
    "tearDown",
    "asyncSetUp",
    "asyncTearDown",
    "setUpClass",
    "tearDownClass",
    "setup_method",
    "teardown_method",
)
_TWIN_NAMES = frozenset(TWIN_METHODS)
_NAME_BYTES = tuple(name.encode() for name in TWIN_METHODS)


class TwinRule(Rule):
    code = "SSC003"
    name = "twin-setup"
    summary = "setUp/tearDown defined twice with the same body"
    why = (
        "A subclass that repeats the setUp it inherits word for word is a second copy to keep "
        "in sync (the SSOT framework's two bridges drifted exactly like this); removing the "
        "override changes nothing at runtime. A class that defines the method twice only ever "
        "runs the second one: the first is dead code. Identical twins are removed; twins that "
        "differ are reported, never merged, because the later one may have dropped a step on "
        "purpose — or by accident. The inherited method may live in another module of the "
        "project (the project view compares the subclass's override with it)."
    )
    example = (
        "class Base:\n"
        "    def setUp(self):\n"
        "        self.env = make_env()\n"
        "\n"
        "class Child(Base, unittest.TestCase):\n"
        "    def setUp(self):\n"
        '        """Same as Base.setUp."""\n'
        "        self.env = make_env()\n"
    )
    use_instead = (
        "class Base:\n"
        "    def setUp(self):\n"
        "        self.env = make_env()\n"
        "\n"
        "class Child(Base, unittest.TestCase):\n"
        "    pass\n"
    )
    fix_safety: ClassVar[FixSafety] = "safe"
    needles = (_NAME_BYTES,)

    def could_match(self, data: bytes) -> bool:
        """Twins need two definitions with equal normalised bodies (or two in one class); a
        byte-level scan rules most files out without parsing them. (Its first step, one
        search for ``def <hook>(``, costs a third of counting each of the eight names.)"""
        return may_have_twins(data, _TWIN_NAMES)

    def could_match_tree(self, tree: ast.Module, context: ProjectContext | None = None) -> bool:
        """A class defining one hook twice (any bodies), or two definitions of a hook with
        equal keys in this file, or one whose key equals a method of that name the project
        context knows in another file. :meth:`analyze` reports nothing else: a redefinition
        in one class, or an override whose key (:func:`~ssot_codemod.analysis.function_key`,
        which is :func:`~ssot_codemod.analysis.normalized_ast_function` of the function's own
        text) equals the key of the method it inherits, from this file or from the context.
        Which class inherits from which is not checked: looser, never stricter."""
        return self.could_match_facts(
            self.tree_facts(tree, with_context=context is not None), context
        )

    def tree_facts(self, tree: ast.Module, *, with_context: bool) -> object:
        """True when the file alone settles it (a hook twice in one class, two equal keys);
        otherwise each hook name's keys in this file, for the context to be checked against."""
        keys: dict[str, set[str]] = {}
        for node in statements(tree):  # classes and functions are statements
            if isinstance(node, ast.ClassDef):
                names = [
                    stmt.name
                    for stmt in node.body
                    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef))
                    and stmt.name in _TWIN_NAMES
                ]
                if len(names) != len(set(names)):
                    return True
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if node.name in _TWIN_NAMES:
                    key = normalized_ast_function(node)
                    seen = keys.setdefault(node.name, set())
                    if key in seen:
                        return True
                    seen.add(key)
        return {name: frozenset(found) for name, found in keys.items()}

    def could_match_facts(self, facts: object, context: ProjectContext | None) -> bool:
        if facts is True:
            return True
        assert isinstance(facts, dict)
        if context is not None and facts:
            for external in context.classes:
                for method in external.methods:
                    if method.key in facts.get(method.name, ()):
                        return True
        return False

    def analyze(self, module: cst.Module, index: ModuleIndex, plan: Plan) -> None:
        for info in index.classes.values():
            for name in TWIN_METHODS:
                defs = _unconditional_defs(info, name)
                if len(defs) > 1:
                    self._redefined(module, info, name, defs, plan)
                elif len(defs) == 1:
                    self._override(module, index, info, defs[0], plan)

    def _redefined(
        self,
        module: cst.Module,
        info: ClassInfo,
        name: str,
        defs: list[cst.FunctionDef],
        plan: Plan,
    ) -> None:
        last = defs[-1]
        last_key = function_key(module, last)
        for dead in defs[:-1]:
            if id(dead) in plan.claimed:
                continue
            if last_key is not None and function_key(module, dead) == last_key:
                plan.remove(dead)
                plan.report(
                    self.code,
                    dead,
                    f"{info.name}.{name} is defined twice with the same body; only the last "
                    "definition runs, so remove this dead copy",
                    fix="safe",
                    applied=True,
                )
            else:
                plan.report(
                    self.code,
                    dead,
                    f"{info.name}.{name} is defined twice with different bodies; only the later "
                    "one runs, so this one is dead code — check whether the later one dropped a "
                    "step, and merge by hand (never merged automatically)",
                )

    def _override(
        self,
        module: cst.Module,
        index: ModuleIndex,
        info: ClassInfo,
        override: cst.FunctionDef,
        plan: Plan,
    ) -> None:
        inherited = index.lookup(info, override.name.value, after=LOCAL_PREFIX + info.key)
        if not inherited.defined:
            return
        key = index.function_key(override)
        if key is None or key != index.method_key(inherited):
            return
        owner = inherited.owner_name
        external = index.external_class(inherited.owner) if inherited.node is None else None
        if external is not None:
            owner = f"{owner} ({external.where})"
        name = override.name.value
        if id(override) in plan.claimed:
            # Form C edits this override (its bridge goes): removing it would bring the
            # inherited bridge back.
            plan.report(
                self.code,
                override,
                f"{info.name}.{name} repeats the {name} it inherits from {owner}; not removed "
                "in this run because the --unsafe-fixes rebase removes the bridge from it (the "
                "inherited one would run asyncSetUp a second time)",
                fix="safe",
            )
            return
        reason = index.depends_on_defining_class(override)
        if reason is not None:
            plan.report(
                self.code,
                override,
                f"{info.name}.{name} repeats {owner}.{name} but {reason}, so removing it "
                "would change which code runs; report only",
            )
            return
        plan.remove(override)
        plan.report(
            self.code,
            override,
            f"{info.name}.{name} repeats the {name} it inherits from {owner} (ignoring docstring, "
            "comments and whitespace); remove the redundant override",
            fix="safe",
            applied=True,
        )


def _unconditional_defs(info: ClassInfo, name: str) -> list[cst.FunctionDef]:
    return [
        stmt
        for stmt in class_body(info.node)
        if isinstance(stmt, cst.FunctionDef) and stmt.name.value == name
    ]
