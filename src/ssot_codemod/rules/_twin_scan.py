"""A byte-level scan that tells whether a file can hold twin methods, without parsing it.

SSC003 needs two definitions of the same method name whose bodies are equal once docstrings,
comments and whitespace are ignored, or one class defining a method twice. Most test files
define ``setUp`` in several classes with *different* bodies; parsing each of them (even with
``ast``) dominated the cost of ``check`` on big trees. This scan blanks strings and comments,
finds the ``class`` and ``def`` statements, takes each hook's body up to the next line indented
no deeper than its ``def`` (outside brackets and backslash continuations), and compares a
deliberately coarse key per definition (its identifier tokens, without strings, numbers or
string-prefix-like words), so any pair that is equal to ``ast`` is equal here too: it may let a
file through needlessly, never hide one.

All work over the whole file is done by ``re`` and ``bytes`` methods in C (docs/architecture.md,
"Linear-time gates"); Python loops run per ``class``/``def`` statement, never per line.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

# Comments first so that quotes inside them are not taken for strings, then every string form.
# Linear by construction (docs/architecture.md, "Linear-time gates"): every branch starts with
# its own literal (so the search also skips to the next `#`, `"` or `'` at C speed), escapes
# and ordinary characters are disjoint, and an unterminated string runs to the end of its line
# (of the file, for triple quotes) instead of failing: a failed attempt would be retried from
# the next quote and rescan the same line, quadratically. String prefixes (``rb``, ``f``...)
# stay behind as words. (project/run.py keys hook bodies with this one: keep it as it is.)
_LEXEMES = re.compile(
    rb"#[^\r\n]*"
    rb'|"""(?:\\[\s\S]|[^\\])*?(?:"""|\Z)'
    rb"|'''(?:\\[\s\S]|[^\\])*?(?:'''|\Z)"
    rb'|"(?:\\[\s\S]|[^"\\\r\n])*"?'
    rb"|'(?:\\[\s\S]|[^'\\\r\n])*'?"
)
# The same lexemes with each loop unrolled (a run of ordinary characters, then one escape or
# lone quote, repeated): the runs are single character classes, which ``re`` matches in a tight
# C loop, where the lazy ``*?`` above tried the closing quotes after every character (twice as
# fast on the stdlib). Same language, same linearity argument: the pieces inside each loop are
# disjoint (ordinary / backslash / a quote not followed by the other two).
_CODE_ONLY = re.compile(
    rb"#[^\r\n]*"
    rb'|"""[^"\\]*(?:(?:\\[\s\S]|"(?!""))[^"\\]*)*(?:"""|\Z)'
    rb"|'''[^'\\]*(?:(?:\\[\s\S]|'(?!''))[^'\\]*)*(?:'''|\Z)"
    rb'|"[^"\\\r\n]*(?:\\[\s\S][^"\\\r\n]*)*"?'
    rb"|'[^'\\\r\n]*(?:\\[\s\S][^'\\\r\n]*)*'?"
)
# Found by its leading literal (a fast scan); that it starts a line is checked per match.
_CLASS = re.compile(rb"class[ \t]+(\w+)")
_TOKEN = re.compile(rb"\w+")
# A key's words: identifiers, except those that may be a string's prefix (r"\d" and "\\d" are
# equal to ``ast``; the string itself is already blanked) — dropping a variable called ``f``
# as well only makes the key coarser. Numbers are dropped (1.0 and 1. are equal to ``ast``).
_KEY_WORD = re.compile(rb"\b(?![rRbBuUfFtT]{1,2}\b)[A-Za-z_]\w*")
_FIRST_LINE = re.compile(rb"\n([ \t\f]*)[^\s]")

_MAX_INDENT_LEVELS = 100  # CPython's tokenizer: "too many levels of indentation"
# Continuation lines (in brackets, after a backslash) that start at or left of a body's
# indentation are stepped over one by one; past this many in one file, let the parse decide.
_MAX_CONTINUATIONS = 1000


