"""SSC001: a sync method runs the async hook with ``run_until_complete`` or ``asyncio.run``."""

from __future__ import annotations

import re
from typing import ClassVar

import libcst as cst

from ssot_codemod.analysis import ClassInfo, ModuleIndex
from ssot_codemod.helper_source import HELPER_NAME
from ssot_codemod.rules._common import (
    HOOK_HOSTS,
    HOST_METHODS,
    RUNNER_METHODS,
    Bridge,
    bridges_in,
    first_param,
    has_async_runner_twin,
    iter_methods,
    source_of,
)
from ssot_codemod.rules.base import Plan, Rule
from ssot_codemod.types import FixSafety

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

# Loose shapes (see _LooseBridgeFinder) need a runner in the file: run_until_complete or a
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
        if method.asynchronous is not None:
            return
        text = index.code_for(method)
        if not any(hook in text for hook in HOOK_HOSTS):
            return
        # A loose shape calls a hook (or getattr()s one) outside the bridges already matched;
        # checking the text first spares visiting every setUp that only has the plain bridge.
        for bridge in bridges_in(method, index):
            text = text.replace(index.code_for(bridge.call), "")
        if _LOOSE_HOOK.search(text.encode("utf-8", "surrogatepass")) is None:
            return
        receiver = first_param(method)
        if receiver is None:
            return
        finder = _LooseBridgeFinder(index, info, receiver)
        method.body.visit(finder)
        where = f"{info.name}.{method.name.value}"
        for call, shape in finder.matches():
            if id(call) in known:
                continue
            plan.report(
                self.code,
                call,
                f"`{source_of(module, call)}` in {where} runs an async hook on an event loop "
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
        original = source_of(module, bridge.call)
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
            f"running loop; use `{source_of(module, replacement)}` ("
            + _LIMIT.format(host=method.name.value, hook=bridge.hook, receiver=_receiver(bridge))
            + ")",
            fix="safe",
            applied=True,
        )


class _LooseBridgeFinder(cst.CSTVisitor):
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
        finder = _HookMention(self.aliases, self.receiver)
        expr.visit(finder)
        return finder.found


class _HookMention(cst.CSTVisitor):
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
    finder = _PytestCheckFinder(module)
    method.body.visit(finder)
    return finder.found


class _PytestCheckFinder(cst.CSTVisitor):
    def __init__(self, module: cst.Module) -> None:
        self.module = module
        self.found = False

    def visit_If(self, node: cst.If) -> None:
        if "pytest" in self.module.code_for_node(node.test).lower():
            self.found = True

    def visit_IfExp(self, node: cst.IfExp) -> None:
        if "pytest" in self.module.code_for_node(node.test).lower():
            self.found = True
