"""One code generation pass over a module that remembers where every node's text is.

Rules need the text of methods and statements (cheap substring tests before any expression
visit), the engine needs line/column positions for findings and the ancestors of edited nodes.
``Module.code_for_node`` regenerates text per call and LibCST's PositionProvider allocates a
range object per node; this records plain token offsets once and answers all three.
"""

from __future__ import annotations

import bisect
import itertools
import re

import libcst as cst
from libcst._nodes.internal import CodegenState  # internal, but stable since LibCST 0.3

# Linear: the alternatives start with distinct characters; `\n?` is a single optional one.
_NEWLINE = re.compile(r"\r\n?|\n")


class _RecordingState(CodegenState):
    def __init__(self, module: cst.Module) -> None:
        super().__init__(
            default_indent=module.default_indent, default_newline=module.default_newline
        )
        self.spans: dict[int, tuple[int, int]] = {}
        self.parents: dict[int, int] = {}
        self._stack: list[tuple[int, int]] = []

    def before_codegen(self, node: cst.CSTNode) -> None:
        key = id(node)
        if self._stack:
            self.parents[key] = self._stack[-1][0]
        self._stack.append((key, len(self.tokens)))

    def after_codegen(self, node: cst.CSTNode) -> None:
        key, start = self._stack.pop()
        self.spans.setdefault(key, (start, len(self.tokens)))


class SourceMap:
    def __init__(self, module: cst.Module) -> None:
        state = _RecordingState(module)
        module._codegen(state)
        self.code = "".join(state.tokens)
        self._spans = state.spans
        self._parents = state.parents
        self._offsets = [0, *itertools.accumulate(len(token) for token in state.tokens)]
        self._line_starts = [0] + [m.end() for m in _NEWLINE.finditer(self.code)]

    def text(self, node: cst.CSTNode) -> str | None:
        """The node's source text (with the whitespace it owns), or None if not in the module."""
        span = self._spans.get(id(node))
        if span is None:
            return None
        return self.code[self._offset(span[0]) : self._offset(span[1])]

    def mentions(self, node: cst.CSTNode, words: tuple[str, ...]) -> bool | None:
        """Whether the node's text contains any of *words* (None if not in the module); a
        search in place, with no copy of the text."""
        span = self._spans.get(id(node))
        if span is None:
            return None
        start, end = self._offset(span[0]), self._offset(span[1])
        return any(self.code.find(word, start, end) >= 0 for word in words)

    def start(self, node: cst.CSTNode) -> tuple[int, int]:
        """1-based line and column where the node's text starts."""
        return self._line_col(self._offset(self._spans[id(node)][0]))

    def end(self, node: cst.CSTNode) -> tuple[int, int]:
        """1-based line and column just past the node's text."""
        return self._line_col(self._offset(self._spans[id(node)][1]))

    def ancestors(self, node_ids: set[int]) -> set[int]:
        """Ids of every node on the path from the module to any of ``node_ids``."""
        found: set[int] = set()
        for key in node_ids:
            parent = self._parents.get(key)
            while parent is not None and parent not in found:
                found.add(parent)
                parent = self._parents.get(parent)
        return found

    def _offset(self, token_index: int) -> int:
        # The module drops its last token (a newline) when the file has no final newline, so
        # spans recorded before that may point one token past the end.
        return self._offsets[min(token_index, len(self._offsets) - 1)]

    def _line_col(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self._line_starts, offset)
        return line, offset - self._line_starts[line - 1] + 1
