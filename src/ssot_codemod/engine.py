"""Parse once, run the selected rules, apply their plan, verify the result. Never touches disk.

A text goes through two gates before LibCST sees it: each rule's byte prefilter
(``Rule.could_match``), then CPython's parser - which guards LibCST's parser against input that
would crash it - and each rule's gate over that ``ast`` tree (``Rule.could_match_tree``).
:func:`screen` runs both; only a text some rule still wants is parsed with LibCST. Importing
this module does not import LibCST (``lazy_cst.py``): a run whose candidates all fail the tree
gates never pays for it. :func:`load_libcst` imports what the LibCST stage needs.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ssot_codemod.analysis import ModuleIndex
from ssot_codemod.lazy_cst import cst
from ssot_codemod.nesting import deeper_than
from ssot_codemod.project.context import ProjectContext
from ssot_codemod.rules import ALL_RULES
from ssot_codemod.rules import could_match as could_match  # the prefilter, re-exported
from ssot_codemod.rules.base import Plan, Rule
from ssot_codemod.types import EngineError, Finding, FixResult

if TYPE_CHECKING:
    from ssot_codemod.sourcemap import SourceMap, StatementSourceMap


def load_libcst() -> None:
    """Import LibCST and the engine's modules built on it (~0.3 s, once per process), so that a
    caller can do it outside a file's time budget before :func:`fix_source` needs them."""
    import libcst  # noqa: F401

    import ssot_codemod.module_edits
    import ssot_codemod.plan_apply
    import ssot_codemod.rules._visitors
    import ssot_codemod.sourcemap
    import ssot_codemod.splice_codegen  # noqa: F401


@dataclass(frozen=True)
class Screened:
    """What the gates left of a text's rules, and CPython's syntax error for it, if any."""

    rules: tuple[Rule, ...]  # empty: no rule can find anything, LibCST need not parse the text
    # CPython refused the text (LibCST, which may accept newer grammar, still gets it): its
    # position is the one reported should LibCST refuse it too.
    syntax_error: SyntaxError | None = None
    # Where CPython put each top-level statement (:func:`statement_lines`), when it parsed
    # the text: a rewrite's map generates only the statements asked about; and each
    # statement of a top-level class's body (:func:`member_lines`).
    statement_lines: StatementLines | None = None
    member_lines: MemberLines = ()


@dataclass(frozen=True)
class TreeVerdict:
    """What :func:`screen` would learn from CPython's tree of a file, made where that tree
    exists already (the first pass parses the files the project index summarises), so that
    the engine does not parse the same bytes again, in whichever process it runs. Plain data:
    it travels with the task to a pool worker, and holds no tree.
    """

    digest: bytes  # of the UTF-8 bytes parsed: a verdict is used only for the same text
    with_context: bool  # whether the rules' facts assumed a project context
    facts: dict[str, object]  # rule code -> Rule.tree_facts of the tree
    statement_lines: StatementLines = ()  # :func:`statement_lines` of the tree
    member_lines: MemberLines = ()  # :func:`member_lines` of the tree


def tree_verdict(
    tree: ast.Module, data: bytes, rules: Sequence[Rule], *, with_context: bool
) -> TreeVerdict | None:
    """The crash guard's and *rules*' tree gates' findings on *tree*, ``ast.parse(data)``
    (``data`` UTF-8 or ASCII bytes: a text whose UTF-8 is not *data* never uses it). None
    when the guard refuses the tree: the engine then parses and reports it itself."""
    if _crashes_libcst(tree, data) is not None:
        return None
    facts = {rule.code: rule.tree_facts(tree, with_context=with_context) for rule in rules}
    return TreeVerdict(
        _digest(data), with_context, facts, statement_lines(tree), member_lines(tree)
    )


# Per top-level statement of a module: its first line (its first decorator's) and its last.
StatementLines = tuple[tuple[int, int], ...]
# Per top-level class: its place among the module's statements, and the lines of each
# statement of its body.
MemberLines = tuple[tuple[int, StatementLines], ...]


