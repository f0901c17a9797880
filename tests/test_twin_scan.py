"""The C-speed twin scans (issue 11): the project view's hook keys are the ones the old
line-by-line scan computed, and the patterns built per indentation or per name set (which
tests/test_hang.py cannot find at module level) stay linear on its adversarial inputs.

Whether the SSC003 gate hides a twin is tests/test_prefilter.py's job (it compares findings
with and without the gate); here the keys are compared with a reference: the loop over lines
that ``project.run._hook_keys`` used before, kept below as the oracle.
"""

from __future__ import annotations

import hashlib
import sysconfig
from pathlib import Path

import pytest
from test_hang import ADVERSARIAL, NEEDLES

from ssot_codemod.project import run
from ssot_codemod.rules import _twin_scan
from ssot_codemod.rules.ssc003_twin import _TWIN_NAMES

ROOT = Path(__file__).resolve().parent.parent
STDLIB = Path(sysconfig.get_paths()["stdlib"])


# -- the reference: project.run's hook keys as a loop over lines (before issue 11) -----------


def _reference_body_tokens(data: bytes, end: int, indent: int) -> tuple[bytes, ...]:
    newline = data.find(b"\n", end)
    first_end = len(data) if newline < 0 else newline
    position = first_end + 1
    stop_at = len(data)
    limit = min(len(data), position + run._MAX_HOOK_BODY)
    while position < len(data):
        if position > limit:
            return (run.LONG_BODY,)
        stop = data.find(b"\n", position)
        stop = len(data) if stop < 0 else stop
        line = data[position:stop]
        stripped = line.lstrip()
        if stripped and not stripped.startswith(b"#") and len(line) - len(stripped) <= indent:
            stop_at = position
            break
        position = stop + 1
    signature = run._tokens(data[end:first_end])
    body = run._tokens(data[min(first_end + 1, stop_at) : stop_at])
    while body[:1] == (b"S",):
        body = body[1:]
    return (*signature, b":", *body)


def _reference_hook_keys(data: bytes) -> object:
    headers = []
    for m in run._CLASS_HEADER.finditer(data):
        class_indent = run._line_indent(data, m.start(), allow_async=False)
        if class_indent is not None:
            headers.append((m.start(), class_indent, m.group(1), m.group(2)))
    local = {name for _, _, name, _ in headers}
    owners: dict[object, set[bytes]] = {}
    every: set[object] = set()
    inheriting: set[object] = set()
    for match in run._TWIN_DEF_LINE.finditer(data):
        indent = run._line_indent(data, match.start(), allow_async=True)
        if not indent:
            continue
        key = (match.group(1), _reference_body_tokens(data, match.end(), indent))
        every.add(key)
        owner = None
        for start, class_indent, name, bases in headers:
            if start > match.start():
                break
            if class_indent < indent:
                owner = bases
                owners.setdefault(key, set()).add(name)
        if owner is not None and any(
            t not in local and t not in run._PLAIN_BASES for t in run._NAME.findall(owner)
        ):
            inheriting.add(key)
    return frozenset(every), frozenset(inheriting), owners


# -- inputs -----------------------------------------------------------------------------------

