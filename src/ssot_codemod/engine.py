"""Parse once, run the selected rules, apply their plan, verify the result. Never touches disk."""

from __future__ import annotations

import ast
import difflib
import functools
import warnings
from collections.abc import Sequence
from typing import Union

import libcst as cst

from ssot_codemod.analysis import ModuleIndex
from ssot_codemod.helper_source import HELPER_IMPORTS, HELPER_NAME, HELPER_SOURCE
from ssot_codemod.rules import ALL_RULES
from ssot_codemod.rules.base import Plan, Rule
from ssot_codemod.types import EngineError, Finding, FixResult


def could_match(data: bytes, rules: Sequence[Rule] | None = None) -> bool:
    """False when no selected rule can possibly find anything in these bytes."""
    return any(rule.could_match(data) for rule in (ALL_RULES if rules is None else rules))


def fix_source(
    source: str,
    *,
    rules: Sequence[Rule] | None = None,
    unsafe_fixes: bool = False,
    helper_module: str | None = None,
    fix: bool = True,
    prefiltered: bool = False,
) -> FixResult:
    """Findings for ``source`` and the rewritten text (equal to ``source`` when nothing applies).

    ``prefiltered=True`` says the caller already kept only the rules whose ``could_match``
    accepted these bytes (the api does, to choose the files worth parsing).
    With ``fix=False`` (``check``) only the findings are computed; ``code`` is the source.
    Raises :class:`EngineError` with a one-line reason when the file cannot be handled.
    """
    result = _run(
        source,
        rules=rules,
        unsafe_fixes=unsafe_fixes,
        helper_module=helper_module,
        fix=fix,
        prefiltered=prefiltered,
    )
    if result.changed:
        _verify(result, rules=rules, unsafe_fixes=unsafe_fixes, helper_module=helper_module)
    return result


def _run(
    source: str,
    *,
    rules: Sequence[Rule] | None,
    unsafe_fixes: bool,
    helper_module: str | None,
    fix: bool = True,
    prefiltered: bool = False,
) -> FixResult:
    selected = ALL_RULES if rules is None else rules
    if prefiltered:
        candidates = list(selected)
    else:
        data = source.encode("utf-8", "surrogatepass")
        candidates = [rule for rule in selected if rule.could_match(data)]
    if not candidates:
        return FixResult(source, source)

    module = _parse(source)
    plan = Plan(unsafe_fixes=unsafe_fixes)
    index = ModuleIndex(module)
    for rule in candidates:
        rule.analyze(module, index, plan)
    if not plan.findings:
        return FixResult(source, source)

    findings = _position(index, plan)
    if not fix:
        return FixResult(source, source, findings)
    roundtrip = index.source.code
    ancestors = index.source.ancestors(plan.removals | set(plan.replacements))
    if not (plan.replacements or plan.removals):
        return FixResult(source, source, findings)
    new_module = module.visit(_PlanApplier(plan, ancestors))
    if not isinstance(new_module, cst.Module):  # pragma: no cover - a Module always comes back
        raise EngineError("internal error: the rewrite removed the module")
    new_code = _add_helper_and_imports(new_module, plan, helper_module).code
    if roundtrip != source:
        spliced = _splice(source, roundtrip, new_code)
        if spliced is None:
            raise EngineError(
                "LibCST does not round-trip this file byte-exactly and the rewrite touches a "
                f"line it would change; not rewritten ({len(findings)} finding(s))"
            )
        new_code = spliced
    return FixResult(source, new_code, findings)


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


def _parse(source: str) -> cst.Module:
    _refuse_parser_crashers(source)
    try:
        return cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        message = str(exc.message).splitlines()[0] if exc.message else "invalid syntax"
        raise EngineError(
            f"cannot parse: line {exc.raw_line}:{exc.raw_column}: {message}"
        ) from None
    except RecursionError:
        raise EngineError(
            "cannot parse: LibCST hit the recursion limit (deeply nested expression)"
        ) from None
    except Exception as exc:  # LibCST's native parser raises a few other error types
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise EngineError(f"cannot parse: {first}") from None


