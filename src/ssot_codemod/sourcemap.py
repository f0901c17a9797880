"""One code generation pass over a module that remembers where every node's text is.

Rules need the text of methods and statements (cheap substring tests before any expression
visit), the engine needs line/column positions for findings and the ancestors of edited nodes.
``Module.code_for_node`` regenerates text per call and LibCST's PositionProvider allocates a
range object per node; this records plain token offsets once and answers all three.

:class:`StatementSourceMap` answers the same for a module whose text is at hand, generating
code only for the top-level statements asked about (the rules read a few classes; a rewrite
keeps the rest of the file as its own lines).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Union

import libcst as cst
from libcst._nodes.internal import CodegenState  # internal, but stable since LibCST 0.3

# Linear: the alternatives start with distinct characters; `\n?` is a single optional one.
_NEWLINE = re.compile(r"\r\n?|\n")
_NO_OP: AbstractContextManager[None] = nullcontext()

Spans = dict[int, tuple[int, int]]  # node id -> (start, end) text offsets
Parents = dict[int, int]  # node id -> id of the node around it
# What a StatementSourceMap generates at once: a top-level statement (its index, None) or a
# statement of the body of a top-level class (the class's index, the statement's).
_Unit = tuple[int, Union[int, None]]


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

    def known_lines(self, node: cst.CSTNode, skipped: int) -> str | None:
        """The node's text from its line *skipped* (0-based) on, where its place is known
        without generating code and it starts a line (None elsewhere): a statement without
        the leading lines LibCST gave it."""
        span = self.known_span(id(node))
        if span is None:
            return None
        line = bisect.bisect_right(self._line_starts, span[0]) - 1
        if self._line_starts[line] != span[0] or line + skipped >= len(self._line_starts):
            return None
        return self.code[self._line_starts[line + skipped] : span[1]]

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

    def known_span(self, key: int) -> tuple[int, int] | None:
        """:meth:`_span` without generating anything (a :class:`StatementSourceMap` would)."""
        return self._spans.get(key)

    def verbatim(self, node: cst.CSTNode) -> bool:
        """Whether the node's text is another module's, copied (a rewrite's kept statement)
        rather than generated for it."""
        return False

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


def statement_source_map(
    module: cst.Module,
    code: str,
    lines: Sequence[tuple[int, int]],
    members: Sequence[tuple[int, Sequence[tuple[int, int]]]] = (),
) -> StatementSourceMap | None:
    """A :class:`StatementSourceMap` of *module*, LibCST's tree of *code*, whose top-level
    statements CPython placed at *lines* (:func:`statement_offsets`); None if it cannot be
    made. *members*: for top-level classes, the position of the class in *lines* and where
    CPython placed each statement of its body, so that those are placed too."""
    starts = line_starts(code)
    offsets = statement_offsets(module, code, lines, starts)
    if offsets is None:
        return None
    lazy = StatementSourceMap(module, code, offsets, starts)
    # The lines above the first statement and below the last are the module's own: generated
    # now (a few comments), they must come back as they are too.
    for lines_of, start, end in (
        (module.header, 0, offsets[0]),
        (module.footer, offsets[-1], len(code)),
    ):
        state = _RecordingState(module)
        for line in lines_of:
            line._codegen(state)
            lazy._parents[id(line)] = id(module)
        if _resolve(state.tokens, start, lazy._spans, lazy._parents) != code[start:end]:  # type: ignore[arg-type]
            return None
    if members:
        body_lines = dict(members)
        position = 0  # index into *lines* of each top-level statement's first
        for number, stmt in enumerate(module.body):
            found = body_lines.get(position)
            if found is not None and isinstance(stmt, cst.ClassDef):
                lazy._place_members(number, lines[position][0], found)
            position += len(stmt.body) if isinstance(stmt, cst.SimpleStatementLine) else 1
    return lazy


class StatementSourceMap(SourceMap):
    """A :class:`SourceMap` of a module whose text is known, that generates a statement's code
    only when a node in it is asked about.

    Every top-level statement's text is a run of whole lines of the module's text, placed by
    CPython's line numbers and LibCST's leading lines (:func:`statement_offsets`), so a
    statement nobody asks about is never generated: its text is the module's own. So is each
    statement of a top-level class's body, where CPython's lines for it were given
    (:func:`block_offsets`): a method is generated alone, without the rest of its class, and
    the text of a method nobody looks into is the module's own. A generated statement must be
    exactly its lines; one that is not (a construct LibCST does not reproduce) makes the map
    :attr:`inexact`, and its caller starts again with a :class:`SourceMap`.
    """

    def __init__(self, module: cst.Module, code: str, offsets: list[int], starts: list[int]):
        self.code = code
        self._line_starts = starts
        self._module = module
        self.inexact = False
        self._spans: Spans = {id(module): (0, len(code))}
        self._parents: Parents = {}
        self._statement_at: dict[int, int] = {}  # top-level statement id -> its index
        for number, stmt in enumerate(module.body):
            self._spans.setdefault(id(stmt), (offsets[number], offsets[number + 1]))
            self._parents[id(stmt)] = id(module)
            self._statement_at.setdefault(id(stmt), number)
        self._pending = dict.fromkeys(range(len(module.body)))  # not generated yet, in order
        # What generates a node: a top-level statement (its index) or a placed statement of a
        # class body (the class's index, the statement's); a node given by a hint, or placed.
        self._owner: dict[int, _Unit] = {}
        self._pending_members: dict[_Unit, None] = {}
        # Placed members whose text or words were asked about, or generated for a node in
        # them, the latest last: where a node nobody placed is looked for first, the latest
        # first (a rule reads a method, then the nodes in it it edits or quotes).
        self._asked: dict[_Unit, None] = {}

    def _place_members(
        self, number: int, owner_first: int, lines: Sequence[tuple[int, int]]
    ) -> None:
        """Place the statements of the body of class *number* (CPython's *lines* for them;
        the class's first line is *owner_first*): their spans and parents are known from now
        on, and each is generated alone when a node in it is asked about."""
        stmt = self._module.body[number]
        block = getattr(stmt, "body", None)
        if not isinstance(block, cst.IndentedBlock) or self._statement_at[id(stmt)] != number:
            return
        owner_end = bisect.bisect_right(self._line_starts, self._spans[id(stmt)][1] - 1)
        offsets = block_offsets(
            block, self.code, lines, self._line_starts, owner_first=owner_first, owner_end=owner_end
        )
        if offsets is None:
            return
        self._parents[id(block)] = id(stmt)
        for position, member in enumerate(block.body):
            key = id(member)
            if key in self._spans:  # one node object in two places: the first one's
                continue
            self._spans[key] = (offsets[position], offsets[position + 1])
            self._parents[key] = id(block)
            self._owner[key] = (number, position)
            self._pending_members[(number, position)] = None

    def hint(self, statement: cst.CSTNode, nodes: Iterable[cst.CSTNode]) -> None:
        """*nodes* are in the top-level *statement*: asked about, that one is generated (or,
        for a placed statement of its body and that statement's name, that one alone)."""
        number = self._statement_at.get(id(statement))
        if number is None:
            return
        for node in nodes:
            unit = self._owner.setdefault(id(node), (number, None))
            name = getattr(node, "name", None)
            if isinstance(name, cst.Name) and isinstance(node, (cst.FunctionDef, cst.ClassDef)):
                self._owner.setdefault(id(name), unit)

    def mentions(self, node: cst.CSTNode, words: tuple[str, ...]) -> bool | None:
        # Asked of every node of a tree that may not be this module's (a rewrite's new nodes):
        # a node not placed yet is not searched for, only generated where a hint puts it.
        key = id(node)
        span = self._spans.get(key)
        unit = self._owner.get(key)
        if unit is not None and unit[1] is not None:
            self._ask(unit)
        if span is None and unit is not None:
            # A node's text is part of its statement's: none of the words there, none in it.
            start, end = self._unit_span(unit)
            if not any(self.code.find(word, start, end) >= 0 for word in words):
                return False
            self._generate_holding(key, search=False)
            span = self._spans.get(key)
        if span is None:
            return None
        return any(self.code.find(word, span[0], span[1]) >= 0 for word in words)

    def _span(self, key: int) -> tuple[int, int] | None:
        span = self._spans.get(key)
        if span is None and self._pending:
            self._generate_holding(key, search=True)
            span = self._spans.get(key)
        return span

    def text(self, node: cst.CSTNode) -> str | None:
        unit = self._owner.get(id(node))
        if unit is not None and unit[1] is not None:
            self._ask(unit)
        return super().text(node)

    def _parent(self, key: int) -> int | None:
        parent = self._parents.get(key)
        if parent is None and self._pending and key != id(self._module):
            self._generate_holding(key, search=True)
            parent = self._parents.get(key)
        return parent

    def _ask(self, unit: _Unit) -> None:
        self._asked.pop(unit, None)
        self._asked[unit] = None

    def _unit_span(self, unit: _Unit) -> tuple[int, int]:
        stmt = self._module.body[unit[0]] if unit[1] is None else self._member(unit)
        return self._spans[id(stmt)]

    def _generate_holding(self, key: int, *, search: bool) -> None:
        unit = self._owner.get(key)
        if unit is not None:
            if unit in self._pending_members:
                if not self._place_name(unit, key):
                    self._ask(unit)
                    self._generate_member(unit)
                return
            if unit[0] in self._pending:
                self._generate(unit[0])
                return
        if not search:
            return
        # A node nobody said where it is: in the methods read so far, then in source order.
        for asked in reversed(list(self._asked)):
            if asked in self._pending_members:
                self._generate_member(asked)
                if key in self._spans:
                    return
        for number in list(self._pending):
            self._generate(number)
            if key in self._spans:
                return

    def _generate(self, number: int) -> None:
        del self._pending[number]
        stmt = self._module.body[number]
        block = getattr(stmt, "body", None)
        if isinstance(block, cst.IndentedBlock):
            for position in range(len(block.body)):
                self._pending_members.pop((number, position), None)
        self._record(stmt, _RecordingState(self._module))

    def _generate_member(self, unit: _Unit) -> None:
        del self._pending_members[unit]
        self._record(self._member(unit), self._member_state(unit))

    def _member(self, unit: _Unit) -> cst.BaseStatement:
        number, position = unit
        assert position is not None
        block = getattr(self._module.body[number], "body", None)
        assert isinstance(block, cst.IndentedBlock)
        return block.body[position]

    def _member_state(self, unit: _Unit) -> _RecordingState:
        """A code generation at the indentation of the body *unit* is in."""
        block = getattr(self._module.body[unit[0]], "body", None)
        assert isinstance(block, cst.IndentedBlock)
        state = _RecordingState(self._module)
        state.increase_indent(state.default_indent if block.indent is None else block.indent)
        return state

    def _place_name(self, unit: _Unit, key: int) -> bool:
        """Place node *key* if it is the name of the def or class *unit*, a placed member, by
        generating only what comes before it (a finding points at a definition's name); False
        where that was not done."""
        definition = self._member(unit)
        if (
            not isinstance(definition, (cst.FunctionDef, cst.ClassDef))
            or id(definition.name) != key
        ):
            return False
        state = self._member_state(unit)
        _head_tokens(definition, state)
        spans: Spans = {}
        start = self._spans[id(definition)][0]
        text = _resolve(state.tokens, start, spans, {})  # type: ignore[arg-type]
        if not self.code.startswith(text, start) or key not in spans:
            return False  # generated whole instead, which tells whether it is exact
        self._spans.setdefault(key, spans[key])
        self._parents[key] = id(definition)
        return True

    def _record(self, stmt: cst.CSTNode, state: _RecordingState) -> None:
        """Generate *stmt* (placed) in *state*, and keep its nodes' spans and parents if its
        text is its place's."""
        start, end = self._spans[id(stmt)]
        stmt._codegen(state)
        spans: Spans = {}
        parents: Parents = {}
        text = _resolve(state.tokens, start, spans, parents)  # type: ignore[arg-type]
        if text != self.code[start:end]:
            self.inexact = True  # its nodes stay unknown: texts come from their own codegen
            return
        for key, span in spans.items():
            self._spans.setdefault(key, span)
        self._parents.update(parents)


def _head_tokens(definition: cst.FunctionDef | cst.ClassDef, state: CodegenState) -> None:
    """What LibCST's code generation of *definition* writes up to its name, the name
    included (``FunctionDef._codegen_impl``, ``ClassDef._codegen_impl``). Its text is checked
    against the module's: a LibCST that writes it otherwise gets the whole definition
    generated instead."""
    for line in definition.leading_lines:
        line._codegen(state)
    for decorator in definition.decorators:
        decorator._codegen(state)
    for line in definition.lines_after_decorators:
        line._codegen(state)
    state.add_indent_tokens()
    if isinstance(definition, cst.FunctionDef):
        if definition.asynchronous is not None:
            definition.asynchronous._codegen(state)
        state.add_token("def")
        definition.whitespace_after_def._codegen(state)
    else:
        state.add_token("class")
        definition.whitespace_after_class._codegen(state)
    definition.name._codegen(state)


def statement_offsets(
    module: cst.Module, code: str, lines: Sequence[tuple[int, int]], starts: list[int]
) -> list[int] | None:
    """Where each top-level statement's text starts in *code* (LibCST's *module* of it), and
    where the last one ends; None when that cannot be told without generating code.

    *lines*: each top-level statement of CPython's tree of *code*, as its first line (its
    first decorator's) and its last; *starts*: :func:`line_starts` of *code*. A statement's
    text starts as many lines above its first line as LibCST gave it leading lines (blank
    lines and comments), and ends where the next one's starts. Checked on the way: every
    line between one statement's last line and the next one's first is a blank line or a
    comment (a block's footer, or leading lines), and a simple statement has no footer.
    """
    if (
        not module.body
        or not module.has_trailing_newline
        or not code.endswith(("\n", "\r"))
        or code.startswith("\ufeff")
    ):
        return None
    total = len(starts) - 1  # the text ends with a newline: the last start is its end
    return _body_offsets(
        module.body,
        code,
        lines,
        starts,
        header=len(module.header),
        last=total - len(module.footer),
        end=total,
    )


def block_offsets(
    block: cst.IndentedBlock,
    code: str,
    lines: Sequence[tuple[int, int]],
    starts: list[int],
    *,
    owner_first: int,
    owner_end: int,
) -> list[int] | None:
    """:func:`statement_offsets` of the statements of *block*, the body of a compound
    statement whose text is lines *owner_first* to *owner_end* (1-based, included) of *code*;
    *lines*: CPython's first and last line of each statement of that body.

    The header (``class A(Base):`` and any lines it spans) ends on the line above the first
    statement's leading lines: LibCST gives every blank line and comment after it to that
    statement, so that line must be code, at or below *owner_first*. The block's footer is
    the last lines of the owner's text.
    """
    if not block.body or not lines:
        return None
    return _body_offsets(
        block.body, code, lines, starts, header=None, last=owner_end - len(block.footer),
        end=owner_end, floor=owner_first,
    )  # fmt: skip


def _body_offsets(
    body: Sequence[cst.BaseStatement],
    code: str,
    lines: Sequence[tuple[int, int]],
    starts: list[int],
    *,
    header: int | None,
    last: int,
    end: int,
    floor: int = 0,
) -> list[int] | None:
    """Where each statement of *body* starts, and where the last one ends. *header*: the
    last line before the first statement's text (None: the line above that text, which must
    be code at or below line *floor*); *last*: the last line of the last statement's text
    (its footer's, if it has one); *end*: the last line of the body's owner."""
    offsets: list[int] = []
    position = 0  # index into *lines*
    previous_last = header  # last line before the next statement's text
    previous_simple = False
    for stmt in body:
        if not isinstance(stmt, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            return None  # what LibCST's parser never makes
        count = len(stmt.body) if isinstance(stmt, cst.SimpleStatementLine) else 1
        if position + count > len(lines):
            return None
        own_first = lines[position][0]
        own_last = lines[position + count - 1][1]
        position += count
        leading = len(stmt.leading_lines)
        decorators = getattr(stmt, "decorators", ())
        if decorators:
            leading += len(decorators[0].leading_lines)
        first = own_first - leading
        if own_last < own_first:
            return None
        if previous_last is None:  # the first statement of a block: a code line above it
            previous_last = first - 1
            if previous_last < floor or _blank_or_comment(code, starts, previous_last, first):
                return None
        elif first <= previous_last or (not offsets and first != previous_last + 1):
            return None
        if previous_simple and first != previous_last + 1:
            return None
        if not _blank_or_comment(code, starts, previous_last + 1, own_first):
            return None
        offsets.append(starts[first - 1])
        previous_last = own_last
        previous_simple = isinstance(stmt, cst.SimpleStatementLine)
    assert previous_last is not None  # a body has a statement
    if (
        position != len(lines)
        or last < previous_last
        or (previous_simple and last != previous_last)
    ):
        return None
    if not _blank_or_comment(code, starts, previous_last + 1, end + 1):
        return None
    offsets.append(starts[last])
    return offsets


def _blank_or_comment(code: str, starts: list[int], first: int, stop: int) -> bool:
    """Whether lines *first* to *stop* (excluded; 1-based) of *code* are all blank lines or
    comments, as CPython's tokenizer sees them (space, tab and form feed are blanks)."""
    for number in range(first, stop):
        text = code[starts[number - 1] : starts[number]].lstrip(" \t\f")
        if text and text[0] not in "#\r\n":
            return False
    return True


def line_starts(code: str) -> list[int]:
    """Offsets where the lines of *code* start."""
    return [0] + [m.end() for m in _NEWLINE.finditer(code)]


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
    spans: Spans = {}
    parents: Parents = {}
    return _resolve(items, 0, spans, parents), spans, parents


def _resolve(items: list[object], offset: int, spans: Spans, parents: Parents) -> str:
    """The text of a recorded code generation's *items* (text and node markers), starting at
    *offset*; the span and parent of each node in it go to *spans* (first place kept) and
    *parents*."""
    parts: list[str] = []
    # The open nodes' ids and start offsets; ``top`` is the innermost one's id (-1: none).
    keys: list[int] = []
    starts: list[int] = []
    top = -1
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
    return "".join(parts)
