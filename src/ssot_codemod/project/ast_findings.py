"""SSC004's findings from CPython's ``ast``, for ``check``, where no edit is planned.

On an SSOT-shaped tree most candidate files are sent to the engine by SSC004 alone: test
modules whose classes inherit a plain ``unittest.TestCase`` from a framework base in another
file. The project index has already parsed them (with ``ast``, ~10x faster than LibCST); what
the rule reports there follows from the index's facts, so parsing them again with LibCST and
regenerating their text for positions cost most of a run.

This module answers only for the plain shape - every class at module level under a unique
name, none listing ``unittest.TestCase`` itself (no root to plan: form C happens in another
file), no mixin lending async tests, an ASCII file with ``\\n`` line ends whose positions can be
read from ``ast`` exactly - and returns None for anything else, which the engine then handles
(LibCST). The findings are the rule's own (:class:`~ssot_codemod.rules.ssc004_async_tests.
AsyncTestNeverRunsRule`), word for word and position for position; a test runs every fixture
project both ways and compares the results.

In ``check`` only (its fixes are edits), SSC002's findings come from here too, for files whose
candidate rules are SSC002 and SSC004 at most: the generated SSOT tree's ``super().setUp()`` in
``async def asyncSetUp`` of a class whose framework base bridges from another file. Only the
rule's re-entry branch is ported, for a call alone on its line (``ClassSummary.sync_calls``);
an elif/else branch, ``super(Cls, self)``, parentheses, semicolons, tabs, a class of the file
defining the sync method, IsolatedAsyncioTestCase or unknown bases return None.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from ssot_codemod.analysis import (
    _KNOWN_BASE_METHODS,
    ASYNC_AWARE_BASES,
    BUILTIN_OBJECT,
    LOCAL_PREFIX,
    RUNNER_METHODS,
    RUNS_ASYNC_HOOKS_BASES,
    TESTCASE_BASES,
    linearise,
)
from ssot_codemod.rules.ssc002_reentry import (
    SYNC_FOR_HOOK,
    defined_in_message,
    external_chain_step,
    reentry_message,
)
from ssot_codemod.rules.ssc004_async_tests import never_run_message, root_in_another_file
from ssot_codemod.types import Finding

if TYPE_CHECKING:
    from ssot_codemod.project.context import MethodSummary, ProjectContext
    from ssot_codemod.project.index import ProjectIndex
    from ssot_codemod.project.modules import AsyncTest, ClassSummary, ModuleSummary, SyncCall

__all__ = ["check_findings", "ssc002_findings", "ssc004_findings"]

# The codes this path may answer for (in check: SSC002's fixes are edits, so apply needs the
# engine for it).
ANSWERED = frozenset({"SSC002", "SSC004"})

CODE = "SSC004"
# ``async def name`` at a definition's start (its ``lineno``/``col_offset``); linear: the
# quantified parts are single character classes separated by literals.
_ASYNC_DEF = re.compile(rb"async[ \t]+def[ \t]+")


def check_findings(
    index: ProjectIndex,
    path: str | os.PathLike[str],
    data: bytes,
    context: ProjectContext,
    matched: tuple[str, ...],
    *,
    tree_gates: bool = True,
) -> tuple[tuple[Finding, ...], bool] | None:
    """The engine's findings for a file whose matched rules are among :data:`ANSWERED`, and
    whether the engine would have parsed it (``FixResult.parsed``), or None when the engine
    must decide. Each rule's part is its own function (the tests count their answers)."""
    found: list[Finding] = []
    parsed = False
    if "SSC002" in matched:
        reentry = ssc002_findings(index, path, data, context)
        if reentry is None:
            return None
        found.extend(reentry)
        # The engine drops SSC002 before parsing when its tree gate fails.
        parsed = not tree_gates or index.module(os.path.abspath(path)).reentry_gate
    if "SSC004" in matched:
        never_run = ssc004_findings(index, path, data, context)
        if never_run is None:
            return None
        found.extend(never_run)
        parsed = True  # SSC004's gate passes with a project context
    found.sort(key=lambda f: (f.line, f.column, f.code))
    return tuple(found), parsed


def ssc004_findings(
    index: ProjectIndex, path: str | os.PathLike[str], data: bytes, context: ProjectContext
) -> tuple[Finding, ...] | None:
    """SSC004's findings for a file, or None when the engine must decide."""
    summary = _plain_summary(index, path, data)
    if summary is None:
        return None
    return _Analysis(summary, data.split(b"\n"), context).findings()


