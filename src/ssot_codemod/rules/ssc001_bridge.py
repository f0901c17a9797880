"""SSC001: a sync method runs the async hook with ``run_until_complete`` or ``asyncio.run``."""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING, ClassVar

from ssot_codemod.analysis import ClassInfo, ModuleIndex
from ssot_codemod.helper_source import HELPER_NAME
from ssot_codemod.lazy_cst import cst
from ssot_codemod.rules._common import (
    HOOK_HOSTS,
    HOST_METHODS,
    RUNNER_METHODS,
    Bridge,
    bridges_in,
    built_source_of,
    first_param,
    has_async_runner_twin,
    iter_methods,
    source_of,
)
from ssot_codemod.rules._tree_gate import calls_attribute, found_inside, names_string
from ssot_codemod.rules.base import Plan, Rule
from ssot_codemod.types import FixSafety

if TYPE_CHECKING:
    from ssot_codemod.project.context import ProjectContext

# Every pattern here runs over whole files: each is linear by construction (see "Linear-time
# gates" in docs/architecture.md): no two neighbouring quantified parts can match the same
# character, and no repeated part can restart inside what an earlier attempt already scanned.
#
# `callee( ( recv . asyncSetUpClass (`: the hook as first argument, with only whitespace,
# parentheses or backslash continuations in between. `\b` starts an attempt only at a word's
# first character; `\s*\(` / `[\s(\\]*` / `\w+` / `\s*\.` alternate between disjoint classes.
_HOOK_AS_ARGUMENT = re.compile(
    rb"\b(?P<callee>\w+)\s*\([\s(\\]*\w+\s*\.\s*async(?:SetUp|TearDown)\w*\s*\("
)
# ... and when comments sit in between (`callee(  # why\n    self.asyncSetUp()`): a real
# comment ends its line, so the hook then starts a line and the last non-blank line before it
# holds a `#`. An attempt starts at a line's *last* `#` (`[^#\r\n]*` cannot pass another one),
# so no two attempts scan the same comment; the callee is not checked (the engine decides).
_HOOK_AFTER_COMMENT = re.compile(
    rb"#[^#\r\n]*[\r\n][\s(\\]*\w+\s*\.\s*async(?:SetUp|TearDown)\w*\s*\("
)

# Loose shapes (see _visitors.LooseBridgeFinder) need a runner in the file: run_until_complete or a
# call of something named ``run`` (asyncio.run under any import form keeps the word).
_HELPER_DEF = re.compile(rb"^def " + HELPER_NAME.encode() + rb"\(", re.MULTILINE)
_NEXT_TOP_LEVEL = re.compile(rb"\n(?=[^\s#])")


def _without_helper(data: bytes) -> bytes:
    """The bytes without an inserted ``run_coroutine_sync`` definition, whose own body runs
    coroutines on loops and would otherwise make every rewritten file look like a candidate."""
    found = _HELPER_DEF.search(data)
    if found is None:
        return data
    end = _NEXT_TOP_LEVEL.search(data, found.end())
    return data[: found.start()] + (data[end.start() :] if end else b"")


_RUNNER_WORD = re.compile(rb"run(?:_until_complete|(?<=\brun)\s*\()")
# ... and a hook called with no arguments (a comment right after `(` counts: its end cannot be
# found without rescanning it), or fetched with getattr.
_LOOSE_HOOK = re.compile(
    rb"\.\s*async(?:SetUp|TearDown)\w*\s*\(\s*[)#]"
    rb"|getattr\s*\(\s*\w+\s*,\s*[\"']async(?:SetUp|TearDown)\w*[\"']"
)

_LIMIT = (
    "where {host} is reached from async code, {hook} then runs on a separate loop: "
    "await {receiver}.{hook}() there instead"
)


