"""What the rules' tree gates (``Rule.could_match_tree``) share: a search over ``ast`` trees.

A gate runs on every file whose bytes passed the rule's prefilter, before LibCST parses it, so
it must cost a small fraction of that parse: one pass over the tree, no LibCST.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Collection, Iterator

__all__ = [
    "NO_BLOCKS",
    "calls_attribute",
    "child_statements",
    "found_inside",
    "names_string",
    "statements",
]


def found_inside(
    tree: ast.AST, scope: Callable[[ast.stmt], bool], hit: Callable[[ast.AST], bool]
) -> bool:
    """Whether some node *hit* accepts lies in the subtree of a statement *scope* accepts (the
    scope node included). Linear: a scope's subtree is searched once and not entered again,
    since any scope nested in it can only hold hits already looked for. Outside the scopes
    only statements are visited: a statement never lies inside an expression. In source
    order, where a class's hooks usually are first (a bridging ``setUp``)."""
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.stmt) and scope(node):
            if _any_below(node, hit):
                return True
            continue
        pending.extend(reversed(child_statements(node)))
    return False


def _any_below(node: ast.AST, hit: Callable[[ast.AST], bool]) -> bool:
    """Whether *hit* accepts *node* or a node below it: ``any(map(hit, ast.walk(node)))``
    without its two generator layers per node (depth first; the answer is the same)."""
    pending = [node]
    while pending:
        node = pending.pop()
        if hit(node):
            return True
        for name in node._fields:
            value = getattr(node, name, None)
            if isinstance(value, ast.AST):
                pending.append(value)
            elif isinstance(value, list):
                pending.extend(item for item in value if isinstance(item, ast.AST))
    return False


def child_statements(node: ast.AST) -> list[ast.stmt]:
    """The statements directly in *node*'s blocks (bodies, else and finally blocks, except
    handlers, match cases)."""
    if type(node) in NO_BLOCKS:  # most statements: five attribute lookups spared
        return []
    found: list[ast.stmt] = []
    for name in ("body", "orelse", "finalbody"):
        block = getattr(node, name, None)
        if isinstance(block, list):  # a lambda's or a conditional expression's is not
            found.extend(block)
    for holder in (*getattr(node, "handlers", ()), *getattr(node, "cases", ())):
        found.extend(holder.body)
    return found


# Node types with none of the fields child_statements reads (``ast`` sets no other attribute).
NO_BLOCKS = frozenset(
    kind
    for kind in vars(ast).values()
    if isinstance(kind, type)
    and issubclass(kind, ast.AST)
    and not {"body", "orelse", "finalbody", "handlers", "cases"} & set(kind._fields)
)


def statements(tree: ast.AST) -> Iterator[ast.stmt]:
    """Every statement in *tree*, at any depth, without visiting an expression."""
    pending = child_statements(tree)
    while pending:
        node = pending.pop()
        yield node
        pending.extend(child_statements(node))


def calls_attribute(node: ast.AST, names: Collection[str]) -> bool:
    """``<anything>.<name>(<any arguments>)`` for a name in *names*."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in names
    )


def names_string(node: ast.AST, names: Collection[str]) -> bool:
    """A string constant equal to one of *names* (``getattr(self, "asyncSetUp")``)."""
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names