def ssc002_findings(
    index: ProjectIndex, path: str | os.PathLike[str], data: bytes, context: ProjectContext
) -> tuple[Finding, ...] | None:
    """SSC002's findings for a file (check only: they are edits in apply), or None when the
    engine must decide."""
    summary = _plain_summary(index, path, data)
    if summary is None:
        return None
    return _Analysis(summary, data.split(b"\n"), context).reentry_findings()


def _plain_summary(
    index: ProjectIndex, path: str | os.PathLike[str], data: bytes
) -> ModuleSummary | None:
    """The file's summary when its shape is one this path reads exactly."""
    if not data.endswith(b"\n") or not data.isascii() or b"\r" in data or b"\x0c" in data:
        return None
    summary = index.module(os.path.abspath(path))
    if summary.error is not None or summary.deep or summary.star_imports:
        return None  # deep: LibCST may refuse it (an error this path would not reproduce)
    module_level = [d for defs in summary.classes.values() for d in defs]
    if len(module_level) != len(summary.all_classes) or any(
        len(defs) != 1 for defs in summary.classes.values()
    ):
        return None  # nested or reused class names: keys and scopes the engine works out
    return summary


class _Facts:
    """``ClassFacts`` as SSC004's ``_never_awaits`` reads them."""

    __slots__ = ("is_testcase", "spoiled")

    def __init__(self, is_testcase: bool, spoiled: bool) -> None:
        self.is_testcase = is_testcase
        # async-aware, unknown bases, a metaclass or an overridden runner somewhere above
        self.spoiled = spoiled

    @property
    def never_awaits(self) -> bool:
        return self.is_testcase and not self.spoiled


class _Unsupported(Exception):
    """The file has a shape this path does not answer for: the engine decides."""


