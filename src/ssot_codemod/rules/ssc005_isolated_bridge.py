"""SSC005: an ``IsolatedAsyncioTestCase`` whose setUp/tearDown still runs the async hook."""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING, ClassVar

from ssot_codemod.analysis import ClassInfo, ModuleIndex
from ssot_codemod.lazy_cst import cst
from ssot_codemod.rules._common import (
    Bridge,
    bridges_in,
    has_async_runner_twin,
    source_of,
    unused_loop_locals,
)
from ssot_codemod.rules._tree_gate import calls_attribute, found_inside
from ssot_codemod.rules.base import Plan, Rule
from ssot_codemod.types import FixSafety

if TYPE_CHECKING:
    from ssot_codemod.project.context import ProjectContext

# The bridge shapes SSC005 removes: a runner called with ``<name>.asyncSetUp()`` (or the
# tearDown hook) as its first argument.
_RUNNER = re.compile(
    rb"(?:run_until_complete|run_coroutine_sync|\brun)\s*\(\s*\w+\s*\.\s*async(?:SetUp|TearDown)\b"
)
# An ``if`` whose test reads a version (``sys.version_info < (3, 8)``, ``not PY_38``): the
# bridge is the fallback for Pythons without IsolatedAsyncioTestCase, a near miss.
_VERSION_GATE = re.compile(r"version|PY\w*\d|PYTHON", re.IGNORECASE)
_HOSTS = {"setUp": "asyncSetUp", "tearDown": "asyncTearDown"}


class IsolatedBridgeRule(Rule):
    code = "SSC005"
    name = "bridge-in-isolated-asyncio-case"
    summary = "an IsolatedAsyncioTestCase whose setUp/tearDown still runs asyncSetUp/asyncTearDown"
    why = (
        "IsolatedAsyncioTestCase calls setUp and then awaits asyncSetUp itself (tearDown and "
        "asyncTearDown likewise). A hand-written bridge left in its setUp - "
        "`loop.run_until_complete(self.asyncSetUp())`, directly or in a base class - runs "
        "asyncSetUp a second time per test: resources are created twice, patches started "
        "twice, connections opened twice. Bridges under a version check (`if "
        "sys.version_info < (3, 8):`) are the fallback for old Pythons and are left alone. The "
        "fix deletes the bridge; asyncSetUp then runs once (a behaviour change: its side "
        "effects happen once)."
    )
    example = (
        "class ApiTests(unittest.IsolatedAsyncioTestCase):\n"
        "    def setUp(self):\n"
        "        self.loop = asyncio.get_event_loop()\n"
        "        self.loop.run_until_complete(self.asyncSetUp())\n"
    )
    use_instead = (
        "class ApiTests(unittest.IsolatedAsyncioTestCase):\n"
        "    def setUp(self):\n"
        "        self.loop = asyncio.get_event_loop()\n"
    )
    fix_safety: ClassVar[FixSafety] = "safe"
    needles = ((b"asyncSetUp", b"asyncTearDown"),)

    def could_match(self, data: bytes) -> bool:
        return super().could_match(data) and _RUNNER.search(data) is not None

    def could_match_tree(self, tree: ast.Module, context: ProjectContext | None = None) -> bool:
        """A sync ``def setUp``/``tearDown`` holding a call of ``<x>.asyncSetUp`` or
        ``<x>.asyncTearDown``: every bridge :meth:`analyze` handles is in such a method
        (``info.method(host)``; ``bridges_in`` skips async ones) with ``recv.<hook>()`` as an
        argument. ASCII names are spelled the same in ``ast`` (see SSC001's gate). Whether the
        class is an IsolatedAsyncioTestCase may depend on other files, so it is not checked.
        """
        hooks = set(_HOSTS.values())
        return found_inside(
            tree,
            lambda node: isinstance(node, ast.FunctionDef) and node.name in _HOSTS,
            lambda node: calls_attribute(node, hooks),
        )

    def analyze(self, module: cst.Module, index: ModuleIndex, plan: Plan) -> None:
        for info in index.classes.values():
            facts = index.facts(info)
            if (
                not facts.runs_async_hooks
                or facts.overrides_runner  # a backport of IsolatedAsyncioTestCase
                or facts.has_metaclass
                or not _certain(index, info)
                or has_async_runner_twin(index, info)
            ):
                continue
            for host, hook in _HOSTS.items():
                method = info.method(host)
                if method is None:
                    continue
                gated = _gated_calls(method)
                for bridge in bridges_in(method, index):
                    if bridge.hook == hook and id(bridge.call) not in gated:
                        self._handle(module, index, info, method, bridge, plan)

    def _handle(
        self,
        module: cst.Module,
        index: ModuleIndex,
        info: ClassInfo,
        method: cst.FunctionDef,
        bridge: Bridge,
        plan: Plan,
    ) -> None:
        host = method.name.value
        shown = source_of(index, bridge.call)
        why = _why_isolated(index, info)
        message = (
            f"`{shown}` in {info.name}.{host} runs {bridge.hook}, which the "
            f"IsolatedAsyncioTestCase runner already awaits{why}: {bridge.hook} runs twice per "
            "test"
        )
        if bridge.statement is None or id(bridge.statement) in plan.removals:
            plan.report(
                self.code,
                bridge.call,
                message + "; not removed because the call is part of a larger statement — "
                "delete the bridge by hand",
            )
            return
        plan.remove(bridge.statement)
        for unused in unused_loop_locals(index, method, [bridge]):  # no F841 left behind
            plan.remove(unused)
        plan.report(
            self.code,
            bridge.call,
            message + f"; delete the bridge (behaviour change: {bridge.hook} side effects "
            "happen once)",
            fix="safe",
            applied=True,
        )


def _why_isolated(index: ModuleIndex, info: ClassInfo) -> str:
    """`` (through Base, rebased by this run)`` when the class only becomes one now."""
    for key in index.mro(info) or ():
        external = index.external_class(key)
        if external is not None and external.rebased_root:
            return f" (it becomes one when `apply --unsafe-fixes` rebases {external.rebased_root})"
    return ""


def _certain(index: ModuleIndex, info: ClassInfo, seen: frozenset[str] = frozenset()) -> bool:
    """Every base of the class (and of its local ancestors) names one class: a base chosen
    by a version check (``TestCase = IsolatedAsyncioTestCase if PY_38 else ...``) is not."""
    for arg in info.node.bases:
        keys = index.resolve(arg.value)
        if len(keys) != 1:
            return False
        (key,) = keys
        if key.startswith("local:") and key not in seen:
            parent = index.classes.get(key[len("local:") :])
            if parent is not None and not _certain(index, parent, seen | {key}):
                return False
    return True


def _gated_calls(method: cst.FunctionDef) -> set[int]:
    """Ids of calls inside a version-checking ``if`` (either branch) of the method."""
    from ssot_codemod.rules._visitors import GateFinder  # LibCST: parsed files only

    finder = GateFinder()
    method.body.visit(finder)
    return finder.gated
