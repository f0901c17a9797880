"""How deeply an ``ast`` tree nests, without visiting every node.

LibCST's native parser can crash the process on very deep input and its recursive code
generation gives up on deep input (a per-file error), so the engine measures CPython's tree
first; ``check``'s ast path (:mod:`ssot_codemod.project.ast_findings`) leaves deep files to the
engine. Visiting every node costs about as much as the parse itself, so only statements are
walked, and a statement's expressions are visited only when a bound on their height, computed
from the statement's text at C speed, does not settle the question. The answer is exact: the
same as a visit of every node.

The bound
---------
A statement at depth ``d`` holds its expressions (and ``arguments``, ``withitem``, patterns...)
in *header subtrees*, each rooted one level below it; the deepest of their nodes is at
``d + h``, ``h`` the height of the highest subtree (a leaf is 1 level). Claim:

    h(N) <= marks(N) + 2      for every node N of an expression or pattern tree,

where ``marks(N)`` counts the tokens in N's source range, leaving out the tokens that are
never an AST node's own (comments, line ends, indentation) and the literal text of f-strings
(3.12's ``FSTRING_MIDDLE``). Take a deepest path ``N = M1, ..., Mh``. Every step from a parent
to its child is *strict* (the parent owns a mark outside the child's range: an operator, a
bracket, a keyword, a dot and a name, a comma, the function of a call, the other operands...)
except these *flat* steps, which may shed no mark:

- ``withitem -> expr`` without ``as``; ``arguments -> arg`` (one bare parameter): a
  ``withitem`` or a ``def``'s ``arguments`` is a header root, so the flat step is the path's
  first; a ``lambda``'s ``arguments`` sits under its ``Lambda``, whose step sheds at least
  ``lambda``, ``:`` and the body (3 marks);
- ``MatchValue -> expr``: patterns hold expressions, never the reverse, so at most once;
- a format spec (the ``JoinedStr`` in ``f"{x:>{w}}"``) to its part: its ``FormattedValue``
  parent's step to it sheds at least ``{``, the value, ``:`` and ``}`` (4 marks);
- into a leaf with no mark (``Load``, ``Add``, an empty ``arguments``, f-string literal text):
  only as the last step, after a step from a node owning a mark, which is strict.

Flat steps are never consecutive, so each one is paid for by the step before it, which sheds
at least two marks, except the path's first step (its payer, if any, is above N) and the one
``MatchValue`` step; not both (a path through a ``MatchValue`` starts in a pattern, where no
other step is flat). Adding up the marks shed along the path: ``marks(N) >= (h - 1) - 1``.

The claim holds for a compound statement N too, its blocks included: its step to a block's
statement, handler or case sheds its keyword and colon at least, and the flat steps below are
paid for in the same way (``Expr -> value`` by the step into the ``Expr``; ``withitem`` and
``arguments`` by the ``with`` or ``def`` above them).

Marks are counted from bytes, never fewer than there are: ``pieces(text)`` counts the
punctuation bytes, the runs of word bytes (letters, digits, ``_``, non-ASCII) and, inside those
runs, each letter directly after a digit. Every mark starts with a non-blank byte; map each mark
to the piece holding its first byte. Two marks mapped to one piece would mean the earlier one
lies inside that piece (word bytes, no letter after a digit) and is directly followed by a word
byte that is not a letter after a digit: a name followed by a word byte, or a number of digits
only followed by a digit, where the tokenizer would have read on. (A number followed by a
keyword, ``1if`` or ``0xfor``, has a letter after a digit, a piece boundary, in it or right
after it; a string's prefix is followed by its quote.) So ``marks <= pieces``. Strings, comments
and literal f-string text are counted too: counting more only errs upwards. Pieces are never
more than a range's non-blank bytes, so the range's length in bytes is a bound that costs
nothing, tried first.

Hence a statement at depth ``d`` whose header text (decorators to the start of its first block
statement) has ``pieces + 2 <= limit - d``, or a compound statement whose whole text has
``pieces + 2 <= limit - d + 1``, holds no node deeper than ``limit``. Only other headers are
visited node by node, and there the bound, from each node's own range, prunes subtrees. Node
positions are trusted only outside f-strings (before 3.12 the positions of the nodes inside an
f-string are unreliable), and the text is the UTF-8 the positions count bytes in (without a BOM;
where a coding cookie leaves it unknown, every node is visited).

Cost: the walk is linear in statements and in the nodes of the headers it visits. Headers are
disjoint, each counted once; a statement's or a node's whole range is counted only when it is at
most ``_SCAN`` times longer than the marks it may hold (a few node visits' worth of C work),
and below a node whose range was counted in vain, only ranges at most half as wide.
"""

from __future__ import annotations

