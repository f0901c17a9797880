"""Parse once, run the selected rules, apply their plan, verify the result. Never touches disk."""

from __future__ import annotations

import ast
import difflib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import libcst as cst

from ssot_codemod.analysis import ModuleIndex
from ssot_codemod.module_edits import add_helper_and_imports
from ssot_codemod.nesting import deeper_than
from ssot_codemod.project.context import ProjectContext
from ssot_codemod.rules import ALL_RULES
from ssot_codemod.rules import could_match as could_match  # the prefilter, re-exported
from ssot_codemod.rules.base import Plan, Rule
from ssot_codemod.sourcemap import SourceMap
from ssot_codemod.types import EngineError, Finding, FixResult


def fix_source(
    source: str,
    *,
    rules: Sequence[Rule] | None = None,
    unsafe_fixes: bool = False,
    helper_module: str | None = None,
    fix: bool = True,
    prefiltered: bool = False,
    context: ProjectContext | None = None,
) -> FixResult:
    """Findings for ``source`` and the rewritten text (equal to ``source`` when nothing applies).

    ``prefiltered=True`` says the caller already kept only the rules whose ``could_match``
    accepted these bytes (the api does, to choose the files worth parsing).
    With ``fix=False`` (``check``) only the findings are computed; ``code`` is the source.
    ``context`` is what the project index knows about the other files (bases defined there);
    without it, anything outside this module is unknown (the single-file view).
    Raises :class:`EngineError` with a one-line reason when the file cannot be handled.
    """
    result, rewrite = _run(
        source,
        rules=rules,
        unsafe_fixes=unsafe_fixes,
        helper_module=helper_module,
        fix=fix,
        prefiltered=prefiltered,
        context=context,
    )
    if result.changed:
        _verify(
            result,
            rewrite,
            rules=rules,
            unsafe_fixes=unsafe_fixes,
            helper_module=helper_module,
            context=context,
        )
    return result


@dataclass(frozen=True)
class _Rewrite:
    """The tree a rewrite was generated from, when its text is exactly the rewrite (not
    spliced into the original), with the SourceMap that generated that text."""

    module: cst.Module
    source: SourceMap


def _run(
    source: str,
    *,
    rules: Sequence[Rule] | None,
    unsafe_fixes: bool,
    helper_module: str | None,
    fix: bool = True,
    prefiltered: bool = False,
    context: ProjectContext | None = None,
) -> tuple[FixResult, _Rewrite | None]:
    candidates = _candidates(source, rules, prefiltered=prefiltered)
    if not candidates:
        return FixResult(source, source), None

    module = parse_module(source)
    index, plan = _analyze(module, candidates, unsafe_fixes=unsafe_fixes, context=context)
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
    applier = _PlanApplier(plan, ancestors)
    new_module = module.visit(applier)
    if not isinstance(new_module, cst.Module):  # pragma: no cover - a Module always comes back
        raise EngineError("internal error: the rewrite removed the module")
    # Every node the plan does not remove or replace is kept (the same object), so only names
    # read in the replaced nodes can leave the module, and most of it need not be visited again.
    final = add_helper_and_imports(
        new_module, plan, helper_module, module, removed=applier.replaced, source=index.source
    )
    # One recording code generation: the rewrite's text, and the verification's node texts.
    final_source = SourceMap(final)
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


def parse_module(source: str) -> cst.Module:
    """LibCST's tree of *source*; :class:`EngineError` (one line) when it cannot be parsed.

    A syntax error is reported at CPython's position (``line L:C``, column 1-based): LibCST's
    error position can be lines away from the real error.
    """
    cpython_error = _refuse_parser_crashers(source)
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