def statement_lines(tree: ast.Module) -> StatementLines:
    """Where CPython put each top-level statement of *tree* (1-based lines)."""
    return _lines_of(tree.body)


def member_lines(tree: ast.Module) -> MemberLines:
    """Where CPython put each statement of the body of each top-level class of *tree*."""
    return tuple(
        (position, _lines_of(stmt.body))
        for position, stmt in enumerate(tree.body)
        if isinstance(stmt, ast.ClassDef)
    )


def _lines_of(body: list[ast.stmt]) -> StatementLines:
    return tuple(
        (
            stmt.decorator_list[0].lineno
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and stmt.decorator_list
            else stmt.lineno,
            stmt.end_lineno or stmt.lineno,
        )
        for stmt in body
    )


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def rules_left_by_verdict(
    verdict: TreeVerdict,
    data: bytes,
    rules: Sequence[Rule],
    context: ProjectContext | None,
) -> list[Rule] | None:
    """The *rules* whose tree gates pass by *verdict* for *data* (the bytes a tree was or would
    be parsed from) with *context*; None when the verdict does not answer them: other bytes, a
    rule without facts, or made for a context exactly when there is none (or the reverse)."""
    if (
        verdict.with_context != (context is not None)
        or not all(rule.code in verdict.facts for rule in rules)
        or verdict.digest != _digest(data)
    ):
        return None
    return [rule for rule in rules if rule.could_match_facts(verdict.facts[rule.code], context)]


def screen(
    source: str,
    *,
    rules: Sequence[Rule] | None = None,
    prefiltered: bool = False,
    tree_gates: bool = True,
    context: ProjectContext | None = None,
    verdict: TreeVerdict | None = None,
) -> Screened:
    """The rules that may find something in *source*, by its bytes and by its ``ast`` tree.

    Raises :class:`EngineError` for input that would crash LibCST's parser. A text CPython
    cannot parse keeps every rule its bytes passed. ``tree_gates=False`` skips the rules' tree
    gates (the tests compare both ways). *verdict*: :func:`tree_verdict` of this text's bytes
    if the caller has it, used instead of a parse when it fits (same bytes, every candidate's
    facts, made for a context exactly when there is one).
    """
    candidates = _candidates(source, rules, prefiltered=prefiltered)
    if not candidates:
        return Screened(())
    if verdict is not None:
        # CPython parses a text and its UTF-8 bytes alike: a verdict on those bytes is on its
        # tree.
        data = source.encode("utf-8", "surrogatepass")
        left = rules_left_by_verdict(verdict, data, candidates, context)
        if left is not None:
            return Screened(
                tuple(left if tree_gates else candidates),
                statement_lines=verdict.statement_lines or None,
                member_lines=verdict.member_lines,
            )
    tree, syntax_error = _refuse_parser_crashers(source)
    if tree is None:
        return Screened(tuple(candidates), syntax_error)
    if tree_gates:
        candidates = [rule for rule in candidates if rule.could_match_tree(tree, context)]
    return Screened(
        tuple(candidates), statement_lines=statement_lines(tree), member_lines=member_lines(tree)
    )


