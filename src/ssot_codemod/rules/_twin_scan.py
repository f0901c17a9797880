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
from collections.abc import Iterable

# Comments first so that quotes inside them are not taken for strings, then every string form.
_LEXEMES = re.compile(
    rb"#[^\n]*"
    rb"|(?:[rRbBuUfF]{1,3})?(?:\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''"
    rb"|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*')"
)
_TOKEN = re.compile(rb"\w+")


def _strip(match: re.Match[bytes]) -> bytes:
    return b"" if match.group(0).startswith(b"#") else b" S "


def _logical_lines(data: bytes) -> list[tuple[int, bytes]]:
    """(indent width, text) of each logical line, strings and comments already removed."""
    lines: list[tuple[int, bytes]] = []
    depth = 0
    continued = False
    for raw in _LEXEMES.sub(_strip, data).splitlines():
        stripped = raw.strip()
        if depth > 0 or continued:
            indent, text = lines[-1]
            lines[-1] = (indent, text + b" " + stripped)
        elif stripped:
            lines.append((len(raw) - len(raw.lstrip()), stripped))
        else:
            continue
        depth = max(0, depth + _bracket_balance(stripped))
        continued = stripped.endswith(b"\\")
    return lines


def _bracket_balance(text: bytes) -> int:
    opened = text.count(b"(") + text.count(b"[") + text.count(b"{")
    return opened - text.count(b")") - text.count(b"]") - text.count(b"}")


def _key(lines: Iterable[bytes]) -> tuple[bytes, ...]:
    tokens: list[bytes] = []
    for text in lines:
        for token in _TOKEN.findall(text):
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
        match = definition.match(text)
        if match is not None:
            name = match.group(1)
            parent = stack[-1][1] if stack and stack[-1][2] else -1
            if parent >= 0:
                if (parent, name) in seen_in_class:
                    return True
                seen_in_class.add((parent, name))
            body = [text[match.end() :]]
            for inner_indent, inner in lines[index + 1 :]:
                if inner_indent <= indent:
                    break
                body.append(inner)
            while len(body) > 1 and set(_key([body[1]])) <= {b"S"}:
                del body[1]  # the docstring (and any leading bare string) is not compared
            keys.setdefault((name, _key(body)), []).append(parent)
        is_class = _CLASS.match(text)
        if is_class is not None:
            class_names[index] = is_class.group(1)
            bases = set(_TOKEN.findall(is_class.group(2) or b""))
            class_bases.setdefault(is_class.group(1), set()).update(bases)
        stack.append((indent, index, is_class is not None))
    # An identical override only matters between classes related by inheritance in this file.
    for holders in keys.values():
        names_of = [class_names.get(h, b"") for h in holders if h >= 0]
        for i, first in enumerate(names_of):
            for second in names_of[i + 1 :]:
                if _inherits(first, second, class_bases) or _inherits(second, first, class_bases):
                    return True
    return False


_CLASS = re.compile(rb"^class\s+(\w+)\s*(?:\((.*)\))?")


def _inherits(child: bytes, ancestor: bytes, bases: dict[bytes, set[bytes]]) -> bool:
    """Whether ``ancestor``'s name appears among ``child``'s bases, transitively (by name:
    a base written ``mod.Base`` counts as ``Base`` too, which only errs towards True)."""
    pending = [child]
    seen: set[bytes] = set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        parents = bases.get(current, set())
        if ancestor in parents:
            return True
        pending.extend(parents)
    return False