class BridgeRule(Rule):
    code = "SSC001"
    name = "async-hook-bridge"
    summary = "A sync setUp/tearDown runs the async hook with run_until_complete or asyncio.run"
    why = (
        "`loop.run_until_complete(self.asyncSetUp())` only works when no event loop is running "
        "in the thread. Reached from async code (pytest-asyncio, an async fixture) or re-entered "
        "from `asyncSetUp` itself, it fails with `RuntimeError: This event loop is already "
        "running`. The fix calls `run_coroutine_sync(coro, loop)`, a helper defined once per "
        "module: with no loop running it is exactly the old call on the same loop (left open and "
        "current); inside a running loop it runs the coroutine to completion on a worker thread "
        "instead of failing, and a re-entrant call for the same test returns at once. Blocking "
        "the running loop on a thread that needs that loop (the naive fix) deadlocks. Classes "
        "that are IsolatedAsyncioTestCases - directly, or through bases in any file of the "
        "project - are left to SSC005."
    )
    example = (
        "class Base(unittest.TestCase):\n"
        "    def setUp(self):\n"
        "        loop = asyncio.get_event_loop()\n"
        "        loop.run_until_complete(self.asyncSetUp())\n"
    )
    use_instead = (
        "class Base(unittest.TestCase):\n"
        "    def setUp(self):\n"
        "        loop = asyncio.get_event_loop()\n"
        "        run_coroutine_sync(self.asyncSetUp(), loop)\n"
    )
    fix_safety: ClassVar[FixSafety] = "safe"
    needles = ((b"asyncSetUp", b"asyncTearDown"),)

    def could_match(self, data: bytes) -> bool:
        """A call whose first argument is ``<name>.asyncSetUp()`` (or another hook), other than
        the already rewritten ``run_coroutine_sync(...)``."""
        if not super().could_match(data):
            return False
        data = _without_helper(data)
        if _RUNNER_WORD.search(data) is not None and _LOOSE_HOOK.search(data) is not None:
            return True  # a bridge in a shape that is only reported may be there
        if any(
            match.group("callee") != HELPER_NAME.encode()
            for match in _HOOK_AS_ARGUMENT.finditer(data)
        ):
            return True
        return _HOOK_AFTER_COMMENT.search(data) is not None

    def could_match_tree(self, tree: ast.Module, context: ProjectContext | None = None) -> bool:
        """A sync ``def`` holding a call of ``<x>.asyncSetUp`` (or another hook) or the hook's
        name as a string.

        Everything :meth:`analyze` reports is in a sync method: a bridge (``bridges_in``) has
        ``recv.<hook>()`` as an argument; a loose shape (``LooseBridgeFinder``) needs a hook
        mention (``HookMention``: ``<x>.<hook>()``, or ``getattr(x, '<hook>')``), since a
        local it follows was assigned from one. Hook names are ASCII, and ``ast`` spells an
        ASCII identifier as written (it only NFKC-normalises), so every name LibCST matches is
        seen here too. Arguments, receivers and the runner are not checked: the gate only has
        to be weaker than the rule.
        """
        return found_inside(
            tree,
            lambda node: isinstance(node, ast.FunctionDef),
            lambda node: calls_attribute(node, HOOK_HOSTS) or names_string(node, HOOK_HOSTS),
        )

    def analyze(self, module: cst.Module, index: ModuleIndex, plan: Plan) -> None:
        for info in index.classes.values():
            facts = index.facts(info)
            if facts.runs_async_hooks or has_async_runner_twin(index, info):
                # IsolatedAsyncioTestCase & co. run asyncSetUp themselves; a bridge there is a
                # version-gated fallback or a backport, not this bug. So is a bridge in a class
                # that another definition of the same name (``if sys.version_info >= ...:``
                # ``class T(IsolatedAsyncioTestCase)`` ``else: class T(TestCase)``) replaces.
                continue
            for method in iter_methods(info):
                name = method.name.value
                if name in RUNNER_METHODS:
                    continue
                bridges = bridges_in(method, index)
                for bridge in bridges:
                    if bridge.kind == "rewritten":
                        continue
                    statement = bridge.statement
                    if statement is not None and id(statement) in plan.removals:
                        continue  # SSC004 (which plans first) deletes this bridge: form C
                    self._handle(module, index, info, method, bridge, plan)
                if not facts.overrides_runner:  # a backport of IsolatedAsyncioTestCase
                    known = {id(b.call) for b in bridges}
                    self._report_loose(module, index, info, method, known, plan)

    def _report_loose(
        self,
        module: cst.Module,
        index: ModuleIndex,
        info: ClassInfo,
        method: cst.FunctionDef,
        known: set[int],
        plan: Plan,
    ) -> None:
        """Bridges in shapes the fix does not cover: reported, never rewritten."""
        if method.asynchronous is not None or not index.mentions(method, HOOK_HOSTS):
            return
        text = index.code_for(method)
        # A loose shape calls a hook (or getattr()s one) outside the bridges already matched;
        # checking the text first spares visiting every setUp that only has the plain bridge.
        for bridge in bridges_in(method, index):
            text = text.replace(index.code_for(bridge.call), "")
        if _LOOSE_HOOK.search(text.encode("utf-8", "surrogatepass")) is None:
            return
        receiver = first_param(method)
        if receiver is None:
            return
        from ssot_codemod.rules._visitors import LooseBridgeFinder  # LibCST: parsed files only

        finder = LooseBridgeFinder(index, info, receiver)
        method.body.visit(finder)
        where = f"{info.name}.{method.name.value}"
        for call, shape in finder.matches():
            if id(call) in known:
                continue
            plan.report(
                self.code,
                call,
                f"`{source_of(index, call)}` in {where} runs an async hook on an event loop "
                f"({shape}); it fails with 'This event loop is already running' when reached "
                "from a running loop; not rewritten because this shape is not the plain "
                "`loop.run_until_complete(self.asyncSetUp())` — change it by hand to "
                "`run_coroutine_sync(coro, loop)` or await the hook from async code",
            )

    def _handle(
        self,
        module: cst.Module,
        index: ModuleIndex,
        info: ClassInfo,
        method: cst.FunctionDef,
        bridge: Bridge,
        plan: Plan,
    ) -> None:
        where = f"{info.name}.{method.name.value}"
        original = source_of(index, bridge.call)
        if method.name.value not in HOST_METHODS:
            plan.report(
                self.code,
                bridge.call,
                f"`{original}` in helper method {where} fails with 'This event loop is already "
                "running' when reached from a running loop; not rewritten because it is not "
                "setUp/tearDown itself — check its callers and apply the same fix by hand",
            )
            return
        if "pytest" in index.code_for(method).lower() and _skips_hook_under_pytest(module, method):
            plan.report(
                self.code,
                bridge.call,
                f"{where} skips `{original}` when it detects pytest, so under pytest the async "
                "setup silently never runs; not rewritten — remove the pytest check and let "
                "the fixed bridge run everywhere",
            )
            return
        replacement = _rewrite_call(bridge)
        plan.replace(bridge.call, replacement)
        plan.needs_helper = True
        plan.report(
            self.code,
            bridge.call,
            f"`{original}` in {where} fails with 'This event loop is already running' inside a "
            f"running loop; use `{built_source_of(index, replacement)}` ("
            + _LIMIT.format(host=method.name.value, hook=bridge.hook, receiver=_receiver(bridge))
            + ")",
            fix="safe",
            applied=True,
        )


