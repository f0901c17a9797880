"""What the rules' tree gates (``Rule.could_match_tree``) share: a search over ``ast`` trees.

A gate runs on every file whose bytes passed the rule's prefilter, before LibCST parses it, so
it must cost a small fraction of that parse: one pass over the tree, no LibCST.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Collection

__all__ = ["calls_attribute", "found_inside", "names_string"]


def found_inside(
    tree: ast.AST, scope: Callable[[ast.AST], bool], hit: Callable[[ast.AST], bool]
) -> bool:
    """Whether some node *hit* accepts lies in the subtree of a node *scope* accepts (the
    scope node included). Linear: a scope's subtree is searched once and not entered again,
    since any scope nested in it can only hold hits already looked for."""
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if scope(node):
            if any(hit(inner) for inner in ast.walk(node)):
                return True
            continue
        pending.extend(ast.iter_child_nodes(node))
    return False


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