def fix_source(
    source: str,
    *,
    rules: Sequence[Rule] | None = None,
    unsafe_fixes: bool = False,
    helper_module: str | None = None,
    fix: bool = True,
    prefiltered: bool = False,
    context: ProjectContext | None = None,
    tree_gates: bool = True,
    screened: Screened | None = None,
) -> FixResult:
    """Findings for ``source`` and the rewritten text (equal to ``source`` when nothing applies).

    ``prefiltered=True`` says the caller already kept only the rules whose ``could_match``
    accepted these bytes (the api does, to choose the files worth parsing). ``screened`` is
    :func:`screen`'s result for this very ``source`` when the caller ran it already (then
    ``rules``, ``prefiltered`` and ``tree_gates`` only matter for the verification pass).
    With ``fix=False`` (``check``) only the findings are computed; ``code`` is the source.
    ``context`` is what the project index knows about the other files (bases defined there);
    without it, anything outside this module is unknown (the single-file view).
    Raises :class:`EngineError` with a one-line reason when the file cannot be handled.
    """
    settings = _Settings(rules, unsafe_fixes, helper_module, context, tree_gates)
    # First with maps that generate only the statements asked about; should one of those
    # statements not come back as its own text, everything again with whole-module maps.
    attempt = _Attempt()
    try:
        result = _fix(source, settings, fix, prefiltered, screened, attempt)
    except Exception:
        if not attempt.inexact():
            raise
        return _fix(source, settings, fix, prefiltered, screened, None)
    if attempt.inexact():
        return _fix(source, settings, fix, prefiltered, screened, None)
    return result


@dataclass(frozen=True)
class _Settings:
    """What :func:`fix_source` was asked, for both of its attempts and their verification."""

    rules: Sequence[Rule] | None
    unsafe_fixes: bool
    helper_module: str | None
    context: ProjectContext | None
    tree_gates: bool


@dataclass
class _Attempt:
    """The statement-wise maps (:class:`~ssot_codemod.sourcemap.StatementSourceMap`) one
    :func:`fix_source` made, its own and its verification's."""

    maps: list[StatementSourceMap] = field(default_factory=list)

    def inexact(self) -> bool:
        return any(source.inexact for source in self.maps)


def _fix(
    source: str,
    settings: _Settings,
    fix: bool,
    prefiltered: bool,
    screened: Screened | None,
    attempt: _Attempt | None,
) -> FixResult:
    result, rewrite = _run(
        source, settings, fix=fix, prefiltered=prefiltered, screened=screened, attempt=attempt
    )
    if result.changed:
        _verify(result, rewrite, settings, attempt)
    return result


@dataclass(frozen=True)
class _Rewrite:
    """The tree a rewrite was generated from, when its text is exactly the rewrite (not
    spliced into the original), with the SourceMap that generated that text."""

    module: cst.Module
    source: SourceMap


def _run(
    source: str,
    settings: _Settings,
    *,
    fix: bool = True,
    prefiltered: bool = False,
    screened: Screened | None = None,
    attempt: _Attempt | None = None,
) -> tuple[FixResult, _Rewrite | None]:
    rules, unsafe_fixes, context = settings.rules, settings.unsafe_fixes, settings.context
    if screened is None:
        screened = screen(
            source,
            rules=rules,
            prefiltered=prefiltered,
            tree_gates=settings.tree_gates,
            context=context,
        )
    if not screened.rules:
        return FixResult(source, source, parsed=False), None

    from ssot_codemod.module_edits import (  # LibCST: parsed files only
        add_helper_and_imports,
        helper_donor,
    )
    from ssot_codemod.plan_apply import PlanApplier
    from ssot_codemod.splice_codegen import rewrite_source_map

    module = _parse_libcst(source, screened.syntax_error)
    source_map = None
    if attempt is not None and screened.statement_lines is not None:
        from ssot_codemod.sourcemap import statement_source_map

        source_map = statement_source_map(
            module, source, screened.statement_lines, screened.member_lines
        )
        if source_map is not None:
            attempt.maps.append(source_map)
    index, plan = _analyze(
        module, screened.rules, unsafe_fixes=unsafe_fixes, context=context, source=source_map
    )
    if not plan.findings:
        return FixResult(source, source), None

    findings = _position(index, plan)
    if not fix:
        return FixResult(source, source, findings), None
    roundtrip = index.source.code
    ancestors = index.source.ancestors(
        plan.removals | set(plan.replacements) | set(plan.insertions)
    )
    if not _edits(plan):
        return FixResult(source, source, findings), None
    applier = PlanApplier(plan, ancestors)
    new_module = module.visit(applier)
    if not isinstance(new_module, cst.Module):  # pragma: no cover - a Module always comes back
        raise EngineError("internal error: the rewrite removed the module")
    # Every node the plan does not remove or replace is kept (the same object), so only names
    # read in the replaced nodes can leave the module, and most of it need not be visited again.
    final = add_helper_and_imports(
        new_module,
        plan,
        settings.helper_module,
        module,
        removed=applier.replaced,
        source=index.source,
    )
    # The rewrite's text, and the verification's node texts: generated for what changed only,
    # the kept statements' texts reused from the original's code generation.
    donors = (
        [helper_donor(final.default_newline, final.default_indent)] if plan.needs_helper else []
    )
    final_source = rewrite_source_map(final, module, index.source, applier.rebuilt, donors)
    new_code = final_source.code
    if roundtrip != source:
        spliced = _splice(source, roundtrip, new_code)
        if spliced is None:
            raise EngineError(
                "LibCST does not round-trip this file byte-exactly and the rewrite touches a "
                f"line it would change; not rewritten ({len(findings)} finding(s))"
            )
        return FixResult(source, spliced, findings), None
    return FixResult(source, new_code, findings), _Rewrite(final, final_source)


