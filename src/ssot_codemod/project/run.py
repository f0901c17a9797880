"""How a run uses the project view: which project, which extra candidates, what to summarise.

The api calls these; they read files only through :class:`ProjectIndex` (bytes the api already
read are handed over, so nothing is read twice).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ssot_codemod.files import PROJECT_ROOT_MARKERS, common_directory
from ssot_codemod.project.index import ProjectIndex, _Class
from ssot_codemod.project.modules import SUMMARISED
from ssot_codemod.rules._twin_scan import _LEXEMES, line_within

# Both start with a literal ("def", "class"), which the regex engine finds with a fast scan;
# that the match begins its line is checked afterwards (``_line_indent``).
_TWIN_DEF_LINE = re.compile(
    rb"def[ \t]+(" + b"|".join(n.encode() for n in sorted(SUMMARISED)) + rb")[ \t]*\("
)
_HOOK_NEEDLES = (b"etUp", b"earDown", b"etup_method", b"down_method")  # every SUMMARISED name
_CLASS_HEADER = re.compile(rb"class[ \t]+(\w+)[ \t]*\(([^)]*)\)")
_NAME = re.compile(rb"\w+")
# A word (``_NAME``) that starts with a digit: what _tokens calls ``N``. Linear: one attempt
# per word start, the quantified part runs to the word's end.
_NUMBER = re.compile(rb"\b[0-9]\w*")
_PLAIN_BASES = frozenset({b"unittest", b"TestCase", b"object", b"IsolatedAsyncioTestCase"})


@dataclass(frozen=True)
class RootGroup:
    """Never-run async tests (in the named files) that one root class leaves unawaited."""

    name: str
    path: str
    line: int
    tests: int
    files: int
    blocker: str | None  # why ``--unsafe-fixes`` cannot rebase it, or None
    named: bool  # its file is among the files this run may write


@dataclass(frozen=True)
class UnresolvedBase:
    path: str
    class_name: str
    line: int
    base: str
    reason: str


@dataclass(frozen=True)
class ProjectReport:
    """What the summary and ``--verbose`` say about the project view."""

    roots: tuple[RootGroup, ...] = ()
    unresolved: tuple[UnresolvedBase, ...] = ()
    skipped_tests: tuple[tuple[str, int, str], ...] = ()  # path, line, Class.test
    unsafe_fixes: bool = False  # the run applies form C (roots are rebased where allowed)


def project_root(paths: Sequence[Path], configured: Path | None) -> Path:
    """The configuration's directory, else the nearest folder above the PATHs with a
    ``pyproject.toml``, ``setup.py``, ``setup.cfg`` or ``.git``, else the working directory
    (when it holds them) or their common folder."""
    if configured is not None:
        return Path(os.path.abspath(configured))
    common = common_directory(paths)
    if common is None:
        return Path.cwd()
    for directory in (common, *common.parents):
        if any((directory / marker).exists() for marker in PROJECT_ROOT_MARKERS):
            return directory
    # No marker (like ruff): the working directory, when the PATHs are inside it.
    cwd = Path.cwd()
    return cwd if common == cwd or cwd in common.parents else common


def needs_whole_project(paths: Sequence[Path]) -> bool:
    """Files named one by one (pre-commit) need the rest of the project read; directories
    already are the part of the project the run is about."""
    return any(not os.path.isdir(p) for p in paths)


def index_wants(memo: dict[str, object], path: str, data: bytes) -> bool:
    """Note what the index needs from this file's bytes; True when it keeps them (possible
    never-run tests, or a hook that may repeat the hook of a class in another file)."""
    wanted = b"async def test" in data
    # Any of _HOOK_NEEDLES (written out: a generator per file cost more than the searches).
    if b"etUp" in data or b"earDown" in data or b"etup_method" in data or b"down_method" in data:
        keys, inheriting, owners = _hook_keys(data)
        if keys:  # (inheriting keys are some of them)
            path = os.path.abspath(path)
            by_file = memo.setdefault("hook_keys", {})
            assert isinstance(by_file, dict)
            by_file[path] = keys
            all_owners = memo.setdefault("hook_owners", {})
            assert isinstance(all_owners, dict)
            for key, names in owners.items():
                all_owners.setdefault(key, set()).update(names)
        if inheriting:
            children = memo.setdefault("inheriting_keys", {})
            assert isinstance(children, dict)
            children[path] = inheriting
            wanted = True
    return wanted


def merge_notes(into: dict[str, object], part: dict[str, object]) -> None:
    """Add the notes :func:`index_wants` made in another memo (another process's) to *into*."""
    for name in ("hook_keys", "inheriting_keys"):
        found = part.get(name)
        if isinstance(found, dict):
            mine = into.setdefault(name, {})
            assert isinstance(mine, dict)
            mine.update(found)
    owners = part.get("hook_owners")
    if isinstance(owners, dict):
        all_owners = into.setdefault("hook_owners", {})
        assert isinstance(all_owners, dict)
        for key, names in owners.items():
            all_owners.setdefault(key, set()).update(names)


def extra_codes(index: ProjectIndex, path: str) -> set[str]:
    """Rules a file needs because of other files, although its own bytes rule them out.

    SSC004 comes only from here in a run with the project view: the index has analysed every
    file with async tests already, which is the rule's own prefilter and more."""
    path = os.path.abspath(path)
    codes: set[str] = set()
    if path in _ssc004_files(index) or path in _root_files(index):
        codes.add("SSC004")
    inheriting = index.memo.get("inheriting_keys")  # (asked per file: the cheap test first)
    if (
        isinstance(inheriting, dict)
        and path in inheriting
        and _shares_hook_key(index, path)
        and _inherits_twin(index, path)
    ):
        codes.add("SSC003")
    return codes


HookKey = tuple[bytes, tuple[bytes, ...]]

# A hook body longer than this is not keyed: scanning every nested hook's body to its end is
# quadratic in the worst case. Its key (LONG_BODY) is treated as shared with other files.
_MAX_HOOK_BODY = 64 * 1024
LONG_BODY = b"<long body>"


def _hook_keys(
    data: bytes,
) -> tuple[frozenset[HookKey], frozenset[HookKey], dict[HookKey, set[bytes]]]:
    """A coarse key (name, tokens of the body) per hook definition, from bytes: equal ``ast``
    bodies give equal keys (strings, comments and the docstring are dropped), so two files
    whose keys never meet cannot hold a twin of each other. Returns every key, and the keys
    of hooks in classes with a base this file does not define (those that may be twins of a
    hook in another file), and the classes holding each key."""
    headers = []
    for m in _CLASS_HEADER.finditer(data):
        class_indent = _line_indent(data, m.start(), allow_async=False)
        if class_indent is not None:
            headers.append((m.start(), class_indent, m.group(1), m.group(2)))
    local = {name for _, _, name, _ in headers}
    owners: dict[HookKey, set[bytes]] = {}
    every: set[HookKey] = set()
    inheriting: set[HookKey] = set()
    # The headers before the current ``def``, by their indentation (few distinct values): a
    # hook's holders are those indented less than it, its ``owner`` the last of them. Names
    # already added to a key's holders are not added again (``added``: how many per indent).
    names_by_indent: dict[int, list[bytes]] = {}
    last_by_indent: dict[int, tuple[int, bytes]] = {}
    added: dict[tuple[HookKey, int], int] = {}
    next_header = 0
    for match in _TWIN_DEF_LINE.finditer(data):
        found_indent = _line_indent(data, match.start(), allow_async=True)
        if not found_indent:  # not at the start of a line, or not inside a class
            continue
        indent = found_indent
        key = (match.group(1), _body_tokens(data, match.end(), indent))
        every.add(key)
        while next_header < len(headers) and headers[next_header][0] <= match.start():
            start, class_indent, name, bases = headers[next_header]
            names_by_indent.setdefault(class_indent, []).append(name)
            last_by_indent[class_indent] = (start, bases)
            next_header += 1
        enclosing = [c for c in names_by_indent if c < indent]
        owner = max((last_by_indent[c] for c in enclosing), default=None)
        for class_indent in enclosing:
            names = names_by_indent[class_indent]
            done = added.get((key, class_indent), 0)
            owners.setdefault(key, set()).update(names[done:])
            added[key, class_indent] = len(names)
        if owner is not None and any(
            token not in local and token not in _PLAIN_BASES for token in _NAME.findall(owner[1])
        ):
            inheriting.add(key)
    return frozenset(every), frozenset(inheriting), owners


def _line_indent(data: bytes, start: int, *, allow_async: bool) -> int | None:
    """The indentation of the line ``start`` is on, when only blanks (and ``async``) precede
    it on that line; None otherwise."""
    line_start = data.rfind(b"\n", 0, start) + 1
    before = data[line_start:start]
    if allow_async and before.rstrip().endswith(b"async"):
        before = before.rstrip()[: -len(b"async")]
    if before.strip(b" \t"):
        return None
    return len(before)


def _body_tokens(data: bytes, end: int, indent: int) -> tuple[bytes, ...]:
    """Identifier tokens of a definition from ``end`` (after ``def name(``) up to the next line
    indented no deeper than the ``def``: the signature line, then the body without strings,
    comments and a leading docstring."""
    newline = data.find(b"\n", end)
    first_end = len(data) if newline < 0 else newline
    # The first line after the signature's that is not blank or a comment and starts at most
    # ``indent`` blanks in, found by one search (a window just past the limit suffices).
    limit = min(len(data), first_end + 1 + _MAX_HOOK_BODY)
    stop_at = len(data)
    if first_end + 1 < len(data):
        newline = line_within(data, indent, first_end, limit + indent + 2)
        if newline >= 0:
            stop_at = newline + 1
        if stop_at > limit or (newline < 0 and data.find(b"\n", limit, len(data) - 1) >= 0):
            # Nested hooks whose bodies run to the end of a huge file made this quadratic;
            # such a body gets a key that counts as shared (the parse decides).
            return (LONG_BODY,)
    signature = _tokens(data[end:first_end])
    body = _tokens(data[min(first_end + 1, stop_at) : stop_at])
    while body[:1] == (b"S",):
        body = body[1:]
    return (*signature, b":", *body)


def _tokens(text: bytes) -> tuple[bytes, ...]:
    """The words of ``text`` without strings (``S``) and comments; a number is ``N``."""
    stripped = _NUMBER.sub(b"N", _LEXEMES.sub(_strip_lexeme, text))
    return tuple(_NAME.findall(stripped))


def _strip_lexeme(match: re.Match[bytes]) -> bytes:
    return b"" if match.group(0).startswith(b"#") else b" S "


def _shares_hook_key(index: ProjectIndex, path: str) -> bool:
    """A hook of a class with a foreign base has the key of a hook in another file."""
    inheriting = index.memo.get("inheriting_keys")
    keys_by_file = index.memo.get("hook_keys")
    if not isinstance(inheriting, dict) or not isinstance(keys_by_file, dict):
        return False
    mine = inheriting.get(path)
    if not mine:
        return False
    counts = index.memo.get("hook_key_counts")
    if not isinstance(counts, dict):
        counts = dict[HookKey, int]()
        for keys in keys_by_file.values():
            for key in keys:
                counts[key] = counts.get(key, 0) + 1
        index.memo["hook_key_counts"] = counts
    # Another file holds the same key, in a class whose name this file mentions (a parent is
    # named in the child's imports or bases; a sibling with the same body usually is not).
    owners = index.memo.get("hook_owners")
    data = index.data.get(path, b"")
    local = {m.group(1) for m in _CLASS_HEADER.finditer(data)}
    words: set[bytes] | None = None

    def mentions(name: bytes) -> bool:
        # One pass over the file for all its words: a pattern per owner name overflowed re's
        # cache and recompiled on every call (23 s on a 10,000-file tree).
        nonlocal words
        if not name.isascii():
            return re.search(rb"\b" + re.escape(name) + rb"\b", data) is not None
        if words is None:
            words = set(_NAME.findall(data))
        return name in words

    return any(
        key[1] == (LONG_BODY,)
        or counts.get(key, 0) > 1
        and isinstance(owners, dict)
        and any(mentions(name) for name in owners.get(key, set()) - local)
        for key in mine
    )


def _ssc004_files(index: ProjectIndex) -> set[str]:
    cached = index.memo.get("ssc004_files")
    if not isinstance(cached, set):
        cached = index.async_test_candidates()
        index.memo["ssc004_files"] = cached
    return cached


def _root_files(index: ProjectIndex) -> set[str]:
    cached = index.memo.get("root_files")
    if not isinstance(cached, set):
        cached = set[str]()
        for item in index.never_run():
            shown = index.root_display(item.root)
            if shown is not None:
                cached.add(os.path.abspath(shown[1]))
        index.memo["root_files"] = cached
    return cached


def _inherits_twin(index: ProjectIndex, path: str) -> bool:
    summary = index.module(path)
    if summary.error is not None:
        return False
    for cls in summary.all_classes:
        own = [name for name in cls.method_names if name in SUMMARISED]
        if not own:
            continue
        for _text, _q, target in index.base_targets(summary, cls):
            if not isinstance(target, _Class) or target.data is None or target.path == path:
                continue
            for ancestor in index.ancestors(target.data):
                for name in own:
                    inherited = ancestor.method(name)
                    if inherited is not None:
                        mine = next(m for m in cls.hook_summaries() if m.name == name)
                        if inherited.key == mine.key:
                            return True
    return False


def summary_lines(report: ProjectReport, *, writes: bool) -> list[str]:
    """The summary's project lines: never-run tests by root cause, unresolved bases."""
    lines = []
    for group in report.roots:
        tests = f"{group.tests} async test{'s' if group.tests != 1 else ''}"
        files = f"{group.files} file{'s' if group.files != 1 else ''}"
        line = (
            f"{tests} in {files} never run because `{group.name}` ({group.path}:{group.line}) "
            "is a plain unittest.TestCase; "
        )
        if group.blocker is not None:
            line += f"it cannot be rebased automatically: {group.blocker}"
        elif report.unsafe_fixes and not group.named:
            line += f"not rebased: {group.path} is not among the named files"
        elif report.unsafe_fixes and writes:
            line += "rebased on IsolatedAsyncioTestCase"
        else:
            line += "`apply --unsafe-fixes` rebases it"
        lines.append(line)
    if report.unresolved:
        count = len({(u.path, u.class_name, u.line) for u in report.unresolved})
        lines.append(
            f"{count} class{'es' if count != 1 else ''} with bases that cannot be resolved "
            "(named with the reason in --verbose)"
        )
    return lines


def verbose_lines(report: ProjectReport) -> list[str]:
    lines = [
        f"{u.path}:{u.line}: {u.class_name}: base `{u.base}` not resolved: {u.reason}"
        for u in report.unresolved
    ]
    lines.extend(
        f"{path}:{line}: {name}: async test not reported: a decorator the tool cannot see "
        "through may run the coroutine"
        for path, line, name in report.skipped_tests
    )
    return lines


def report(index: ProjectIndex, named: Sequence[str], *, unsafe_fixes: bool) -> ProjectReport:
    named_set = {os.path.abspath(p) for p in named}
    groups: dict[str, tuple[int, set[str]]] = {}
    for item in index.never_run():
        if item.path not in named_set:
            continue
        tests, files = groups.get(item.root, (0, set()))
        files.add(item.path)
        groups[item.root] = (tests + item.tests, files)
    roots = []
    for ident, (tests, files) in groups.items():
        shown = index.root_display(ident)
        if shown is None:
            continue
        named_root = os.path.abspath(shown[1]) in named_set
        blocker = index.root_blocker(ident)
        roots.append(
            RootGroup(shown[0], shown[1], shown[2], tests, len(files), blocker, named_root)
        )
    roots.sort(key=lambda r: (-r.tests, r.path, r.line))
    unresolved = tuple(
        UnresolvedBase(index.relpath(u.path), u.class_name, u.line, u.base, u.reason)
        for u in index.unresolved(sorted(named_set))
    )
    skipped = tuple(
        (index.relpath(p), line, name) for p, line, name in index.skipped_tests() if p in named_set
    )
    return ProjectReport(tuple(roots), unresolved, skipped, unsafe_fixes)
