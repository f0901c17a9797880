"""``guard``: make the next never-run async test fail the build instead of passing unrun.

Writes the three ``filterwarnings`` entries measured in the adoption spec (Python 3.9-3.13 x
pytest 7.4-9.2 x pytest-asyncio) into the pytest configuration the project already uses,
found with pytest's own precedence, appended after any existing entries (the last matching
entry wins). The edit is textual and minimal -- comments, quoting and layout stay as they were
-- and is verified by parsing the file before and after: the entries list must be the old one
plus ours and nothing else may differ. Optionally (``--conftest``) a runtime guard replaces
``unittest.TestCase._callTestMethod`` so that a test method returning a coroutine fails.
"""

from __future__ import annotations

import configparser
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "CONFTEST_GUARD",
    "GUARD_FILTERS",
    "GuardChange",
    "GuardError",
    "UNITTEST_ALTERNATIVE",
    "find_pytest_config",
    "guard_ini",
    "guard_toml",
    "write_guard",
]

GUARD_FILTERS: tuple[str, ...] = (
    "error:It is deprecated to return a value that is not None from a test case:DeprecationWarning",
    "error:coroutine .* was never awaited:RuntimeWarning",
    "error:Exception ignored in. <coroutine object:pytest.PytestUnraisableExceptionWarning",
)

SIDE_EFFECT = (
    "on Python 3.11+ a sync test that returns a value other than None now fails as well "
    "(Python deprecated returning values from tests in 3.11)"
)

UNITTEST_ALTERNATIVE = (
    "for runs with plain unittest (Python 3.11+): python -W "
    '"error:It is deprecated to return a value that is not None from a test case'
    ':DeprecationWarning" -m unittest (or the same value in PYTHONWARNINGS); on 3.9/3.10 no -W '
    "works: use `guard --conftest` and import the conftest guard from the tests package's "
    "__init__.py"
)

CONFTEST_MARK = "_ssot_guard_async_tests"
CONFTEST_GUARD = '''

def _ssot_guard_async_tests():
    """ssot-codemod guard: an async test in a plain TestCase fails, not passes unrun."""
    import inspect
    import sys
    import unittest

    original = getattr(unittest.TestCase, "_callTestMethod", None)
    if original is None or not (3, 8) <= sys.version_info[:2] <= (3, 14):
        return  # the private hook is unknown on this Python: no guard

    def _callTestMethod(self, method):
        def checked():
            result = method()
            if inspect.iscoroutine(result):
                result.close()
                raise TypeError(
                    f"{self.id()} is an async test in a TestCase that never "
                    "awaits it: use unittest.IsolatedAsyncioTestCase"
                )
            return result

        return original(self, checked)

    unittest.TestCase._callTestMethod = _callTestMethod


_ssot_guard_async_tests()
'''

ConfigKind = Literal["toml", "ini"]

# pytest's order within one directory, with the table that makes each file count.
_CANDIDATES: tuple[tuple[str, ConfigKind, str], ...] = (
    ("pytest.toml", "toml", "pytest"),
    (".pytest.toml", "toml", "pytest"),
    ("pytest.ini", "ini", "pytest"),
    (".pytest.ini", "ini", "pytest"),
    ("pyproject.toml", "toml", "tool.pytest.ini_options"),
    ("tox.ini", "ini", "pytest"),
    ("setup.cfg", "ini", "tool:pytest"),
)


class GuardError(Exception):
    """The guard cannot be written safely; ``str(exc)`` is one line."""


@dataclass(frozen=True)
class GuardChange:
    """One file the guard writes (``original is None``: a new file)."""

    path: Path
    section: str
    original: str | None
    new: str
    added: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return self.original != self.new


# --------------------------------------------------------------------------------------------
# finding the configuration


def _load_toml(text: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]
    data: dict[str, Any] = tomllib.loads(text)
    return data


def _toml_table(data: dict[str, Any], dotted: str) -> dict[str, Any] | None:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, dict) else None