def _candidates(
    source: str, rules: Sequence[Rule] | None, *, prefiltered: bool = False
) -> list[Rule]:
    """The selected rules that may find something in *source*."""
    selected = ALL_RULES if rules is None else rules
    if prefiltered:
        return list(selected)
    data = source.encode("utf-8", "surrogatepass")
    return [rule for rule in selected if rule.could_match(data)]


def _analyze(
    module: cst.Module,
    candidates: Sequence[Rule],
    *,
    unsafe_fixes: bool,
    context: ProjectContext | None,
    source: SourceMap | None = None,
) -> tuple[ModuleIndex, Plan]:
    plan = Plan(unsafe_fixes=unsafe_fixes)
    index = ModuleIndex(module, context, source=source)
    for rule in candidates:
        rule.analyze(module, index, plan)
    return index, plan


def _edits(plan: Plan) -> bool:
    """Whether applying *plan* can change the module (findings alone do not)."""
    return bool(plan.replacements or plan.removals or plan.insertions)


def _splice(source: str, roundtrip: str, rewritten: str) -> str | None:
    """Carry the rewrite's line edits over to the original text.

    LibCST normalises a few constructs (``except A :`` comes back as ``except A:``). Writing its
    output would change lines no rule touched, so the edits (roundtrip -> rewritten) are applied
    to the original instead, provided every edited line is one LibCST reproduced exactly.
    """
    base = roundtrip.splitlines(keepends=True)
    original = source.splitlines(keepends=True)
    new = rewritten.splitlines(keepends=True)
    to_original: dict[int, int] = {}
    for tag, i1, i2, j1, _j2 in difflib.SequenceMatcher(None, base, original, False).get_opcodes():
        if tag == "equal":
            for offset in range(i2 - i1):
                to_original[i1 + offset] = j1 + offset
    to_original[len(base)] = len(original)
    edits: list[tuple[int, int, list[str]]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, base, new, False).get_opcodes():
        if tag == "equal":
            continue
        if any(i not in to_original for i in range(i1, i2 + 1)):
            return None
        start = to_original[i1]
        end = to_original[i2 - 1] + 1 if i2 > i1 else start
        if i2 > i1 and end - start != i2 - i1:
            return None
        if i1 > 0 and (i1 - 1) in to_original and to_original[i1 - 1] + 1 != start:
            return None
        edits.append((start, end, new[j1:j2]))
    for start, end, lines in reversed(edits):
        original[start:end] = lines
    spliced = "".join(original)
    try:
        if cst.parse_module(spliced).code != rewritten:
            return None
    except Exception:
        return None
    return spliced


