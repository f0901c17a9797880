"""What every rule is: metadata plus ``analyze``, which records findings and planned edits.

Rules never rewrite the tree themselves. They look at the *original* module and put edits in a
shared :class:`Plan` (replace this node, remove that one, the module needs the helper, add this
import); the engine applies the whole plan in one pass. So every finding is positioned in the
original source and rules cannot trip over each other's output.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:  # LibCST is imported only once a file is parsed (see lazy_cst.py)
    import libcst as cst

    from ssot_codemod.analysis import ModuleIndex
    from ssot_codemod.project.context import ProjectContext
    from ssot_codemod.types import FixSafety


@dataclass(frozen=True)
class PlannedFinding:
    code: str
    message: str
    node: cst.CSTNode  # positioned by the engine, in the original module
    fix: FixSafety
    applied: bool


@dataclass
class Plan:
    unsafe_fixes: bool
    replacements: dict[int, cst.CSTNode] = field(default_factory=dict)
    removals: set[int] = field(default_factory=set)
    findings: list[PlannedFinding] = field(default_factory=list)
    needs_helper: bool = False
    imports: set[tuple[str, str | None]] = field(default_factory=set)  # (module, obj)
    # Functions a rule has claimed for its own edits; other rules must not remove them whole.
    claimed: set[int] = field(default_factory=set)
    # Statements to add after a statement (by its id), e.g. a method after a class's last one.
    insertions: dict[int, list[cst.BaseStatement]] = field(default_factory=dict)

    def replace(self, old: cst.CSTNode, new: cst.CSTNode) -> None:
        self.replacements[id(old)] = new

    def remove(self, node: cst.CSTNode) -> None:
        self.removals.add(id(node))

    def insert_after(self, anchor: cst.CSTNode, statement: cst.BaseStatement) -> None:
        self.insertions.setdefault(id(anchor), []).append(statement)

    def report(
        self,
        code: str,
        node: cst.CSTNode,
        message: str,
        *,
        fix: FixSafety = "none",
        applied: bool = False,
    ) -> None:
        self.findings.append(PlannedFinding(code, message, node, fix, applied))

    def may_fix(self, safety: FixSafety) -> bool:
        return safety == "safe" or (safety == "unsafe" and self.unsafe_fixes)


class Rule:
    """Base class: subclasses fill the metadata and implement ``could_match`` and ``analyze``."""

    code: ClassVar[str]
    name: ClassVar[str]
    summary: ClassVar[str]
    why: ClassVar[str]
    example: ClassVar[str]
    use_instead: ClassVar[str]
    fix_safety: ClassVar[FixSafety]
    # Every group must have at least one needle in the file's bytes for a finding to be possible.
    needles: ClassVar[tuple[tuple[bytes, ...], ...]]

    def could_match(self, data: bytes) -> bool:
        return all(any(needle in data for needle in group) for group in self.needles)

    def could_match_tree(self, tree: ast.Module, context: ProjectContext | None = None) -> bool:
        """The second gate, over CPython's ``ast`` tree of a file whose bytes passed
        :meth:`could_match` (the engine parses it anyway, to guard LibCST's parser): False
        only when :meth:`analyze` can neither report nor plan anything in that module with
        this project *context* (None: the single-file view). True (the default) means no
        opinion.
        """
        return True

    def tree_facts(self, tree: ast.Module, *, with_context: bool) -> object:
        """What :meth:`could_match_tree` reads of *tree*, as plain picklable data, for
        :meth:`could_match_facts` to decide with the file's context later: the first pass
        computes it where it parses a file anyway, so the engine need not parse it again
        (``engine.TreeVerdict``). *with_context*: whether the file will have a project
        context. The default is the gate's answer itself, right for a gate that does not read
        the context; a gate that does overrides both methods."""
        return self.could_match_tree(tree, None)

    def could_match_facts(self, facts: object, context: ProjectContext | None) -> bool:
        """:meth:`could_match_tree`'s answer from :meth:`tree_facts`' value (same tree; a
        *context* present exactly when ``with_context`` was true)."""
        return bool(facts)

    def analyze(self, module: cst.Module, index: ModuleIndex, plan: Plan) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{self.code} {self.name}>"
