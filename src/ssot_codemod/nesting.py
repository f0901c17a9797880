"""How deeply an ``ast`` tree nests, without visiting every node.

LibCST's native parser can crash the process on very deep input and its recursive code
generation gives up on deep input (a per-file error), so the engine measures CPython's tree
first; ``check``'s ast path (:mod:`ssot_codemod.project.ast_findings`) leaves deep files to the
engine. Visiting every node costs about as much as the parse itself, so only statements are
walked: an expression tree ``h`` levels high has at least ``h - 2`` tokens, each at least one
character, so a statement whose header (its text up to its block: decorators, test, bases,
arguments...) is short cannot reach the limit; only long headers are measured node by node.
The answer is exact: the same as a visit of every node.
"""

from __future__ import annotations

import ast
import itertools

__all__ = ["LIBCST_SAFE_DEPTH", "deeper_than"]

# LibCST's recursive code generation gives up somewhere between 150 and 500 levels (a per-file
# error in the engine); a tree no deeper than this is certainly handled. Real code stays below.
LIBCST_SAFE_DEPTH = 60

# Fields holding a statement's blocks (statements, except handlers, match cases).
_BLOCKS = ("body", "orelse", "finalbody", "handlers", "cases")
# Slack over the token bound: wrapper nodes without a token of their own (a ``withitem``,
# ``arguments``) and the leaf contexts (``Load``) and operators.
_SLACK = 4


def deeper_than(tree: ast.Module, data: bytes, limit: int) -> bool:
    """Whether some node of *tree* (parsed from *data*) is more than *limit* levels deep,
    the module being level 1."""
    # Every line end counts as one character: not a token, so this only errs upwards.
    lines = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    starts = [0, *itertools.accumulate(len(line) + 1 for line in lines)]

    def offset(node: ast.AST, end: bool = False) -> int:
        line = getattr(node, "end_lineno" if end else "lineno")
        column = getattr(node, "end_col_offset" if end else "col_offset")
        return starts[int(line) - 1] + int(column)

    pending: list[tuple[ast.AST, int]] = [(stmt, 2) for stmt in tree.body]
    while pending:
        node, depth = pending.pop()
        if depth > limit:
            return True
        inner = [
            child
            for name in _BLOCKS
            for child in (getattr(node, name, None) or ())
            if isinstance(child, ast.AST)
        ]
        head = _pattern(node)
        first = min([offset(head), *(offset(d) for d in getattr(node, "decorator_list", ()))])
        if inner:
            body = _pattern(inner[0])
            header_end = offset(body)
        else:
            header_end = offset(node, end=True)
        if depth + (header_end - first) + _SLACK > limit:
            header = [
                child
                for name, value in ast.iter_fields(node)
                if name not in _BLOCKS
                for child in (value if isinstance(value, list) else [value])
                if isinstance(child, ast.AST)
            ]
            if depth + _height(header) > limit:
                return True
        pending.extend((child, depth + 1) for child in inner)
    return False


# ``match`` statements (and ``ast.match_case``) exist from Python 3.10.
_MATCH_CASE: tuple[type, ...] = (ast.match_case,) if hasattr(ast, "match_case") else ()


def _pattern(node: ast.AST) -> ast.AST:
    """A match case starts at its pattern (it has no position of its own)."""
    return node.pattern if isinstance(node, _MATCH_CASE) else node  # type: ignore[attr-defined]


def _height(nodes: list[ast.AST]) -> int:
    """Levels of the highest of these subtrees (a leaf is 1 level)."""
    deepest = 0
    stack = [(node, 1) for node in nodes]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in ast.iter_child_nodes(node))
    return deepest
