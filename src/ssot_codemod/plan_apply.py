"""Applying a rules' :class:`~ssot_codemod.rules.base.Plan` to the module it was made for.

A LibCST transformer, so defining it imports LibCST: it lives apart from the engine, which must
import without LibCST (a run whose candidates all fail the tree gates never parses a file).
"""

from __future__ import annotations

import libcst as cst

from ssot_codemod.rules.base import Plan


class PlanApplier(cst.CSTTransformer):
    """Applies a plan keyed by the identity of original nodes, in a single pass."""

    def __init__(self, plan: Plan, ancestors: set[int]) -> None:
        super().__init__()
        self.plan = plan
        self.ancestors = ancestors
        self.replaced: list[cst.CSTNode] = []  # original nodes removed or replaced
        # id of each node rebuilt on the way to an edit -> (it, the original it was rebuilt
        # from): what splice_codegen needs to reuse the original's text around the edits.
        self.rebuilt: dict[int, tuple[cst.CSTNode, cst.CSTNode]] = {}

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

    def _rebuild(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> cst.CSTNode:
        if updated_node is not original_node:
            self.rebuilt[id(updated_node)] = (updated_node, original_node)
        return updated_node

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
            updated_node = updated_node.with_changes(body=[cst.SimpleStatementLine([cst.Pass()])])
        elif isinstance(updated_node, cst.SimpleStatementSuite) and not updated_node.body:
            updated_node = updated_node.with_changes(body=[cst.Pass()])
        return self._rebuild(original_node, updated_node)