def _ini_parser(text: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(allow_no_value=True, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return parser


def _matches(path: Path, kind: ConfigKind, section: str) -> bool:
    if path.name in ("pytest.ini", ".pytest.ini", "pytest.toml", ".pytest.toml"):
        return True  # these count even when empty
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    if kind == "toml":
        try:
            data = _load_toml(text)
        except ValueError:
            return False
        return _toml_table(data, section) is not None
    return any(line.strip() == f"[{section}]" for line in text.splitlines())


def _native_table(path: Path) -> bool:
    """Whether *path* configures pytest in the ``[tool.pytest]`` table itself (pytest 9+)."""
    try:
        table = _toml_table(_load_toml(path.read_text(encoding="utf-8")), "tool.pytest")
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return table is not None and any(key != "ini_options" for key in table)


def find_pytest_config(start: Path) -> tuple[Path, ConfigKind, str] | None:
    """The file pytest would read its configuration from for *start*, with its kind and the
    section the options live in; None when there is none up to the filesystem root."""
    directory = Path(os.path.abspath(start))
    if not directory.is_dir():
        directory = directory.parent
    while True:
        for name, kind, section in _CANDIDATES:
            candidate = directory / name
            if candidate.is_file() and _matches(candidate, kind, section):
                return candidate, kind, section
            if name == "pyproject.toml" and candidate.is_file() and _native_table(candidate):
                return candidate, kind, "tool.pytest"  # pytest 9's native [tool.pytest]
        if directory.parent == directory:
            return None
        directory = directory.parent


# --------------------------------------------------------------------------------------------
# TOML: a string-aware scan of the section, then an insertion before the array's ``]``


class _TomlScan:
    """Positions in TOML text outside strings and comments."""

    def __init__(self, text: str) -> None:
        self.text = text

    def skip_string(self, i: int) -> int:
        """Index just past the string starting at *i*."""
        text = self.text
        for quote in ('"""', "'''"):
            if text.startswith(quote, i):
                end = i + 3
                while True:
                    j = text.find(quote, end)
                    if j < 0:
                        raise GuardError("unterminated multi-line string")
                    if quote == '"""' and _escaped(text, j):
                        end = j + 1
                        continue
                    # A closing run may be longer than three quotes ("""" ends with one in it).
                    while text.startswith(quote[0], j + 3):
                        j += 1
                    return j + 3
        quote = text[i]
        j = i + 1
        while j < len(text):
            c = text[j]
            if c == "\\" and quote == '"':
                j += 2
                continue
            if c == quote:
                return j + 1
            if c == "\n":
                break
            j += 1
        raise GuardError("unterminated string")

    def array_end(self, start: int) -> tuple[int, int]:
        """For the ``[`` at *start*: (index of its ``]``, index of the last significant
        character before it)."""
        text = self.text
        depth = 0
        last = start
        i = start
        while i < len(text):
            c = text[i]
            if c in "\"'":
                i = self.skip_string(i)
                last = i - 1
                continue
            if c == "#":
                newline = text.find("\n", i)
                i = len(text) if newline < 0 else newline
                continue
            if c == "[":
                depth += 1
            elif c == "]":
                depth -= 1
                if depth == 0:
                    return i, last
            if not c.isspace():
                last = i
            i += 1
        raise GuardError("unterminated array")


def _escaped(text: str, j: int) -> bool:
    backslashes = 0
    k = j - 1
    while k >= 0 and text[k] == "\\":
        backslashes += 1
        k -= 1
    return backslashes % 2 == 1


def _line_start(text: str, i: int) -> int:
    return text.rfind("\n", 0, i) + 1


def _section_bounds(text: str, header: str) -> tuple[int, int] | None:
    """(start of the section's body, start of the next table header or len(text))."""
    scan = _TomlScan(text)
    i = 0
    body: int | None = None
    at_line_start = True
    while i < len(text):
        c = text[i]
        if at_line_start:
            stripped_start = i
            while stripped_start < len(text) and text[stripped_start] in " \t":
                stripped_start += 1
            if stripped_start < len(text) and text[stripped_start] == "[":
                end = text.find("\n", stripped_start)
                end = len(text) if end < 0 else end
                line = text[stripped_start:end].split("#", 1)[0].strip()
                if body is not None:
                    return body, _line_start(text, stripped_start)
                if line == f"[{header}]":
                    body = end + 1 if end < len(text) else end
                i = end
                at_line_start = False
                continue
            at_line_start = False
            i = stripped_start
            continue
        if c == "\n":
            at_line_start = True
            i += 1
            continue
        if c in "\"'":
            i = scan.skip_string(i)
            continue
        if c == "#":
            newline = text.find("\n", i)
            i = len(text) if newline < 0 else newline
            continue
        if c == "[":  # an array value: skip it whole (its lines may start with "[")
            i = scan.array_end(i)[0] + 1
            continue
        i += 1
    return (body, len(text)) if body is not None else None


def _key_value_start(text: str, start: int, end: int, key: str) -> int | None:
    """Index of the value of ``key = value`` at the start of a line in text[start:end]."""
    i = start
    while i < end:
        line_end = text.find("\n", i)
        line_end = end if line_end < 0 or line_end > end else line_end
        line = text[i:line_end]
        stripped = line.lstrip()
        for spelled in (key, f'"{key}"', f"'{key}'"):
            if stripped.startswith(spelled):
                rest = stripped[len(spelled) :].lstrip(" \t")
                if rest.startswith("="):
                    offset = len(line) - len(rest) + 1
                    value = i + offset
                    while value < end and text[value] in " \t":
                        value += 1
                    return value
        i = line_end + 1
    return None


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _toml_literal(value: str) -> str:
    return f'"{value}"'  # the filters contain no quote or backslash


def guard_toml(text: str, section: str) -> tuple[str, tuple[str, ...]]:
    """*text* (TOML) with the guard entries appended to ``filterwarnings`` in *section*
    (created if missing), and the entries added. Verified by parsing before and after."""
    try:
        before = _load_toml(text)
    except ValueError as exc:
        raise GuardError(f"cannot parse the TOML file: {exc}") from None
    table = _toml_table(before, section)
    existing = table.get("filterwarnings", []) if table is not None else []
    if isinstance(existing, str):
        existing = [existing]
    if not isinstance(existing, list):
        raise GuardError("filterwarnings is neither a list nor a string; add the guard by hand")
    missing = tuple(f for f in GUARD_FILTERS if f not in existing)
    if not missing:
        return text, ()
    nl = _newline(text)
    bounds = _section_bounds(text, section) if table is not None else None
    if bounds is None:
        if table is not None:  # a dotted or inline table: not ours to reshape
            raise GuardError(f"[{section}] is not a plain table; add the guard by hand")
        lines = "".join(f"    {_toml_literal(f)},{nl}" for f in missing)
        block = f"[{section}]{nl}filterwarnings = [{nl}{lines}]{nl}"
        sep = "" if not text or text.endswith(("\n\n", "\r\n\r\n")) else nl
        if text and not text.endswith("\n"):
            sep = nl + nl
        new = f"{text}{sep}{block}"
    else:
        start, end = bounds
        value = _key_value_start(text, start, end, "filterwarnings")
        if value is None:
            new = _insert_key(text, start, end, missing, nl)
        elif text.startswith("[", value):
            new = _append_to_array(text, value, missing, nl)
        else:
            raise GuardError(
                "filterwarnings is a single string here; make it a list, or add the guard by hand"
            )
    _verify_toml(before, new, section, [*existing, *missing])
    return new, missing


def _insert_key(text: str, start: int, end: int, missing: Sequence[str], nl: str) -> str:
    """A new ``filterwarnings`` key after the section's last value (comments that follow it,
    often about the next table, stay below)."""
    scan = _TomlScan(text)
    last = -1
    i = start
    while i < end:
        c = text[i]
        if c in "\"'":
            i = scan.skip_string(i)
            last = i - 1
            continue
        if c == "#":
            newline = text.find("\n", i)
            i = end if newline < 0 else newline
            continue
        if not c.isspace():
            last = i
        i += 1
    if last < 0:
        insert_at = start
    else:
        newline = text.find("\n", last)
        insert_at = len(text) if newline < 0 else newline + 1
    lines = "".join(f"    {_toml_literal(f)},{nl}" for f in missing)
    block = f"filterwarnings = [{nl}{lines}]{nl}"
    prefix = "" if insert_at == 0 or text[insert_at - 1] == "\n" else nl
    return text[:insert_at] + prefix + block + text[insert_at:]


def _append_to_array(text: str, bracket: int, missing: Sequence[str], nl: str) -> str:
    close, last = _TomlScan(text).array_end(bracket)
    needs_comma = text[last] not in ",["
    close_line = _line_start(text, close)
    multiline = "\n" in text[bracket:close] and not text[close_line:close].strip()
    if multiline:
        # Indentation of the elements: that of the first element line, else four spaces.
        first = text.find("\n", bracket) + 1
        element_line = text[first:close]
        indent = "    "
        for line in element_line.splitlines():
            if line.strip() and not line.strip().startswith("#"):
                indent = line[: len(line) - len(line.lstrip())]
                break
        added = "".join(f"{indent}{_toml_literal(f)},{nl}" for f in missing)
        head = text[: last + 1] + ("," if needs_comma else "") + text[last + 1 : close_line]
        return head + added + text[close_line:]
    joined = ", ".join(_toml_literal(f) for f in missing)
    comma = ", " if text[last] != "[" and needs_comma else (" " if text[last] == "," else "")
    return text[: last + 1] + comma + joined + text[last + 1 :]


def _without(data: dict[str, Any], section: str) -> dict[str, Any]:
    import copy

    clone = copy.deepcopy(data)
    table = _toml_table(clone, section)
    if table is not None:
        table.pop("filterwarnings", None)
    parts = section.split(".")
    while parts:  # a table the edit created holds nothing else: drop it and its empty parents
        table = _toml_table(clone, ".".join(parts))
        if table is None or table:
            break
        parent = _toml_table(clone, ".".join(parts[:-1])) if len(parts) > 1 else clone
        if parent is not None:
            parent.pop(parts[-1], None)
        parts.pop()
    return clone


def _verify_toml(before: dict[str, Any], new: str, section: str, expected: list[Any]) -> None:
    try:
        after = _load_toml(new)
    except ValueError as exc:
        raise GuardError(f"internal error: the edited TOML does not parse ({exc})") from None
    table = _toml_table(after, section)
    got = table.get("filterwarnings") if table is not None else None
    if got != expected or _without(before, section) != _without(after, section):
        raise GuardError("internal error: the edit would change more than filterwarnings")


# --------------------------------------------------------------------------------------------
# INI (pytest.ini, tox.ini, setup.cfg)


def _ini_entries(parser: configparser.RawConfigParser, section: str) -> list[str]:
    if not parser.has_section(section):
        return []
    raw = parser.get(section, "filterwarnings", fallback=None) or ""
    return [line.strip() for line in raw.splitlines() if line.strip()]


def guard_ini(text: str, section: str) -> tuple[str, tuple[str, ...]]:
    """*text* (INI) with the guard lines appended to ``filterwarnings`` in ``[section]``
    (created if missing), and the entries added. Verified by parsing before and after."""
    try:
        before = _ini_parser(text)
    except configparser.Error as exc:
        raise GuardError(f"cannot parse the file: {' '.join(str(exc).split())}") from None
    existing = _ini_entries(before, section)
    missing = tuple(f for f in GUARD_FILTERS if f not in existing)
    if not missing:
        return text, ()
    nl = _newline(text)
    lines = text.splitlines(keepends=True)
    header = next((i for i, line in enumerate(lines) if line.strip() == f"[{section}]"), None)
    if header is None:
        block = f"[{section}]{nl}filterwarnings ={nl}" + "".join(f"    {f}{nl}" for f in missing)
        sep = "" if not text or text.endswith(("\n\n", "\r\n\r\n")) else nl
        if text and not text.endswith("\n"):
            sep = nl + nl
        new = f"{text}{sep}{block}"
    else:
        end = next(
            (i for i in range(header + 1, len(lines)) if lines[i].startswith("[")), len(lines)
        )
        key = None
        for i in range(header + 1, end):
            name = lines[i].split("=", 1)[0].split(":", 1)[0]
            if not lines[i][:1].isspace() and name.strip() == "filterwarnings":
                key = i
        if key is None:
            last = max((i for i in range(header, end) if lines[i].strip()), default=header)
            if not lines[last].endswith(("\n", "\r")):
                lines[last] += nl
            lines[last + 1 : last + 1] = [
                f"filterwarnings ={nl}",
                *(f"    {f}{nl}" for f in missing),
            ]
        else:
            last = key
            indent = "    "
            for i in range(key + 1, end):
                if not lines[i].strip():
                    continue
                if not lines[i][:1].isspace():
                    break
                if not lines[i].lstrip().startswith(("#", ";")):
                    indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
                last = i
            if not lines[last].endswith(("\n", "\r")):
                lines[last] += nl
            lines[last + 1 : last + 1] = [f"{indent}{f}{nl}" for f in missing]
        new = "".join(lines)
    try:
        after = _ini_parser(new)
    except configparser.Error as exc:
        raise GuardError(f"internal error: the edited file does not parse ({exc})") from None
    if _ini_entries(after, section) != [*existing, *missing] or _ini_rest(
        before, section
    ) != _ini_rest(after, section):
        raise GuardError("internal error: the edit would change more than filterwarnings")
    return new, missing


def _ini_rest(
    parser: configparser.RawConfigParser, drop_empty: str | None = None
) -> dict[str, dict[str, str | None]]:
    out: dict[str, dict[str, str | None]] = {}
    for name in parser.sections():
        values = {k: v for k, v in parser.items(name) if k != "filterwarnings"}
        if values or name != drop_empty:
            out[name] = dict(values)
    return out


# --------------------------------------------------------------------------------------------
# the command


def plan_guard(start: Path, *, conftest: bool = False) -> list[GuardChange]:
    """The files to write for *start* (a project directory or a path inside one)."""
    changes: list[GuardChange] = []
    found = find_pytest_config(start)
    base = Path(os.path.abspath(start))
    base = base if base.is_dir() else base.parent
    if found is not None:
        path, kind, section = found
    elif (base / "pyproject.toml").is_file():
        path, kind, section = base / "pyproject.toml", "toml", "tool.pytest.ini_options"
    else:
        path, kind, section = base / "pytest.ini", "ini", "pytest"
    original = _read_text(path) if path.exists() else None
    text = original or ""
    new, added = guard_toml(text, section) if kind == "toml" else guard_ini(text, section)
    changes.append(GuardChange(path, section, original, new, added))
    if conftest:
        conftest_path = path.parent / "conftest.py"
        current = _read_text(conftest_path) if conftest_path.exists() else None
        if current is not None and CONFTEST_MARK in current:
            changes.append(GuardChange(conftest_path, "", current, current, ()))
        else:
            body = current or '"""Test configuration."""\n'
            if not body.endswith("\n"):
                body += "\n"
            changes.append(
                GuardChange(
                    conftest_path, "", current, body + CONFTEST_GUARD, ("_callTestMethod guard",)
                )
            )
    return changes


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise GuardError(f"cannot read {path}: {exc}") from None


def write_guard(start: Path, *, conftest: bool = False, dry_run: bool = False) -> list[GuardChange]:
    """Plan and (unless *dry_run*) write the guard; existing files keep a ``.backup`` and a
    journal entry (``revert`` undoes the guard), new files are created exclusively.
    Raises :class:`GuardError`."""
    from ssot_codemod.backup import ApplyRefused, commit_followup, create_exclusive

    changes = plan_guard(start, conftest=conftest)
    if dry_run:
        return changes
    for change in changes:
        if not change.changed:
            continue
        data = change.new.encode("utf-8")
        try:
            if change.original is None:
                if not create_exclusive(change.path, data):
                    raise GuardError(f"{change.path} appeared while the guard was written")
            else:
                commit_followup(change.path, change.original.encode("utf-8"), data)
        except (ApplyRefused, OSError) as exc:
            raise GuardError(f"cannot write {change.path}: {exc}") from None
    return changes