def _refuse_parser_crashers(source: str) -> None:
    """Turn input that would crash LibCST's parser into a per-file error.

    A segfault cannot be caught, so CPython's own parser (fast, and hardened against such input)
    looks first. A plain syntax error is left to LibCST, which may accept newer grammar than the
    running interpreter; only what CPython refuses as too deep or too complex stops here.
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
        return
    except ValueError:
        return
    stack: list[tuple[ast.AST, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            raise EngineError(
                f"cannot parse: nested more than {MAX_NESTING} levels deep, which crashes "
                "LibCST's parser"
            )
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


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
    *,
    rules: Sequence[Rule] | None,
    unsafe_fixes: bool,
    helper_module: str | None,
) -> None:
    """A rewrite is written only if it compiles and a second pass changes nothing."""
    try:
        compile(result.code, "<ssot-codemod rewrite>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise EngineError(
            f"rewrite does not compile ({exc.msg}, line {exc.lineno}); not written"
        ) from None
    try:
        again = _run(
            result.code, rules=rules, unsafe_fixes=unsafe_fixes, helper_module=helper_module
        )
    except EngineError as exc:
        raise EngineError(f"rewrite cannot be re-analysed ({exc}); not written") from None
    if again.changed:
        raise EngineError("rewrite is not stable (a second pass changes it again); not written")


def _add_helper_and_imports(
    module: cst.Module, plan: Plan, helper_module: str | None
) -> cst.Module:
    imports: list[tuple[str, str | None]] = sorted(plan.imports, key=str)
    if plan.needs_helper and not _defines_top_level(module, HELPER_NAME):
        if helper_module:
            imports.append((helper_module, HELPER_NAME))
        else:
            module = _insert_helper(module)
            imports.extend((name, None) for name in HELPER_IMPORTS)
    return _ensure_imports(module, imports)


def _ensure_imports(module: cst.Module, imports: Sequence[tuple[str, str | None]]) -> cst.Module:
    """Add ``import M`` / ``from M import O`` lines that the module lacks, after its last
    leading import.

    This is what LibCST's AddImportsVisitor does for us in spirit, but constructing that
    matcher-based visitor costs ~20 ms per file (more than parsing a typical test module), so
    rewritten files would pay for it once per file; the cases we need are only these two forms.
    """
    present: set[tuple[str, str | None]] = set()
    for stmt in module.body:
        if not isinstance(stmt, cst.SimpleStatementLine):
            continue
        for small in stmt.body:
            if isinstance(small, cst.Import):
                present.update(
                    (alias.evaluated_name, None) for alias in small.names if alias.asname is None
                )
            elif (
                isinstance(small, cst.ImportFrom)
                and small.module is not None
                and not small.relative
                and not isinstance(small.names, cst.ImportStar)
            ):
                source = cst.Module([]).code_for_node(small.module)
                present.update(
                    (source, alias.evaluated_name) for alias in small.names if alias.asname is None
                )
    missing = [item for item in dict.fromkeys(imports) if item not in present]
    if not missing:
        return module
    body: list[Statement] = list(module.body)
    for mod, obj in [item for item in missing if item[1] is not None]:
        merged = _merge_from_import(body, mod, obj)
        if merged:
            missing.remove((mod, obj))
    # Plain ``import x`` lines go where isort would put them: in alphabetical order among the
    # file's leading run of plain imports (the standard-library block, usually).
    for mod, obj in [item for item in missing if item[1] is None]:
        slot = _sorted_plain_import_slot(body, mod)
        if slot is not None:
            new = _statement(f"import {mod}")
            assert isinstance(new, cst.SimpleStatementLine)
            following = body[slot] if slot < len(body) else None
            if following is not None and slot == _after_docstring(body):
                # Comments above the first import stay above the block.
                new = new.with_changes(leading_lines=following.leading_lines)
                body[slot] = following.with_changes(leading_lines=())
            body.insert(slot, new)
            missing.remove((mod, obj))
    new_lines = [
        _statement(f"from {mod} import {obj}" if obj else f"import {mod}") for mod, obj in missing
    ]
    if not new_lines:
        return module.with_changes(body=body)
    position = _after_leading_imports(body)
    if position == 0 and body:
        # No import block: keep the new imports below the file's leading comments.
        first = body[0]
        new_lines[0] = new_lines[0].with_changes(leading_lines=first.leading_lines)
        body[0] = first.with_changes(leading_lines=())
    body[position:position] = new_lines
    return module.with_changes(body=body)


def _after_docstring(body: Sequence[Statement]) -> int:
    return (
        1
        if body
        and _is_import_or_docstring(body[0], first=True)
        and not (
            isinstance(body[0], cst.SimpleStatementLine)
            and isinstance(body[0].body[0], (cst.Import, cst.ImportFrom))
        )
        else 0
    )


@functools.lru_cache(maxsize=64)
def _statement(code: str) -> cst.SimpleStatementLine:
    """A parsed one-line statement; nodes are immutable, so one parse serves every file."""
    statement = cst.parse_statement(code)
    assert isinstance(statement, cst.SimpleStatementLine)
    return statement


def _sorted_plain_import_slot(body: Sequence[Statement], name: str) -> int | None:
    """Index at which ``import name`` keeps the first run of plain imports sorted, or None
    when the module opens without such a run."""
    run: list[tuple[int, str]] = []
    for i, stmt in enumerate(body[: _after_leading_imports(body)]):
        plain = (
            isinstance(stmt, cst.SimpleStatementLine)
            and len(stmt.body) == 1
            and isinstance(stmt.body[0], cst.Import)
            and len(stmt.body[0].names) == 1
        )
        if plain:
            assert isinstance(stmt, cst.SimpleStatementLine)
            imported = stmt.body[0]
            assert isinstance(imported, cst.Import)
            run.append((i, imported.names[0].evaluated_name))
        elif run:
            break
    if not run:
        return None
    for i, existing in run:
        if existing.lower() > name.lower():
            return i
    return run[-1][0] + 1


def _merge_from_import(body: list[Statement], module_name: str, obj: str | None) -> bool:
    """Add ``obj`` to an existing single-line ``from module_name import ...``, in place."""
    for i, stmt in enumerate(body):
        if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
            continue
        small = stmt.body[0]
        if (
            isinstance(small, cst.ImportFrom)
            and small.module is not None
            and not small.relative
            and small.lpar is None
            and not isinstance(small.names, cst.ImportStar)
            and cst.Module([]).code_for_node(small.module) == module_name
            and obj is not None
        ):
            names = list(small.names)
            names[-1] = names[-1].with_changes(
                comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
            )
            names.append(cst.ImportAlias(name=cst.Name(obj)))
            body[i] = stmt.with_changes(body=[small.with_changes(names=names)])
            return True
    return False


def _defines_top_level(module: cst.Module, name: str) -> bool:
    for stmt in module.body:
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)) and stmt.name.value == name:
            return True
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, cst.ImportFrom) and not isinstance(
                    small.names, cst.ImportStar
                ):
                    for alias in small.names:
                        bound = alias.evaluated_alias or alias.evaluated_name
                        if bound == name:
                            return True
    return False


# What LibCST's Module.body really holds (its annotation says BaseStatement).
Statement = Union[cst.SimpleStatementLine, cst.BaseCompoundStatement]


@functools.lru_cache(maxsize=4)
def _helper_statements(newline: str) -> tuple[Statement, ...]:
    """The helper's statements, with the target module's newline inside its docstring too
    (nodes are immutable, so one parse serves every module)."""
    return tuple(cst.parse_module(HELPER_SOURCE.replace("\n", newline)).body)


def _insert_helper(module: cst.Module) -> cst.Module:
    helper_body: list[Statement] = list(_helper_statements(module.default_newline))
    two_blank = [cst.EmptyLine(), cst.EmptyLine()]
    helper_body[0] = helper_body[0].with_changes(leading_lines=two_blank)

    body: list[Statement] = list(module.body)
    position = _after_leading_imports(body)
    if position < len(body):
        following = body[position]
        blanks = 0
        for line in following.leading_lines:
            if line.comment is not None:
                break
            blanks += 1
        if blanks < 2:
            missing = [cst.EmptyLine()] * (2 - blanks)
            body[position] = following.with_changes(
                leading_lines=[*missing, *following.leading_lines]
            )
    elif position == 0:
        helper_body[0] = helper_body[0].with_changes(leading_lines=())
    body[position:position] = helper_body
    return module.with_changes(body=body)


def _after_leading_imports(body: Sequence[Statement]) -> int:
    """Index just past the module docstring and the import block that opens the module."""
    position = 0
    for i, stmt in enumerate(body):
        if not _is_import_or_docstring(stmt, first=i == 0):
            break
        position = i + 1
    return position


def _is_import_or_docstring(stmt: cst.CSTNode, *, first: bool) -> bool:
    if not isinstance(stmt, cst.SimpleStatementLine):
        return False
    if all(isinstance(small, (cst.Import, cst.ImportFrom)) for small in stmt.body):
        return True
    return (
        first
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], cst.Expr)
        and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


class _PlanApplier(cst.CSTTransformer):
    """Applies a plan keyed by the identity of original nodes, in a single pass."""

    def __init__(self, plan: Plan, ancestors: set[int]) -> None:
        super().__init__()
        self.plan = plan
        self.ancestors = ancestors

    def on_visit(self, node: cst.CSTNode) -> bool:
        # Only paths leading to an edited node are rebuilt; everything else is kept as is.
        return id(node) in self.ancestors

    def on_leave(  # type: ignore[override]  # LibCST's generic signature is per node type
        self, original_node: cst.CSTNode, updated_node: cst.CSTNode
    ) -> cst.CSTNode | cst.RemovalSentinel:
        key = id(original_node)
        if key in self.plan.removals:
            return cst.RemovalSentinel.REMOVE
        replacement = self.plan.replacements.get(key)
        if replacement is not None:
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
