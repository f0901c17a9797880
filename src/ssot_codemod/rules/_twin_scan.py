"""A byte-level scan that tells whether a file can hold twin methods, without parsing it.

SSC003 needs two definitions of the same method name whose bodies are equal once docstrings,
comments and whitespace are ignored, or one class defining a method twice. Most test files
define ``setUp`` in several classes with *different* bodies; parsing each of them (even with
``ast``) dominated the cost of ``check`` on big trees. This scan strips strings and comments,
joins bracketed continuation lines, and compares a deliberately coarse key per definition
(identifier tokens, every string and number collapsed), so any pair that is equal to ``ast`` is
equal here too: it may let a file through needlessly, never hide one.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

# Comments first so that quotes inside them are not taken for strings, then every string form.
# Linear by construction (docs/architecture.md, "Linear-time gates"): every branch starts with
# its own literal (so the search also skips to the next `#`, `"` or `'` at C speed), escapes
# and ordinary characters are disjoint, and an unterminated string runs to the end of its line
# (of the file, for triple quotes) instead of failing: a failed attempt would be retried from
# the next quote and rescan the same line, quadratically. String prefixes (``rb``, ``f``...)
# stay behind as words; ``_key`` drops them.
_LEXEMES = re.compile(
    rb"#[^\r\n]*"
    rb'|"""(?:\\[\s\S]|[^\\])*?(?:"""|\Z)'
    rb"|'''(?:\\[\s\S]|[^\\])*?(?:'''|\Z)"
    rb'|"(?:\\[\s\S]|[^"\\\r\n])*"?'
    rb"|'(?:\\[\s\S]|[^'\\\r\n])*'?"
)
_TOKEN = re.compile(rb"\w+")
_STRING = b"S"
# A word of string-prefix letters right before a string is its prefix: r"\d" and "\\d" are
# equal to ``ast``, so they must get the same key.
_PREFIX_LETTERS = frozenset(b"rRbBuUfF")


def _strip(match: re.Match[bytes]) -> bytes:
    return b"" if match.group(0).startswith(b"#") else b" " + _STRING + b" "


def _logical_lines(data: bytes) -> list[tuple[int, bytes]]:
    """(indent width, text) of each logical line, strings and comments already removed."""
    # The parts of a logical line are joined once at the end: appending to the joined text
    # per physical line would be quadratic for a long bracketed literal.
    parts: list[tuple[int, list[bytes]]] = []
    depth = 0
    continued = False
    for raw in _LEXEMES.sub(_strip, data).splitlines():
        stripped = raw.strip()
        if (depth > 0 or continued) and parts:
            parts[-1][1].append(stripped)
        elif stripped:
            parts.append((len(raw) - len(raw.lstrip()), [stripped]))
        else:
            continue
        depth = max(0, depth + _bracket_balance(stripped))
        continued = stripped.endswith(b"\\")
    return [(indent, b" ".join(pieces)) for indent, pieces in parts]


def _bracket_balance(text: bytes) -> int:
    opened = text.count(b"(") + text.count(b"[") + text.count(b"{")
    return opened - text.count(b")") - text.count(b"]") - text.count(b"}")


def _key(lines: Iterable[bytes]) -> tuple[bytes, ...]:
    tokens: list[bytes] = []
    for text in lines:
        for token in _TOKEN.findall(text):
            if token == _STRING and tokens and len(tokens[-1]) <= 3:
                if _PREFIX_LETTERS.issuperset(tokens[-1]):
                    tokens.pop()  # the string's prefix (or a short word: only coarser)
            tokens.append(b"N" if token[:1].isdigit() else token)
    return tuple(tokens)


def may_have_twins(data: bytes, names: frozenset[str]) -> bool:
    """False only when no class in ``data`` can define one of ``names`` twice and no two
    definitions of the same name can have equal bodies."""
    alternatives = b"|".join(n.encode() for n in sorted(names))
    anywhere = re.compile(rb"\bdef\s+(" + alternatives + rb")\s*\(")
    counts: dict[bytes, int] = {}
    for found in anywhere.finditer(data):
        counts[found.group(1)] = counts.get(found.group(1), 0) + 1
    if not counts or max(counts.values()) < 2:
        return False
    definition = re.compile(rb"^(?:async\s+)?def\s+(" + alternatives + rb")\s*\(")
    lines = _logical_lines(data)
    # Each entry of the stack: (indent, line index, is_class).
    stack: list[tuple[int, int, bool]] = []
    seen_in_class: set[tuple[int, bytes]] = set()
    # Definitions by (name, key) -> the classes (line index) holding them.
    keys: dict[tuple[bytes, tuple[bytes, ...]], list[int]] = {}
    class_names: dict[int, bytes] = {}
    class_bases: dict[bytes, set[bytes]] = {}
    for index, (indent, text) in enumerate(lines):
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if len(stack) > _MAX_INDENT_LEVELS:
            # Not Python (its tokenizer stops at this depth): let the engine say so. Below it,
            # a line is in at most this many bodies, which keeps the body scans linear.
            return True
        match = definition.match(text)
        if match is not None:
            name = match.group(1)
            parent = stack[-1][1] if stack and stack[-1][2] else -1
            if parent >= 0:
                if (parent, name) in seen_in_class:
                    return True
                seen_in_class.add((parent, name))
            body = [text[match.end() :]]
            following = index + 1  # (no slice of the rest of the file per definition)
            while following < len(lines) and lines[following][0] > indent:
                body.append(lines[following][1])
                following += 1
            while len(body) > 1 and set(_key([body[1]])) <= {_STRING}:
                del body[1]  # the docstring (and any leading bare string) is not compared
            keys.setdefault((name, _key(body)), []).append(parent)
        is_class = _CLASS.match(text)
        if is_class is not None:
            class_names[index] = is_class.group(1)
            bases = set(_TOKEN.findall(is_class.group(2) or b""))
            class_bases.setdefault(is_class.group(1), set()).update(bases)
        stack.append((indent, index, is_class is not None))
    # An identical override only matters between classes related by inheritance in this file:
    # per group of equal definitions, is one holder's name among another's ancestors? (Set
    # lookups, not a walk per pair: thousands of identical trivial setUps in unrelated classes
    # must not cost a quadratic number of walks.)
    ancestors: dict[bytes, frozenset[bytes]] = {}
    for holders in keys.values():
        counts_by_name = Counter(class_names.get(h, b"") for h in holders if h >= 0)
        if sum(counts_by_name.values()) < 2:
            continue
        for name, count in counts_by_name.items():
            related = ancestors.get(name)
            if related is None:
                related = ancestors[name] = _ancestors(name, class_bases)
            if count > 1 and name in related:
                return True
            if any(other != name and other in counts_by_name for other in related):
                return True
    return False


_MAX_INDENT_LEVELS = 100  # CPython's tokenizer: "too many levels of indentation"

# Anchored at a logical line's start; `(.*)` then `\)` backtracks over one line only.
_CLASS = re.compile(rb"^class\s+(\w+)\s*(?:\((.*)\))?")


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