def _refuse_parser_crashers(source: str) -> SyntaxError | None:
    """Turn input that would crash LibCST's parser into a per-file error.

    A segfault cannot be caught, so CPython's own parser (fast, and hardened against such input)
    looks first. A plain syntax error is left to LibCST, which may accept newer grammar than the
    running interpreter, and returned so that LibCST's error can be reported at CPython's exact
    position; only what CPython refuses as too deep or too complex stops here.
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
        return exc
    except ValueError:
        return None
    if deeper_than(tree, source.encode("utf-8", "surrogatepass"), MAX_NESTING):
        raise EngineError(
            f"cannot parse: nested more than {MAX_NESTING} levels deep, which crashes "
            "LibCST's parser"
        )
    return None


def _position(index: ModuleIndex, plan: Plan) -> tuple[Finding, ...]:
    findings = []
    for planned in plan.findings:
        node = planned.node
        # Point at a definition's name, like ruff, not at its decorators or leading comments.
        start_node = node.name if isinstance(node, (cst.FunctionDef, cst.ClassDef)) else node
        line, column = index.source.start(start_node)
        end_line, end_column = index.source.end(node)
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


def _verify(
    result: FixResult,
    rewrite: _Rewrite | None,
    *,
    rules: Sequence[Rule] | None,
    unsafe_fixes: bool,
    helper_module: str | None,
    context: ProjectContext | None,
) -> None:
    """A rewrite is written only if it compiles and a second pass changes nothing.

    The second pass first runs the rules over the tree the rewrite's text was generated from
    (its nodes' texts recorded by that same code generation), which spares a second LibCST
    parse. Only a plan with no edits is accepted from it; should the rules want to edit that
    tree, the rewrite's text is parsed and analysed from scratch, and that decides.
    """
    try:
        compile(result.code, "<ssot-codemod rewrite>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise EngineError(
            f"rewrite does not compile ({exc.msg}, line {exc.lineno}); not written"
        ) from None
    if rewrite is not None:
        candidates = _candidates(result.code, rules)
        try:
            _index, plan = _analyze(
                rewrite.module,
                candidates,
                unsafe_fixes=unsafe_fixes,
                context=context,
                source=rewrite.source,
            )
        except EngineError as exc:
            raise EngineError(f"rewrite cannot be re-analysed ({exc}); not written") from None
        if not _edits(plan):
            return
    try:
        again, _rewrite = _run(
            result.code,
            rules=rules,
            unsafe_fixes=unsafe_fixes,
            helper_module=helper_module,
            context=context,
        )
    except EngineError as exc:
        raise EngineError(f"rewrite cannot be re-analysed ({exc}); not written") from None
    if again.changed:
        raise EngineError("rewrite is not stable (a second pass changes it again); not written")


class _PlanApplier(cst.CSTTransformer):
    """Applies a plan keyed by the identity of original nodes, in a single pass."""

    def __init__(self, plan: Plan, ancestors: set[int]) -> None:
        super().__init__()
        self.plan = plan
        self.ancestors = ancestors
        self.replaced: list[cst.CSTNode] = []  # original nodes removed or replaced

    def on_visit(self, node: cst.CSTNode) -> bool:
        # Only paths leading to an edited node are rebuilt; everything else is kept as is.
        return id(node) in self.ancestors

    def on_leave(  # type: ignore[override]  # LibCST's generic signature is per node type
        self, original_node: cst.CSTNode, updated_node: cst.CSTNode
    ) -> cst.CSTNode | cst.RemovalSentinel:
        key = id(original_node)
        inserted = self.plan.insertions.get(key)
        if inserted is not None:
            kept = self._leave(original_node, updated_node)
            if isinstance(kept, cst.RemovalSentinel):
                return cst.FlattenSentinel(inserted)  # type: ignore[return-value]
            return cst.FlattenSentinel([kept, *inserted])  # type: ignore[return-value]
        return self._leave(original_node, updated_node)

    def _leave(
        self, original_node: cst.CSTNode, updated_node: cst.CSTNode
    ) -> cst.CSTNode | cst.RemovalSentinel:
        key = id(original_node)
        if key in self.plan.removals:
            self.replaced.append(original_node)
            return cst.RemovalSentinel.REMOVE
        replacement = self.plan.replacements.get(key)
        if replacement is not None:
            self.replaced.append(original_node)
            return replacement
        if (
            isinstance(original_node, cst.IndentedBlock)
            and isinstance(updated_node, cst.IndentedBlock)
            and original_node.body
            and updated_node.body
            and id(original_node.body[0]) in self.plan.removals
        ):
            # The new first statement of the block should not start with a blank line.
            first = updated_node.body[0]
            assert isinstance(first, (cst.SimpleStatementLine, cst.BaseCompoundStatement))
            kept = list(first.leading_lines)
            while kept and kept[0].comment is None:
                kept.pop(0)
            updated_node = updated_node.with_changes(
                body=[first.with_changes(leading_lines=kept), *updated_node.body[1:]]
            )
        # A block whose every statement was removed still needs a statement.
        if isinstance(updated_node, cst.IndentedBlock) and not updated_node.body:
            return updated_node.with_changes(body=[cst.SimpleStatementLine([cst.Pass()])])
        if isinstance(updated_node, cst.SimpleStatementSuite) and not updated_node.body:
            return updated_node.with_changes(body=[cst.Pass()])
        return updated_node