# Deeper than this, LibCST's native parser can overflow its stack and kill the whole process
# (seen with 3,000 nested brackets or 10,000-term sums); real code stays far below it.
MAX_NESTING = 1500
# Lambdas in each other's parameter defaults (``lambda a=lambda a=...``) overflow it sooner:
# from ~590 of them (1,193 ``ast`` levels, 8 MB of stack), so lambdas nested in each other are
# counted on their own, with room for a smaller stack.
MAX_LAMBDA_NESTING = 250


def _crashes_libcst(tree: ast.Module, data: bytes) -> str | None:
    """Why LibCST's parser may crash on the text *data* that CPython parsed as *tree*, or
    None."""
    if deeper_than(tree, data, MAX_NESTING):
        return f"nested more than {MAX_NESTING} levels deep"
    if data.count(b"lambda") > MAX_LAMBDA_NESTING and _lambda_depth(tree) > MAX_LAMBDA_NESTING:
        return f"lambdas nested more than {MAX_LAMBDA_NESTING} deep"
    return None


def _lambda_depth(tree: ast.AST) -> int:
    """The most lambdas in *tree* inside one another."""
    deepest = 0
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, ast.Lambda):
            depth += 1
            deepest = max(deepest, depth)
        stack.extend((child, depth) for child in ast.iter_child_nodes(node))
    return deepest


def parse_module(source: str) -> cst.Module:
    """LibCST's tree of *source*; :class:`EngineError` (one line) when it cannot be parsed.

    A syntax error is reported at CPython's position (``line L:C``, column 1-based): LibCST's
    error position can be lines away from the real error.
    """
    _tree, cpython_error = _refuse_parser_crashers(source)
    return _parse_libcst(source, cpython_error)


def _parse_libcst(source: str, cpython_error: SyntaxError | None) -> cst.Module:
    """:func:`parse_module` once the crash guard let *source* through."""
    try:
        return cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        if cpython_error is not None:
            raise EngineError(_syntax_error_message(cpython_error)) from None
        message = str(exc.message).splitlines()[0] if exc.message else "invalid syntax"
        raise EngineError(
            f"cannot parse: line {exc.raw_line}:{exc.raw_column + 1}: {message}"
        ) from None
    except RecursionError:
        raise EngineError(
            "cannot parse: LibCST hit the recursion limit (deeply nested expression)"
        ) from None
    except Exception as exc:  # LibCST's native parser raises a few other error types
        if cpython_error is not None:
            raise EngineError(_syntax_error_message(cpython_error)) from None
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise EngineError(f"cannot parse: {first}") from None


def _syntax_error_message(exc: SyntaxError) -> str:
    message = " ".join(str(exc.msg or "invalid syntax").split())
    if exc.lineno is None:
        return f"cannot parse: {message}"
    column = f":{exc.offset}" if exc.offset else ""
    return f"cannot parse: line {exc.lineno}{column}: {message}"