def may_have_twins(data: bytes, names: frozenset[str]) -> bool:
    """False only when no class in ``data`` can define one of ``names`` twice and no two
    definitions of the same name can have equal bodies."""
    counts = Counter(_anywhere(names).findall(data))
    if not counts or max(counts.values()) < 2:
        return False
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    text = _CODE_ONLY.sub(b" ", data)
    # Only classes and the hooks themselves: a hook nested in another function is taken for
    # its class's (an extra holder only lets the file through), and the loop stays short.
    statements = sorted(
        [(m.start(), m.end(), m.group(1), True) for m in _hook_definition(names).finditer(text)]
        + [(m.start(), m.end(), m.group(1), False) for m in _CLASS.finditer(text)]
    )
    scan = _Scan(text)
    try:
        return _twins(scan, statements)
    except _OverBudget:
        return True


def _twins(scan: _Scan, statements: list[tuple[int, int, bytes, bool]]) -> bool:
    text = scan.text
    stack: list[tuple[int, int]] = []  # (indent, class number, or -1 for a hook)
    headers: list[tuple[bytes, int, int]] = []  # class name, end of ``class Name``, indent
    body_indents: dict[int, int] = {}
    hooks: list[tuple[bytes, int, int, int]] = []  # name, class number, end of match, indent
    seen_in_class: set[tuple[int, bytes]] = set()
    for start, end, name, is_hook in statements:
        indent = _statement_indent(text, start, allow_async=is_hook)
        if indent is None:
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if len(stack) > _MAX_INDENT_LEVELS:
            # Not Python (its tokenizer stops at this depth): let the engine say so. Below it,
            # a line is in at most this many hook bodies, which keeps the body scans linear.
            return True
        if not is_hook:
            stack.append((indent, len(headers)))
            headers.append((name, end, indent))
            continue
        parent = stack[-1][1] if stack else -1
        stack.append((indent, -1))
        if parent < 0:
            continue
        if parent not in body_indents:
            body_indents[parent] = scan.body_indent(headers[parent][1])
        if indent != body_indents[parent]:
            continue  # deeper: in a function or an ``if`` of the class, not one of its methods
        if (parent, name) in seen_in_class:
            return True
        seen_in_class.add((parent, name))
        hooks.append((name, parent, end, indent))
    # Definitions by (name, key) -> the classes (class numbers) holding them.
    keys: dict[tuple[bytes, bytes], list[int]] = {}
    for name, parent, end, indent in hooks:
        body_end = scan.line_end(end, indent)
        key = b" ".join(_KEY_WORD.findall(text, end, body_end))
        keys.setdefault((name, key), []).append(parent)
    return _related_holders(keys, headers, scan)


def _related_holders(
    keys: dict[tuple[bytes, bytes], list[int]], headers: list[tuple[bytes, int, int]], scan: _Scan
) -> bool:
    """An identical override only matters between classes related by inheritance in this file:
    per group of equal definitions, is one holder's name among another's ancestors? (Set
    lookups, not a walk per pair: thousands of identical trivial setUps in unrelated classes
    must not cost a quadratic number of walks.) Bases are read only for such groups."""
    bases: dict[bytes, set[bytes]] | None = None
    ancestors: dict[bytes, frozenset[bytes]] = {}
    for holders in keys.values():
        if len(holders) < 2:
            continue
        if bases is None:
            bases = {}
            for name, end, _indent in headers:
                # Every word of the header's logical line counts as a base (a one-line body's
                # too): more bases only err towards a relation.
                words = _TOKEN.findall(scan.text, end, scan.line_end(end, None))
                bases.setdefault(name, set()).update(words)
        counts_by_name = Counter(headers[h][0] for h in holders)
        for name, count in counts_by_name.items():
            related = ancestors.get(name)
            if related is None:
                related = ancestors[name] = _ancestors(name, bases)
            if count > 1 and name in related:
                return True
            if any(other != name and other in counts_by_name for other in related):
                return True
    return False


@lru_cache(maxsize=8)
def _anywhere(names: frozenset[str]) -> re.Pattern[bytes]:
    """Definitions of ``names`` anywhere in the raw bytes (strings included: a cheap count).
    No ``\\b`` in front: the pattern then starts with a literal, which ``re`` finds with a fast
    scan (15x faster), and ``undef setUp(`` counting too only lets a file through."""
    return re.compile(rb"def\s+(" + _alternatives(names) + rb")\s*\(")


@lru_cache(maxsize=8)
def _hook_definition(names: frozenset[str]) -> re.Pattern[bytes]:
    """``def name`` for one of ``names`` (that it starts a line is checked per match)."""
    return re.compile(rb"def[ \t]+(" + _alternatives(names) + rb")(?!\w)")


