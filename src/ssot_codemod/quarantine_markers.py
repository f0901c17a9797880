"""The quarantine marker in the source: add it, find it, remove it.

The marker is ``@unittest.skip("ssot-quarantine: <first line of the failure>")`` above a test
method (or above a class whose ``setUpClass`` fails). Why ``skip`` and not
``expectedFailure``: a skip is checked before ``setUp``/``asyncSetUp``/``setUpClass`` run, so it
also covers tests whose *setup* errors (``expectedFailure`` only covers the test body -- an error
in setup stays an error), it is deterministic for a flaky test, and it works the same under
``python -m unittest``, pytest and custom runners, with nothing installed. The price -- a mended
test does not announce itself -- is paid by ``quarantine --release``, which runs the quarantined
tests without their markers and removes the markers of those that pass.

Markers are added as lines inserted where ``ast`` puts each definition, or, for unusual files,
by LibCST transforms (:mod:`ssot_codemod.quarantine_cst`, imported only then) that touch only
the decorator lists of the named definitions (and add ``import unittest`` when missing), so
every other byte stays as it was.
"""

from __future__ import annotations

import ast
import json
from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

__all__ = [
    "TAG",
    "Marker",
    "add_markers",
    "add_markers_parsed",
    "find_markers",
    "marker_text",
    "markers_in",
    "remove_markers",
]

TAG = "ssot-quarantine:"
TAG_BYTES = TAG.encode("ascii")
# Inserted lines stay within 79 columns (flake8's default) while the reason keeps this much.
_MAX_LINE = 79
_MIN_REASON = 24


@dataclass(frozen=True)
class Marker:
    """A quarantine marker found in a file: on ``qualname`` (``Class.test`` or ``Class``)."""

    qualname: str
    reason: str
    line: int


def _literal(text: str) -> str:
    # JSON's escaping of an ASCII string is a valid Python double-quoted literal.
    return json.dumps(text, ensure_ascii=True)


def marker_text(reason: str, indent: int) -> str:
    """The decorator expression (without ``@``) for *reason*, shortened to fit the line."""
    return f"unittest.skip({_literal(f'{TAG} {_marker_reason(reason, indent)}')})"


def _marker_reason(reason: str, indent: int) -> str:
    """What the marker for *reason* says after the tag (the :attr:`Marker.reason` read back)."""
    # ASCII only and no control characters: the literal reads the same in any file encoding,
    # and a skip reason with lone surrogates (from a JSON-escaped emoji) could not be printed.
    printable = "".join(c if c.isprintable() else " " for c in reason)
    ascii_only = printable.encode("ascii", "backslashreplace").decode("ascii")
    clean = " ".join(ascii_only.split()) or "failed on its first run"
    room = max(_MAX_LINE - indent - len(f'@unittest.skip("{TAG} ")'), _MIN_REASON)
    if len(_literal(clean)) - 2 > room:
        cut = room - 3
        while cut > 1 and len(_literal(clean[:cut])) - 2 > room - 3:
            cut -= 1
        clean = clean[:cut].rstrip() + "..."
    return clean


def add_markers(source: str, reasons: Mapping[str, str]) -> tuple[str, set[str]]:
    """*source* with a marker on each ``qualname -> reason`` of *reasons*, and the qualnames it
    marked (a name not found, or already marked, is not in the set).

    The common case -- the module already has ``import unittest`` -- is a line inserted above
    each definition at the position :mod:`ast` reports (no LibCST round trip: thousands of
    files stay cheap). Anything unusual (no ``import unittest``, a decorator line that does not
    start with ``@``, lone CR line endings) takes the LibCST path. The caller compiles the
    result before it writes it.
    """
    text, done, _ = add_markers_parsed(source, reasons)
    return text, done


def add_markers_parsed(
    source: str, reasons: Mapping[str, str], tree: ast.Module | None = None
) -> tuple[str, set[str], list[Marker] | None]:
    """:func:`add_markers`, given *source*'s ``ast`` tree if the caller has it (not parsed
    again), and returning the markers the result holds, in order, when they are known without
    parsing it (the line-insertion path); None on the LibCST path."""
    fast = _insert_lines(source, reasons, tree)
    if fast is not None:
        return fast
    text, done = _add_markers_cst(source, reasons)
    return text, done, None


def _has_unittest_import(tree: ast.Module) -> bool:
    return any(
        isinstance(stmt, ast.Import)
        and any(alias.name == "unittest" and alias.asname is None for alias in stmt.names)
        for stmt in tree.body
    )


def _definitions(
    tree: ast.Module,
) -> dict[str, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef]:
    return {".".join(path): node for path, node in _qualified_definitions(tree.body, ())}


