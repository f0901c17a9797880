"""One code generation pass over a module that remembers where every node's text is.

Rules need the text of methods and statements (cheap substring tests before any expression
visit), the engine needs line/column positions for findings and the ancestors of edited nodes.
``Module.code_for_node`` regenerates text per call and LibCST's PositionProvider allocates a
range object per node; this records plain token offsets once and answers all three.
"""

from __future__ import annotations

import bisect
import re
from contextlib import AbstractContextManager, nullcontext

import libcst as cst
from libcst._nodes.internal import CodegenState  # internal, but stable since LibCST 0.3

# Linear: the alternatives start with distinct characters; `\n?` is a single optional one.
_NEWLINE = re.compile(r"\r\n?|\n")
_NO_OP: AbstractContextManager[None] = nullcontext()


class _RecordingState(CodegenState):
    """A code generation that leaves each node itself in the token list, where its text starts
    and again where it ends.

    LibCST calls ``before_codegen``/``after_codegen`` around every node; bound to the token
    list's own ``append``, they cost no Python frame (a Python method there made recording
    ~60 % slower than plain code generation). The markers are resolved in one pass after.
    Tokens are appended the same way, and the syntactic-position hook, a generator-based no-op
    context manager in LibCST's state that nodes enter ~10 times per line, is a shared no-op
    object instead: together ~30 % of the code generation's time.
    """

    def __init__(self, module: cst.Module) -> None:
        super().__init__(
            default_indent=module.default_indent, default_newline=module.default_newline
        )
        # Instance attributes win over the class's methods (plain functions).
        self.before_codegen = self.after_codegen = self.tokens.append  # type: ignore[method-assign,assignment]
        self.add_token = self.tokens.append  # type: ignore[method-assign,assignment]

    def record_syntactic_position(  # type: ignore[override]  # same no-op, cheaper to enter
        self,
        node: cst.CSTNode,
        *,
        start_node: cst.CSTNode | None = None,
        end_node: cst.CSTNode | None = None,
    ) -> AbstractContextManager[None]:
        return _NO_OP

    def pop_trailing_newline(self) -> None:
        # The last *text* token: markers of the nodes that just ended follow it.
        tokens = self.tokens
        for i in range(len(tokens) - 1, -1, -1):
            if type(tokens[i]) is str:
                del tokens[i]
                return


class SourceMap:
    """Text, positions and ancestry of the nodes of a module, from one recording code
    generation of it (:func:`record`)."""

    def __init__(self, module: cst.Module) -> None:
        self.code, self._spans, self._parents = record(module)
        self._line_starts = line_starts(self.code)

    def text(self, node: cst.CSTNode) -> str | None:
        """The node's source text (with the whitespace it owns), or None if not in the module."""
        span = self._span(id(node))
        if span is None:
            return None
        return self.code[span[0] : span[1]]

    def mentions(self, node: cst.CSTNode, words: tuple[str, ...]) -> bool | None:
        """Whether the node's text contains any of *words* (None if not in the module); a
        search in place, with no copy of the text."""
        span = self._span(id(node))
        if span is None:
            return None
        return any(self.code.find(word, span[0], span[1]) >= 0 for word in words)

    def start(self, node: cst.CSTNode) -> tuple[int, int]:
        """1-based line and column where the node's text starts."""
        return self._line_col(self._known_span(node)[0])

    def end(self, node: cst.CSTNode) -> tuple[int, int]:
        """1-based line and column just past the node's text."""
        return self._line_col(self._known_span(node)[1])

    def ancestors(self, node_ids: set[int]) -> set[int]:
        """Ids of every node on the path from the module to any of ``node_ids``."""
        found: set[int] = set()
        for key in node_ids:
            parent = self._parent(key)
            while parent is not None and parent not in found:
                found.add(parent)
                parent = self._parent(parent)
        return found

    def _span(self, key: int) -> tuple[int, int] | None:
        return self._spans.get(key)

    def _parent(self, key: int) -> int | None:
        return self._parents.get(key)

    def _known_span(self, node: cst.CSTNode) -> tuple[int, int]:
        span = self._span(id(node))
        if span is None:
            raise KeyError(f"{type(node).__name__} node is not in this module")
        return span

    def _line_col(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self._line_starts, offset)
        return line, offset - self._line_starts[line - 1] + 1


def line_starts(code: str) -> list[int]:
    """Offsets where the lines of *code* start."""
    return [0] + [m.end() for m in _NEWLINE.finditer(code)]


Spans = dict[int, tuple[int, int]]  # node id -> (start, end) text offsets
Parents = dict[int, int]  # node id -> id of the node around it


def record(module: cst.Module) -> tuple[str, Spans, Parents]:
    """The module's code, and the span and parent of every node in it.

    A node object that occurs in two places (LibCST allows it) keeps the span of the first
    and the parent of the last.
    """
    state = _RecordingState(module)
    module._codegen(state)
    items: list[object] = state.tokens  # type: ignore[assignment]  # text and markers
    if module.has_trailing_newline and not (module.header or module.body or module.footer):
        # Module adds this newline only when it generated no token at all (markers are).
        items.insert(len(items) - 1, module.default_newline)
    parts: list[str] = []
    spans: Spans = {}
    parents: Parents = {}
    # The open nodes' ids and start offsets; ``top`` is the innermost one's id (-1: none).
    keys: list[int] = []
    starts: list[int] = []
    top = -1
    offset = 0
    add, push, push_start, set_span = parts.append, keys.append, starts.append, spans.setdefault
    for item in items:
        if type(item) is str:
            add(item)
            offset += len(item)
            continue
        key = id(item)
        if key == top:  # a node cannot contain itself: its end
            keys.pop()
            set_span(key, (starts.pop(), offset))
            top = keys[-1] if keys else -1
        else:
            if keys:
                parents[key] = top
            push(key)
            push_start(offset)
            top = key
    return "".join(parts), spans, parents