import ast
import codecs
import io
import itertools
import tokenize

__all__ = ["LIBCST_SAFE_DEPTH", "deeper_than"]

# LibCST's recursive code generation gives up somewhere between 150 and 500 levels (a per-file
# error in the engine); a tree no deeper than this is certainly handled. Real code stays below.
LIBCST_SAFE_DEPTH = 60

# Fields holding a statement's blocks (statements, except handlers, match cases).
_BLOCKS = frozenset({"body", "orelse", "finalbody", "handlers", "cases"})
# Levels over the marks of a subtree's range (see the module docstring).
_SLACK = 2
# Pieces are counted in a range at most this many times longer than the marks it may hold.
_SCAN = 6

# Each byte's class for counting pieces: ``a`` letter, ``_`` or non-ASCII, ``d`` digit, `` ``
# blank (never the start of a token), ``p`` anything else (one piece per byte).
_CLASS = bytes(
    ord(
        "d"
        if chr(b).isdigit() and b < 128
        else "a"
        if b >= 128 or chr(b).isalpha() or b == ord("_")
        else " "
        if b in b" \t\n\r\f"
        else "p"
    )
    for b in range(256)
)
# Word classes to ``w``, the rest to blank: runs of word bytes start at `` w``.
_WORD = bytes(ord("w") if b in b"ad" else ord(" ") for b in range(256))

# Per node class: the fields of a statement's header (not its blocks) and its blocks.
_Shape = tuple[tuple[str, ...], tuple[str, ...]]
_SHAPES: dict[type, _Shape] = {}

# ``match`` statements (and ``ast.match_case``) exist from Python 3.10.
_MATCH_CASE: tuple[type, ...] = (ast.match_case,) if hasattr(ast, "match_case") else ()
# Below these, node positions are unreliable before 3.12 (and ``pieces`` is not worth it).
_STRINGS: tuple[type, ...] = tuple(
    getattr(ast, name) for name in ("JoinedStr", "TemplateStr") if hasattr(ast, name)
)


def _pieces(text: bytes) -> int:
    """An upper bound on the marks in *text* (see the module docstring)."""
    classes = text.translate(_CLASS)
    # ``+ 1``: a run at the very start has no blank before it.
    return classes.count(b"p") + classes.count(b"da") + classes.translate(_WORD).count(b" w") + 1


def _shape(cls: type) -> _Shape:
    shape = _SHAPES.get(cls)
    if shape is None:
        fields: tuple[str, ...] = getattr(cls, "_fields", ())
        shape = (
            tuple(name for name in fields if name not in _BLOCKS),
            tuple(name for name in fields if name in _BLOCKS),
        )
        _SHAPES[cls] = shape
    return shape


def _utf8(data: bytes) -> bytes | None:
    """*data* as the UTF-8 text whose bytes ``ast`` positions count, with ``\\n`` line ends;
    None when that text is unknown."""
    if data[:3] == codecs.BOM_UTF8:
        data = data[3:]  # not part of the decoded text (a ``str`` source cannot hold one)
    # Line ends as the tokenizer translates them (before it looks for a coding cookie too).
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    # A coding cookie (honoured only on the first two lines) matters only for non-ASCII
    # bytes. Then bytes were parsed in that encoding, positions counting the UTF-8 of the
    # decoded text, but a ``str`` (the engine's) was parsed ignoring the cookie: the bytes
    # alone do not tell which, unless the cookie says UTF-8.
    if not data.isascii():
        first = data.find(b"\n")
        second = data.find(b"\n", first + 1) if first >= 0 else -1
        if b"coding" in (data if second < 0 else data[:second]):
            try:
                encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
            except SyntaxError:  # an encoding Python does not know: a ``str`` source
                return None
            if encoding not in ("utf-8", "utf-8-sig"):
                return None
    return data


