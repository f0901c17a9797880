"""Every node of a LibCST tree, in visiting order (the SourceMap tests compare them all)."""

from __future__ import annotations

import libcst as cst


def all_nodes(module: cst.Module) -> list[cst.CSTNode]:
    out: list[cst.CSTNode] = []

    class Collect(cst.CSTVisitor):
        def on_visit(self, node: cst.CSTNode) -> bool:
            out.append(node)
            return True

    module.visit(Collect())
    return out