class _Analysis:
    """``ModuleIndex.facts``/``mro`` and ``AsyncTestNeverRunsRule.analyze`` over ``ast``."""

    def __init__(self, summary: ModuleSummary, lines: list[bytes], context: ProjectContext) -> None:
        self.summary = summary
        self.lines = lines
        self.context = context
        self.classes = {name: defs[0] for name, defs in summary.classes.items()}
        self._facts: dict[str, _Facts] = {}
        self._mro: dict[str, list[str] | None] = {}

    def findings(self) -> tuple[Finding, ...] | None:
        try:
            return self._findings()
        except _Unsupported:
            return None

    def _findings(self) -> tuple[Finding, ...]:
        if not any(self.facts(cls).never_awaits for cls in self.classes.values()):
            # The rule reports only about classes that never await (their tests, their root,
            # the mixins' tests they inherit): none here, whatever the shape of the rest.
            return ()
        for cls in self.classes.values():
            if any(base.names & TESTCASE_BASES for base in cls.bases):
                raise _Unsupported  # a root of form C: its plan needs the engine
            if not self.facts(cls).is_testcase and self._async_tests(cls, transparent=False):
                raise _Unsupported  # a mixin that may lend its async tests
        found: list[Finding] = []
        for cls in self.summary.all_classes:
            if not self.facts(cls).never_awaits:
                continue
            tests = self._async_tests(cls, transparent=True)
            if not tests:
                continue
            fix, suffix = self._fix_for(cls)
            for test in tests:
                message = never_run_message(cls.name, test.name, fix, suffix)
                line, column, end_line, end_column = self._span(test)
                found.append(
                    Finding(
                        code=CODE,
                        message=message,
                        line=line,
                        column=column,
                        end_line=end_line,
                        end_column=end_column,
                        fix="unsafe" if fix is not None else "none",
                        applied=bool(fix),
                    )
                )
        found.sort(key=lambda f: (f.line, f.column, f.code))
        return tuple(found)

    # -- the rule ---------------------------------------------------------------------------
    def _async_tests(self, cls: ClassSummary, *, transparent: bool) -> list[AsyncTest]:
        return [test for test in cls.async_tests if not transparent or test.transparent]

    def _fix_for(self, cls: ClassSummary) -> tuple[bool | None, str]:
        """The rule's ``_fix_for`` where no local class lists TestCase (the root is in another
        file, or there is none: a fix by hand)."""
        for key in self.mro(cls) or ():
            if key.startswith(LOCAL_PREFIX):
                continue  # no local class lists TestCase (checked first)
            external = self.context.by_id(key) or self.context.external(key)
            if external is None or external.root is None:
                continue
            return root_in_another_file(external)
        return None, ""  # _plan_fix finds no TestCase base to switch

    # -- SSC002 (ReentryRule.analyze) -------------------------------------------------------
    def reentry_findings(self) -> tuple[Finding, ...] | None:
        try:
            found = [
                self._reentry(cls, call)
                for cls in self.summary.all_classes
                for call in cls.sync_calls
            ]
        except _Unsupported:
            return None
        findings = [f for f in found if f is not None]
        findings.sort(key=lambda f: (f.line, f.column, f.code))
        return tuple(findings)

    def _reentry(self, cls: ClassSummary, call: SyncCall) -> Finding | None:
        """``ReentryRule._handle`` for a plain call in a class whose setUp bridges to the hook
        from another file; any other branch of the rule raises :class:`_Unsupported`."""
        hook, sync_name = call.hook, SYNC_FOR_HOOK[call.hook]
        if call.target not in ("self", "super") or not call.plain:
            raise _Unsupported  # super(Cls, self), parentheses, an elif/else branch
        shown = self._call_text(call)
        runs_hooks, unknown = self._reentry_facts(cls, frozenset({cls.name}))
        if runs_hooks or unknown:
            raise _Unsupported  # the IsolatedAsyncioTestCase case, or bases shown as text
        runner = self._lookup(cls, sync_name)
        if runner is None or not self._chain_bridges(cls, sync_name, hook):
            return None  # setUp does not run this hook: calling it is not a re-entry
        # The class itself does not define sync_name (_lookup raised): ``super()`` from it
        # and the instance reach the same definition, the runner.
        owner_key, method, owner_name = runner
        owner = self.context.by_id(owner_key) or self.context.external(owner_key)
        defined_in = defined_in_message(owner_name, method.name, owner.where) if owner else ""
        message = reentry_message(shown, f"{cls.name}.{hook}", sync_name, hook, defined_in)
        return Finding(
            code="SSC002",
            message=message,
            line=call.line,
            column=call.column + 1,
            end_line=call.end_line,
            end_column=call.end_column + 1,
            fix="safe",
            applied=True,
        )

    def _call_text(self, call: SyncCall) -> str:
        """The call's text, when its statement is the call alone on its line: then the
        statement (LibCST's ``Expr``) spans exactly the call's columns."""
        if call.end_line != call.line:
            raise _Unsupported
        line = self.lines[call.line - 1]
        if line[: call.column].strip(b" ") or (
            call.line > 1 and self.lines[call.line - 2].rstrip().endswith(b"\\")
        ):
            raise _Unsupported  # after a semicolon or a continuation, or tabs
        rest = line[call.end_column :].strip(b" ")
        if rest and not rest.startswith(b"#"):
            raise _Unsupported  # a semicolon and more
        text = line[call.column : call.end_column].decode("ascii")
        if "".join(text.split()) != text or "#" in text:
            raise _Unsupported  # spaces or comments inside: the message shows them normalised
        return text

    def _reentry_facts(self, cls: ClassSummary, seen: frozenset[str]) -> tuple[bool, bool]:
        """``ClassFacts.runs_async_hooks`` and whether ``unknown_bases`` is not empty."""
        runs_hooks = unknown = False
        for base in cls.bases:
            for key in base.names:
                if key.startswith(LOCAL_PREFIX):
                    parent = self.classes.get(key[len(LOCAL_PREFIX) :])
                    if parent is None or parent.name in seen:
                        unknown = True
                        continue
                    sub_hooks, sub_unknown = self._reentry_facts(parent, seen | {parent.name})
                    runs_hooks |= sub_hooks
                    unknown |= sub_unknown
                elif key in ASYNC_AWARE_BASES:
                    runs_hooks |= key in RUNS_ASYNC_HOOKS_BASES
                elif key in TESTCASE_BASES:
                    pass
                elif (external := self.context.external(key)) is not None:
                    runs_hooks |= external.runs_async_hooks
                    unknown |= bool(external.unknown_bases)
                elif key != BUILTIN_OBJECT:
                    unknown = True
        return runs_hooks, unknown

    def _lookup(self, cls: ClassSummary, name: str) -> tuple[str, MethodSummary, str] | None:
        """``ModuleIndex.lookup``: the definition in another file an instance sees (owner
        key, summary, owner's name), None when none is (unknown, a library's, nothing).
        A local class defining it raises :class:`_Unsupported` (its body is LibCST's)."""
        for key in self.mro(cls) or ():
            if key.startswith(LOCAL_PREFIX):
                local = self.classes.get(key[len(LOCAL_PREFIX) :])
                if local is None or name in local.method_names:
                    raise _Unsupported
            elif (external := self.context.by_id(key)) is not None:
                summary = external.method(name)
                if summary is not None:
                    return key, summary, external.name
                if name in external.method_names:
                    return None  # defined there, not summarised: unknown
            elif key in _KNOWN_BASE_METHODS:
                if name in _KNOWN_BASE_METHODS[key]:
                    return None  # a library's: not defined by the project
            else:
                return None
        return None

    def _chain_bridges(self, cls: ClassSummary, sync_name: str, hook: str) -> bool:
        """``ssc002_reentry._chain_bridges`` where no local class defines ``sync_name``."""
        for key in self.mro(cls) or ():
            external = self.context.by_id(key) or self.context.external(key)
            if external is not None:
                step = external_chain_step(external, sync_name, hook)
                if step is not None:
                    return step
                continue
            if not key.startswith(LOCAL_PREFIX):
                return False
            local = self.classes.get(key[len(LOCAL_PREFIX) :])
            if local is None or sync_name in local.method_names:
                raise _Unsupported
        return False

    # -- ModuleIndex over ast ---------------------------------------------------------------
    def facts(self, cls: ClassSummary, seen: frozenset[str] = frozenset()) -> _Facts:
        cached = self._facts.get(cls.name)
        if cached is None:
            cached = self._compute_facts(cls, seen | {cls.name})
            if not seen:
                self._facts[cls.name] = cached
        return cached

    def _compute_facts(self, cls: ClassSummary, seen: frozenset[str]) -> _Facts:
        is_testcase = is_async = unknown = False
        has_metaclass = cls.has_metaclass
        overrides_runner = any(name in RUNNER_METHODS for name in cls.method_names)
        for base in cls.bases:
            for key in base.names:
                if key.startswith(LOCAL_PREFIX):
                    parent = self.classes.get(key[len(LOCAL_PREFIX) :])
                    if parent is None or parent.name in seen:
                        unknown = True
                        continue
                    sub = self._compute_facts(parent, seen | {parent.name})
                    is_testcase |= sub.is_testcase
                    unknown |= sub.spoiled
                elif key in ASYNC_AWARE_BASES:
                    is_async = True
                elif key in TESTCASE_BASES:
                    is_testcase = True
                elif (external := self.context.external(key)) is not None:
                    is_testcase |= external.is_testcase
                    is_async |= external.is_async_aware
                    unknown |= bool(external.unknown_bases)
                    has_metaclass |= external.has_metaclass
                    overrides_runner |= external.overrides_runner
                elif key != BUILTIN_OBJECT:
                    unknown = True
        return _Facts(is_testcase, is_async or unknown or has_metaclass or overrides_runner)

    def mro(self, cls: ClassSummary) -> list[str] | None:
        key = LOCAL_PREFIX + cls.name
        if key not in self._mro:
            self._mro[key] = None  # guards against cycles while computing
            self._mro[key] = self._linearise(cls)
        return self._mro[key]

    def _linearise(self, cls: ClassSummary) -> list[str] | None:
        def local_mro(name: str) -> list[str] | None:
            parent = self.classes.get(name)
            return None if parent is None else self.mro(parent)

        keys = (set(base.names) for base in cls.bases)
        return linearise(cls.name, keys, local_mro, self.context)

    # -- positions --------------------------------------------------------------------------
    def _span(self, test: AsyncTest) -> tuple[int, int, int, int]:
        """Where the engine puts the finding: from the test's name to the end of its text as
        LibCST owns it (the newline of its last line; no trailing lines, checked here)."""
        line = self.lines[test.line - 1]
        found = _ASYNC_DEF.match(line, test.column)
        if found is None or not line.startswith(test.name.encode(), found.end()):
            raise _Unsupported  # ``async def \`` continued on another line
        end_line = test.end_line
        if end_line is None or self.lines[end_line - 1].rstrip().endswith(b"\\"):
            raise _Unsupported
        # Lines after the body that are not empty (comments, indented whitespace) may belong
        # to the function's block in LibCST: only empty lines up to the next code are known.
        after = end_line
        while after < len(self.lines) - 1 and not self.lines[after]:
            after += 1
        if after < len(self.lines) - 1 and self.lines[after].lstrip()[:1] in (b"#", b""):
            raise _Unsupported
        return test.line, found.end() + 1, end_line + 1, 1