def _refuse_parser_crashers(source: str) -> tuple[ast.Module | None, SyntaxError | None]:
    """Turn input that would crash LibCST's parser into a per-file error.

    A segfault cannot be caught, so CPython's own parser (fast, and hardened against such input)
    looks first. A plain syntax error is left to LibCST, which may accept newer grammar than the
    running interpreter, and returned so that LibCST's error can be reported at CPython's exact
    position; only what CPython refuses as too deep or too complex stops here. Returns CPython's
    tree (None when it has none) and its syntax error (None when it has none).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes etc. are not our business
            tree = ast.parse(source)
    except (MemoryError, RecursionError):
        raise EngineError("cannot parse: too deeply nested or too complex") from None
    except SyntaxError as exc:
        if "too many nested" in str(exc.msg) or "too complex" in str(exc.msg):
            raise EngineError(f"cannot parse: {exc.msg}") from None
        return None, exc
    except ValueError:
        return None, None
    crash = _crashes_libcst(tree, source.encode("utf-8", "surrogatepass"))
    if crash is not None:
        raise EngineError(f"cannot parse: {crash}, which crashes LibCST's parser")
    return tree, None


def _position(index: ModuleIndex, plan: Plan) -> tuple[Finding, ...]:
    findings = []
    for planned in plan.findings:
        node = planned.node
        # Point at a definition's name, like ruff, not at its decorators or leading comments.
        start_node = node.name if isinstance(node, (cst.FunctionDef, cst.ClassDef)) else node
        # The node first: a statement-wise map knows where a definition is, not its name.
        end_line, end_column = index.source.end(node)
        line, column = index.source.start(start_node)
        findings.append(
            Finding(
                code=planned.code,
                message=planned.message,
                line=line,
                column=column,
                end_line=end_line,
                end_column=end_column,
                fix=planned.fix,
                applied=planned.applied,
            )
        )
    findings.sort(key=lambda f: (f.line, f.column, f.code))
    return tuple(findings)


def _to_compile(code: str, rewrite: _Rewrite | None) -> list[tuple[int, str]]:
    """What of a rewrite's *code* must compile, as (first line, text) runs: the top-level
    statements it generated. A statement it kept is the original's own lines, which CPython
    parsed (whether the original compiles is not the rewrite's doing), or the inserted
    helper's, compiled once (``module_edits.helper_donor``). What one top-level
    statement means to the compiler does not depend on another, except where ``__future__``
    imports must come first: a module naming ``__future__`` is compiled whole, as is a
    rewrite spliced into the original's text (no tree to tell the statements apart)."""
    if rewrite is None or "__future__" in code:
        return [(1, code)]
    source, runs = rewrite.source, []
    text: list[str] = []
    first_line = 0
    for stmt in rewrite.module.body:
        if source.verbatim(stmt):
            if text:
                runs.append((first_line, "".join(text)))
                text = []
            continue
        if not text:
            first_line = source.start(stmt)[0]
        text.append(source.text(stmt) or "")
    if text:
        runs.append((first_line, "".join(text)))
    return runs


def _verify(
    result: FixResult,
    rewrite: _Rewrite | None,
    settings: _Settings,
    attempt: _Attempt | None,
) -> None:
    """A rewrite is written only if it compiles and a second pass changes nothing.

    The second pass first runs the rules over the tree the rewrite's text was generated from
    (its nodes' texts recorded by that same code generation), which spares a second LibCST
    parse. Only a plan with no edits is accepted from it; should the rules want to edit that
    tree, the rewrite's text is parsed and analysed from scratch, and that decides.
    """
    for first_line, text in _to_compile(result.code, rewrite):
        try:
            # From the text: CPython's compiler never builds the ``ast`` objects that a parse
            # and then a compile of the tree would (twice the cost).
            compile(text, "<ssot-codemod rewrite>", "exec", dont_inherit=True)
        except SyntaxError as exc:
            line = first_line + (exc.lineno or 1) - 1
            raise EngineError(
                f"rewrite does not compile ({exc.msg}, line {line}); not written"
            ) from None
    if rewrite is not None:
        # The rules whose byte prefilter the rewrite passes (their tree gates would need a parse).
        candidates = _candidates(result.code, settings.rules)
        try:
            _index, plan = _analyze(
                rewrite.module,
                candidates,
                unsafe_fixes=settings.unsafe_fixes,
                context=settings.context,
                source=rewrite.source,
            )
        except EngineError as exc:
            raise EngineError(f"rewrite cannot be re-analysed ({exc}); not written") from None
        if not _edits(plan):
            return
    try:
        again, _rewrite = _run(result.code, settings, attempt=attempt)
    except EngineError as exc:
        raise EngineError(f"rewrite cannot be re-analysed ({exc}); not written") from None
    if again.changed:
        raise EngineError("rewrite is not stable (a second pass changes it again); not written")