def deeper_than(tree: ast.Module, data: bytes, limit: int) -> bool:
    """Whether some node of *tree* (parsed from *data*) is more than *limit* levels deep,
    the module being level 1."""
    if limit < 2:
        return limit < 1 or bool(tree.body) or bool(tree.type_ignores)
    utf8 = _utf8(data)
    if utf8 is None:  # rare: a coding cookie other than UTF-8 and non-ASCII text
        return _height(tree) > limit
    text = _Text(utf8)
    pending: list[tuple[list[ast.AST], int]] = [(tree.body, 2)]  # type: ignore[list-item]
    while pending:
        nodes, depth = pending.pop()
        if depth > limit:
            return True
        room = limit - depth - _SLACK  # the most marks a header may have without a look
        for node in nodes:
            header, blocks = _SHAPES.get(type(node)) or _shape(type(node))
            if blocks:
                start: ast.AST = getattr(node, "pattern", node)  # a match case has no position
                decorators = getattr(node, "decorator_list", None)
                if decorators:
                    start = decorators[0]
                line, column = start.lineno, start.col_offset  # type: ignore[attr-defined]
                # The whole statement first (its blocks too: one level more, so ``room + 1``),
                # where a cheap look is enough: a small function or class is done at once.
                end_line = getattr(node, "end_lineno", None)
                if end_line is not None:
                    end_column = node.end_col_offset  # type: ignore[attr-defined]
                    if text.at_most(line, column, end_line, end_column, room + 1):
                        continue
                body: list[ast.AST] = []
                for name in blocks:
                    inner = getattr(node, name)
                    if inner:
                        body = body or inner
                        pending.append((inner, depth + 1))
                end = body[0]
                if isinstance(end, _MATCH_CASE):
                    end = end.pattern  # type: ignore[attr-defined]
                end_line, end_column = end.lineno, end.col_offset  # type: ignore[attr-defined]
                if not header:  # ``try``
                    continue
            elif header:
                line, column = node.lineno, node.col_offset  # type: ignore[attr-defined]
                end_line, end_column = node.end_lineno, node.end_col_offset  # type: ignore[attr-defined]
                # Most statements: one short line.
                if line == end_line and end_column - column <= room:
                    continue
            else:
                continue
            if text.at_most(line, column, end_line, end_column, room):
                continue
            roots = [
                child
                for name in header
                for value in (getattr(node, name),)
                for child in (value if isinstance(value, list) else (value,))
                if isinstance(child, ast.AST)
            ]
            if _taller(roots, limit - depth, text):
                return True
    return False


class _Text:
    """The UTF-8 text whose bytes ``ast`` positions count, and bounds on the marks in ranges."""

    def __init__(self, utf8: bytes) -> None:
        self.data = utf8
        # Bytes before each line, less its line ends (one byte each): built on first need.
        self._before: list[int] | None = None

    def offset(self, line: int, column: int) -> int:
        before = self._before or self._lines()
        return before[line - 1] + line - 1 + column

    def _lines(self) -> list[int]:
        self._before = [0, *itertools.accumulate(map(len, self.data.split(b"\n")))]
        return self._before

    def at_most(self, line: int, column: int, end_line: int, end_column: int, marks: int) -> bool:
        """Whether the range certainly holds no more than *marks* marks."""
        if line == end_line:
            width = end_column - column
            first = -1
        else:
            before = self._before or self._lines()
            first = before[line - 1] + line - 1 + column
            width = before[end_line - 1] + end_line - 1 + end_column - first
        if width <= marks:
            return True
        # Counting pieces is worth it only where the range is not much longer than the answer
        # needs (and then costs no more than a few node visits).
        if width > _SCAN * marks:
            return False
        if first < 0:
            first = self.offset(line, column)
        return _pieces(self.data[first : first + width]) <= marks


def _taller(roots: list[ast.AST], room: int, text: _Text) -> bool:
    """Whether one of these subtrees is more than *room* levels high (a leaf is 1 level)."""
    # With each node, the width of the range last counted above it: a range is counted only
    # if at most half as wide, so that a chain of nested ranges (``a.b.b.b...``, each one node
    # inside the other) costs twice its width in counting, not its square.
    pending = [(root, 1, -1) for root in roots]
    while pending:
        node, level, counted = pending.pop()
        if level > room:
            return True
        # The node's range bounds its height (marks + 2) where its position is trusted.
        if isinstance(node, ast.expr):
            if isinstance(node, _STRINGS):
                if level - 1 + _height(node) > room:
                    return True
                continue
            line, end_line = node.lineno, node.end_lineno
            if line == end_line:
                width = node.end_col_offset - node.col_offset  # type: ignore[operator]
                first = -1
            else:
                first = text.offset(line, node.col_offset)
                width = text.offset(end_line, node.end_col_offset) - first  # type: ignore[arg-type]
            spare = room - level + 1 - _SLACK  # the most marks without a look below
            if width <= spare:
                continue
            if width <= _SCAN * spare and (counted < 0 or 2 * width <= counted):
                if first < 0:
                    first = text.offset(line, node.col_offset)
                if _pieces(text.data[first : first + width]) <= spare:
                    continue
                counted = width
        pending.extend((child, level + 1, counted) for child in ast.iter_child_nodes(node))
    return False


def _height(root: ast.AST) -> int:
    """Levels of the subtree under *root* (a leaf is 1 level)."""
    deepest = 0
    pending = [(root, 1)]
    while pending:
        node, level = pending.pop()
        deepest = max(deepest, level)
        pending.extend((child, level + 1) for child in ast.iter_child_nodes(node))
    return deepest
