"""The LibCST side of the quarantine markers (:mod:`ssot_codemod.quarantine_markers`): adding
them where inserting lines is not safe, and removing them. Imported only on those paths, so a
``quarantine`` that only inserts lines never imports LibCST."""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from typing import TypeVar

import libcst as cst

from ssot_codemod.engine import parse_module
from ssot_codemod.module_edits import drop_imports_left_unused
from ssot_codemod.quarantine_markers import TAG, marker_text

__all__ = ["add_markers_cst", "remove_markers_cst"]

_D = TypeVar("_D", cst.ClassDef, cst.FunctionDef)


def _is_marker(decorator: cst.Decorator) -> bool:
    call = decorator.decorator
    if not isinstance(call, cst.Call) or len(call.args) != 1:
        return False
    func = call.func
    if not (
        isinstance(func, cst.Attribute)
        and isinstance(func.value, cst.Name)
        and func.value.value == "unittest"
        and func.attr.value == "skip"
    ):
        return False
    arg = call.args[0].value
    if not isinstance(arg, cst.SimpleString):
        return False
    try:
        value = ast.literal_eval(arg.value)
    except (ValueError, SyntaxError):
        return False
    return isinstance(value, str) and value.startswith(TAG)


class _Marking(cst.CSTTransformer):
    """Adds (``reasons``) or removes (``remove``) markers on the named definitions."""

    def __init__(self, reasons: Mapping[str, str], remove: frozenset[str]) -> None:
        super().__init__()
        self.reasons = reasons
        self.remove = remove
        self.stack: list[str] = []
        self.done: set[str] = set()

    def _qualname(self, name: str) -> str:
        return ".".join([*self.stack, name])

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self.stack.append(node.name.value)
        return True

    def leave_ClassDef(
        self, original_node: cst.ClassDef, updated_node: cst.ClassDef
    ) -> cst.ClassDef:
        qualname = ".".join(self.stack)
        self.stack.pop()
        return self._mark(qualname, updated_node, len(self.stack))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False  # tests are methods of classes; nothing inside a function is a target

    def leave_FunctionDef(
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.FunctionDef:
        if not self.stack:
            return updated_node
        return self._mark(self._qualname(updated_node.name.value), updated_node, len(self.stack))

    def _mark(self, qualname: str, node: _D, depth: int) -> _D:
        if qualname in self.remove:
            kept = [d for d in node.decorators if not _is_marker(d)]
            if len(kept) != len(node.decorators):
                self.done.add(qualname)
                return node.with_changes(decorators=kept)
            return node
        reason = self.reasons.get(qualname)
        if reason is None:
            return node
        if any(_is_marker(d) for d in node.decorators):
            return node  # already quarantined: idempotent
        # Indentation is not known here; four spaces per level is what the code around uses
        # in nearly every project, and it only decides where the reason is cut.
        expression = cst.parse_expression(marker_text(reason, indent=4 * depth))
        self.done.add(qualname)
        return node.with_changes(decorators=[cst.Decorator(expression), *node.decorators])


def add_markers_cst(source: str, reasons: Mapping[str, str]) -> tuple[str, set[str]]:
    from ssot_codemod.module_edits import ensure_imports

    module = parse_module(source)  # EngineError for what would crash LibCST's parser
    marking = _Marking(reasons, frozenset())
    new = module.visit(marking)
    if not marking.done:
        return source, set()
    new = ensure_imports(new, [("unittest", None)])
    return new.code, marking.done


def remove_markers_cst(source: str, qualnames: Sequence[str]) -> tuple[str, set[str]]:
    """*source* without the markers on *qualnames*, and the qualnames that had one."""
    module = parse_module(source)  # EngineError for what would crash LibCST's parser
    marking = _Marking({}, frozenset(qualnames))
    new = module.visit(marking)
    if not marking.done:
        return source, set()
    # ``import unittest`` goes when the markers were its last use (quarantine added it).
    return drop_imports_left_unused(module, new).code, marking.done