_PADDING = b"        x = 1\n" * (run._MAX_HOOK_BODY // 14)

SHAPES: dict[str, bytes] = {
    "plain twins": (
        b"class A(Base):\n    def setUp(self):\n        self.x = 1\n\n"
        b"class B(A):\n    def setUp(self):\n        '''doc'''\n        self.x = 1\n"
    ),
    "comments and blank lines at column 0": (
        b"class A(Base):\n    def setUp(self):\n# c\n\n   \n        x = 1\n#\n"
        b"    def tearDown(self):\n        pass\n"
    ),
    "docstring at column 0 ends the body (as before)": (
        b'class A(Base):\n    def setUp(self):\n        """doc\nmore\n"""\n        x = 1\n'
    ),
    "crlf, tabs, form feeds, vertical tabs": (
        b"class A(Base):\r\n\tdef setUp(self):\r\n\t\tx = 1\r\n\x0c\r\n"
        b"\x0b\tdef tearDown(self):\r\n\t\tpass\r\n\r\n"
    ),
    "async hooks and nested classes": (
        b"class A(X.Y, metaclass=M):\n    class Inner(Z):\n        async def asyncSetUp(self):\n"
        b"            await f()\n    async  def asyncTearDown(self) -> None:\n        pass\n"
    ),
    "no trailing newline": b"class A(B):\n    def setUp(self):\n        pass",
    "def on the last line": b"class A(B):\n    def setUp(self):",
    "def on the last line with a newline": b"class A(B):\n    def setUp(self):\n",
    "body exactly at the limit": (
        b"class A(B):\n    def setUp(self):\n" + _PADDING + b"    def tearDown(self):\n        y\n"
    ),
    "body past the limit": (
        b"class A(B):\n    def setUp(self):\n"
        + _PADDING * 2
        + b"    def tearDown(self):\n        y\n"
    ),
    "body past the limit to the end of the file": (
        b"class A(B):\n    def setUp(self):\n" + _PADDING * 2
    ),
    "blank tail past the limit": (
        b"class A(B):\n    def setUp(self):\n        x = 1\n" + b"\n" * (run._MAX_HOOK_BODY + 5)
    ),
    "deeper lines only past the limit": (
        b"class A(B):\n    def setUp(self):\n" + b"            x\n" * (run._MAX_HOOK_BODY // 13 + 9)
    ),
    "indented past the exact patterns": b"".join(
        b" " * depth
        + b"class C%d(B):\n" % depth
        + b" " * (depth + 3)
        + b"def setUp(self):\n"
        + b" " * (depth + 6)
        + b"x = %d\n" % depth
        for depth in (0, 3, 60, 63, 66, 69, 200)
    ),
    "many classes and hooks at several depths": b"".join(
        b"class C%d(B%d):\n    def setUp(self):\n        x = %d\n"
        b"    class I%d(C%d):\n        def tearDown(self):\n            y\n" % (i, i % 3, i, i, i)
        for i in range(60)
    ),
}


@pytest.mark.parametrize("name", sorted(SHAPES), ids=str)
def test_hook_keys_equal_the_line_by_line_reference(name: str) -> None:
    data = SHAPES[name]
    assert run._hook_keys(data) == _reference_hook_keys(data)


def test_line_within_is_the_same_above_the_exact_patterns() -> None:
    """Past ``_MAX_EXACT_INDENT`` lines are measured one by one: same answers."""
    data = b"".join(b"\n" + b" " * n + (b"#" if n % 5 == 0 else b"x") for n in range(0, 90, 3))
    for indent in range(_twin_scan._MAX_EXACT_INDENT + 1):
        found = _twin_scan._within(indent).search(data, 1)
        expected = -1 if found is None else found.start()
        generic = next(
            (
                m.start()
                for m in _twin_scan._ANY_LINE.finditer(data, 1)
                if len(m.group(1)) <= indent
            ),
            -1,
        )
        assert generic == expected == _twin_scan.line_within(data, indent, 1, len(data))


def test_hook_key_shapes_reach_both_ends_of_the_limit() -> None:
    """The limit cases above are what they say (else they test nothing)."""
    keys = {name: run._hook_keys(SHAPES[name])[0] for name in SHAPES}
    assert any(key[1] == (run.LONG_BODY,) for key in keys["body past the limit"])
    assert any(
        key[1] == (run.LONG_BODY,) for key in keys["body past the limit to the end of the file"]
    )
    assert not any(key[1] == (run.LONG_BODY,) for key in keys["body exactly at the limit"])


def _sample_files() -> list[Path]:
    """This repository's Python files (fixtures included) and every 8th stdlib file that
    mentions a hook (chosen by a hash of its path: stable across runs)."""
    files = [p for d in ("src", "tests", "scripts") for p in sorted((ROOT / d).rglob("*.py"))]
    for path in sorted(STDLIB.rglob("*.py")):
        rel = path.relative_to(STDLIB).as_posix()
        if "site-packages" in rel or "__pycache__" in rel:
            continue
        if int(hashlib.sha256(rel.encode()).hexdigest(), 16) % 8 == 0:
            files.append(path)
    return files


def test_hook_keys_equal_the_reference_on_real_files() -> None:
    checked = 0
    for path in _sample_files():
        data = path.read_bytes()
        if not any(needle in data for needle in run._HOOK_NEEDLES):
            continue
        assert run._hook_keys(data) == _reference_hook_keys(data), path
        checked += 1
    assert checked > 50


def test_hook_keys_equal_the_reference_on_generated_modules() -> None:
    import random

    import gen_monorepo

    rng = random.Random(11)
    for i in range(20):
        text = gen_monorepo._pattern_module(rng) if i % 2 else gen_monorepo._ordinary_test(rng)
        for ending in ("\n", "\r\n"):
            data = text.replace("\n", ending).encode()
            assert run._hook_keys(data) == _reference_hook_keys(data)


# -- linear time: the patterns compiled per indentation or per set of names ---------------------


@pytest.mark.timeout(120)
@pytest.mark.parametrize("case", sorted(ADVERSARIAL), ids=str)
def test_patterns_built_at_run_time_finish_on_adversarial_input(case: str) -> None:
    data = ADVERSARIAL[case] + NEEDLES
    patterns = [
        _twin_scan._anywhere(_TWIN_NAMES),
        _twin_scan._hook_definition(_TWIN_NAMES),
        *(_twin_scan._within(indent) for indent in (0, 4, _twin_scan._MAX_EXACT_INDENT)),
    ]
    for pattern in patterns:
        list(pattern.finditer(data))
    for indent in (0, 4, 1_000):
        _twin_scan.line_within(data, indent, 0, len(data))
    run._hook_keys(data)
    _twin_scan.may_have_twins(data, _TWIN_NAMES)