def _receiver(bridge: Bridge) -> str:
    func = bridge.hook_call.func
    if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name):
        return func.value.value
    return "self"


def _rewrite_call(bridge: Bridge) -> cst.Call:
    """``X.run_until_complete(hook())`` -> ``run_coroutine_sync(hook(), X)``, keeping the
    argument's own whitespace, a trailing comma and the layout of a multi-line call."""
    original_arg = bridge.call.args[0]
    if bridge.loop is None:
        return bridge.call.with_changes(func=cst.Name(HELPER_NAME), args=[original_arg])
    trailing = original_arg.comma
    first_comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    loop_comma = trailing
    before_args = bridge.call.whitespace_before_args
    if (
        isinstance(trailing, cst.Comma)
        and isinstance(trailing.whitespace_after, cst.ParenthesizedWhitespace)
        and isinstance(before_args, cst.ParenthesizedWhitespace)
    ):
        # One argument per line: the hook keeps its line (and the comment after its comma),
        # the loop goes on a new line indented like the hook, the closing line is unchanged.
        after = trailing.whitespace_after
        first_comma = trailing.with_changes(
            whitespace_after=after.with_changes(
                empty_lines=(), indent=before_args.indent, last_line=before_args.last_line
            )
        )
        loop_comma = trailing.with_changes(
            whitespace_after=after.with_changes(
                first_line=cst.TrailingWhitespace(newline=after.first_line.newline)
            )
        )
    # Real code passes names, attributes and calls as the loop: no parentheses needed.
    loop_arg = cst.Arg(
        value=bridge.loop,
        comma=loop_comma,
        whitespace_after_arg=original_arg.whitespace_after_arg,
    )
    first = original_arg.with_changes(
        comma=first_comma,
        whitespace_after_arg=cst.SimpleWhitespace(""),
    )
    return bridge.call.with_changes(func=cst.Name(HELPER_NAME), args=[first, loop_arg])


def _skips_hook_under_pytest(module: cst.Module, method: cst.FunctionDef) -> bool:
    """An ``if`` in the host method whose condition looks for pytest (the 'detect pytest and
    skip asyncSetUp' workaround)."""
    from ssot_codemod.rules._visitors import PytestCheckFinder  # LibCST: parsed files only

    finder = PytestCheckFinder(module)
    method.body.visit(finder)
    return finder.found