def _alternatives(names: frozenset[str]) -> bytes:
    return b"|".join(re.escape(n.encode()) for n in sorted(names))


def line_within(data: bytes, indent: int, start: int, end: int) -> int:
    """Where the newline is that begins the first line in ``data[start:end]`` which is neither
    blank nor a comment and starts at most ``indent`` blanks in; -1 when there is none.

    (project/run.py finds the end of a hook's body with it, on raw bytes: blanks are what
    ``bytes.lstrip`` strips.)"""
    if indent <= _MAX_EXACT_INDENT:
        found = _within(indent).search(data, start, end)
        return -1 if found is None else found.start()
    # Deeper than real code goes: one match per line, measured here (a pattern per depth
    # cost a compilation each: seconds for a file indented two thousand different ways).
    for found in _ANY_LINE.finditer(data, start, end):
        if found.end(1) - found.start(1) <= indent:
            return found.start()
    return -1


_MAX_EXACT_INDENT = 64
_ANY_LINE = re.compile(rb"\n([ \t\r\x0b\x0c]*)[^\s#]")


@lru_cache(maxsize=_MAX_EXACT_INDENT + 1)
def _within(indent: int) -> re.Pattern[bytes]:
    """``_ANY_LINE`` for lines at most ``indent`` blanks in. Linear: it starts only at a
    newline, and the blanks and the character after them are disjoint classes, so an attempt
    reads one line's indentation and no further."""
    return re.compile(rb"\n[ \t\r\x0b\x0c]{0,%d}[^\s#]" % indent)


def _statement_indent(text: bytes, start: int, *, allow_async: bool) -> int | None:
    """The indentation of the line ``start`` is on when only blanks (and, for a ``def``,
    ``async``) precede it there; None when it is not a statement (``undef x``, ``x.class y``)."""
    line_start = text.rfind(b"\n", 0, start) + 1
    before = text[line_start:start]
    rest = before.lstrip(b" \t\f")
    if rest and not (
        allow_async and rest.startswith(b"async") and len(rest) > 5 and not rest[5:].strip()
    ):
        return None
    return len(before) - len(rest)


class _OverBudget(Exception):
    """Too many continuation lines to step over one by one: let the parse decide."""


class _Scan:
    """Logical-line ends in one file's code-only text, with the file's budget of skipped
    continuation lines."""

    def __init__(self, text: bytes) -> None:
        self.text = text
        self.budget = _MAX_CONTINUATIONS

    def line_end(self, start: int, indent: int | None) -> int:
        """Where the first line after ``start`` begins that starts at most ``indent`` blanks
        in (any line: None), skipping blank lines, lines inside brackets opened since ``start``
        and lines after a backslash; the end of the text when there is none."""
        text = self.text
        depth = 0
        segment = position = start
        while True:
            if indent is None:
                newline = text.find(b"\n", position)
            else:
                newline = line_within(text, indent, position, len(text))
            if newline < 0:
                return len(text)
            line = newline + 1
            depth = max(0, depth + _bracket_balance(text, segment, line))
            segment = line
            if depth == 0 and text[line - 2 : line - 1] != b"\\":
                return line
            self.budget -= 1
            if self.budget < 0:
                raise _OverBudget
            position = line

    def body_indent(self, header: int) -> int:
        """The indentation of the first line after the class header ending after ``header``
        (the class's methods are exactly this deep)."""
        found = _FIRST_LINE.search(self.text, self.line_end(header, None) - 1)
        return -1 if found is None else len(found.group(1))


def _bracket_balance(text: bytes, start: int, end: int) -> int:
    opened = text.count(b"(", start, end) + text.count(b"[", start, end)
    closed = text.count(b")", start, end) + text.count(b"]", start, end)
    return opened + text.count(b"{", start, end) - closed - text.count(b"}", start, end)


def _ancestors(child: bytes, bases: dict[bytes, set[bytes]]) -> frozenset[bytes]:
    """The names among ``child``'s bases, transitively (by name: a base written ``mod.Base``
    counts as ``Base`` too, which only errs towards a relation)."""
    pending = list(bases.get(child, ()))
    seen: set[bytes] = set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        pending.extend(bases.get(current, ()))
    return frozenset(seen)