def _qualified_definitions(
    body: list[ast.stmt], prefix: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Every class, and every function defined in a class body, with its qualified name's
    parts, in source order (a later definition of a name comes later)."""
    for stmt in body:
        if isinstance(stmt, ast.ClassDef):
            path = (*prefix, stmt.name)
            yield path, stmt
            yield from _qualified_definitions(stmt.body, path)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and prefix:
            yield (*prefix, stmt.name), stmt


def _insert_lines(
    source: str, reasons: Mapping[str, str], tree: ast.Module | None
) -> tuple[str, set[str], list[Marker]] | None:
    if "\r" in source.replace("\r\n", ""):
        return None
    if tree is None:
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            return None
    if not _has_unittest_import(tree):
        return None
    definitions = _definitions(tree)
    lines = source.split("\n")
    inserts: list[tuple[int, str, Marker]] = []  # (0-based line, the line, its marker)
    continued = False
    for qualname, reason in reasons.items():
        node = definitions.get(qualname)
        if node is None:
            continue
        existing: list[Marker] = []
        _collect(node, qualname, existing)
        if existing:
            continue  # already quarantined: idempotent
        first = min([d.lineno for d in node.decorator_list] + [node.lineno]) - 1
        text = lines[first]
        indent = text[: len(text) - len(text.lstrip(" \t"))]
        if len(indent) != node.col_offset or not text.lstrip().startswith(
            ("@", "def ", "async ", "class ")
        ):
            return None
        # A backslash ending the line above would join the inserted line onto that one.
        continued = continued or (first > 0 and lines[first - 1].rstrip("\r").endswith("\\"))
        ending = "\r" if text.endswith("\r") else ""
        said = _marker_reason(reason, indent=len(indent.expandtabs()))
        line = f"{indent}@unittest.skip({_literal(f'{TAG} {said}')}){ending}"
        inserts.append((first, line, Marker(qualname, said, 0)))
    before = markers_in(tree)
    if not inserts:
        return source, set(), before
    inserts.sort(key=lambda insert: insert[0])
    for index, line, _ in reversed(inserts):
        lines.insert(index, line)
    new = "\n".join(lines)
    done = {marker.qualname for _, _, marker in inserts}
    if continued:  # the rare case where the argument below does not hold: parse and count
        try:
            after = markers_in(ast.parse(new))
        except SyntaxError:  # not expected (the joined line is the decorator): LibCST does it
            return None
        had = {m.qualname for m in before}
        return (new, done, after) if {m.qualname for m in after} - had == done else None
    # Each line goes where a definition's first line (a decorator or the ``def``/``class``
    # itself, at the definition's own indentation) starts a logical line, and the line above
    # does not continue onto it: once it compiles, each is a decorator of its definition, and
    # the markers are the old ones moved down by the lines inserted above them, plus the new.
    starts = [index for index, _, _ in inserts]
    after = [replace(m, line=m.line + bisect_right(starts, m.line - 1)) for m in before]
    after += [replace(m, line=index + k + 1) for k, (index, _, m) in enumerate(inserts)]
    after.sort(key=lambda m: m.line)
    return new, done, after


def _add_markers_cst(source: str, reasons: Mapping[str, str]) -> tuple[str, set[str]]:
    from ssot_codemod.quarantine_cst import add_markers_cst  # LibCST: only on this path

    return add_markers_cst(source, reasons)


def remove_markers(source: str, qualnames: Sequence[str]) -> tuple[str, set[str]]:
    """*source* without the markers on *qualnames*, and the qualnames that had one."""
    from ssot_codemod.quarantine_cst import remove_markers_cst  # LibCST: only on this path

    return remove_markers_cst(source, qualnames)


def find_markers(source: str | bytes) -> list[Marker]:
    """Every quarantine marker in *source*, in order (``ast``; cheap enough for a whole tree)."""
    if isinstance(source, bytes) and TAG_BYTES not in source:
        return []
    return markers_in(ast.parse(source))


def markers_in(tree: ast.Module) -> list[Marker]:
    """Every quarantine marker in a parsed module, in order."""
    found: list[Marker] = []
    for path, node in _qualified_definitions(tree.body, ()):
        _collect(node, ".".join(path), found)
    return found


def _collect(
    node: ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef, qualname: str, out: list[Marker]
) -> None:
    for decorator in node.decorator_list:
        if not (isinstance(decorator, ast.Call) and len(decorator.args) == 1):
            continue
        func = decorator.func
        arg = decorator.args[0]
        if (
            isinstance(func, ast.Attribute)
            and func.attr == "skip"
            and isinstance(func.value, ast.Name)
            and func.value.id == "unittest"
            and isinstance(arg, ast.Constant)
            and isinstance(arg.value, str)
            and arg.value.startswith(TAG)
        ):
            reason = arg.value[len(TAG) :].strip()
            out.append(Marker(qualname, reason, decorator.lineno))
