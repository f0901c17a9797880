"""The byte prefilter (``Rule.could_match``) and the tree gates (``Rule.could_match_tree``)
never hide a finding.

"Without the prefilter" means rule objects whose ``could_match`` and ``could_match_tree`` always
return True: each rule class is subclassed here and passed as ``rules=``, so the engine parses
and analyses every file. Findings with and without the gates must be identical, and for every
file the prefilter rejects, the always-match rules must find nothing. For the tree gates, each
rule is also checked on its own: whenever it reports or plans an edit with its gates off (alone,
or among all rules as the engine runs them), its tree gate must accept the file's ``ast`` tree.

Also: ``scripts/bench.py --quick`` runs end to end and produces a markdown table.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import subprocess
import sys
import sysconfig
from collections.abc import Sequence
from pathlib import Path

import libcst as cst
import pytest
from test_fixture_projects import _copy, _options
from test_fixture_projects import _projects as _fixture_projects

from ssot_codemod.analysis import ModuleIndex
from ssot_codemod.api import RunResult, apply_paths, check_paths
from ssot_codemod.engine import could_match, fix_source, parse_module
from ssot_codemod.files import read_source
from ssot_codemod.rules import ALL_RULES, RULES_BY_CODE
from ssot_codemod.rules.base import Plan, Rule
from ssot_codemod.types import EngineError

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
STDLIB = Path(sysconfig.get_paths()["stdlib"])


def _always(rule: Rule) -> Rule:
    cls = type(rule)
    unfiltered = type(
        f"Unfiltered{cls.__name__}",
        (cls,),
        {"could_match": lambda self, d: True, "could_match_tree": lambda self, t, c=None: True},
    )
    return unfiltered()  # type: ignore[no-any-return]


UNFILTERED: tuple[Rule, ...] = tuple(_always(rule) for rule in ALL_RULES)
# The rules whose tree gate has an opinion (the others' findings depend on other files too).
TREE_GATED = ("SSC001", "SSC002", "SSC003", "SSC005")
# SSC003's gate also reads the project context (methods of classes in other files).
CONTEXT_FREE_TREE_GATED = ("SSC001", "SSC002", "SSC005")


def _key(findings: tuple[object, ...]) -> list[tuple[object, ...]]:
    return [
        (f.code, f.line, f.column, f.end_line, f.end_column, f.fix, f.applied, f.message)  # type: ignore[attr-defined]
        for f in findings
    ]


def _findings(data: bytes, rules: tuple[Rule, ...] | None, *, unsafe: bool) -> object:
    """Findings and rewrite, or the error's text: both sides must agree on failures too."""
    try:
        text = read_source(data).text
        result = fix_source(text, rules=rules, unsafe_fixes=unsafe)
    except (EngineError, UnicodeDecodeError, SyntaxError, ValueError) as exc:
        return ("error", type(exc).__name__)
    return (_key(result.findings), result.code)


def _compare(path: Path) -> None:
    data = path.read_bytes()
    for unsafe in (False, True):
        filtered = _findings(data, None, unsafe=unsafe)
        unfiltered = _findings(data, UNFILTERED, unsafe=unsafe)
        if unfiltered == ("error", "EngineError") and not could_match(data):
            # A rejected file is never parsed, so it cannot fail, and a file LibCST cannot
            # handle yields no findings either way: nothing is hidden.
            continue
        assert filtered == unfiltered, f"prefilter changes the result for {path} (unsafe={unsafe})"
        if not could_match(data):
            assert unfiltered == ([], read_source(data).text), (
                f"could_match() is False for {path}, yet the rules find something"
            )
    _tree_gates_hide_nothing(path, data)


def _plan(module: object, rules: Sequence[Rule], *, unsafe: bool) -> Plan:
    """What *rules* plan for the parsed *module*, the way the engine runs them (one shared
    plan and index, in catalogue order), with no gate at all."""
    assert isinstance(module, cst.Module)
    plan = Plan(unsafe_fixes=unsafe)
    index = ModuleIndex(module, None)
    for rule in rules:
        rule.analyze(module, index, plan)
    return plan


def _tree_gates_hide_nothing(path: Path, data: bytes) -> None:
    """Whenever a rule reports or plans an edit, its tree gate accepts the file's ast tree."""
    try:
        text = read_source(data).text
        tree = ast.parse(text)
        module = parse_module(text)
    except (EngineError, UnicodeDecodeError, SyntaxError, ValueError, RecursionError):
        return  # no ast tree (the engine then gates nothing) or no LibCST tree (no findings)
    for unsafe in (False, True):
        together = _plan(module, UNFILTERED, unsafe=unsafe)
        for code in sorted({f.code for f in together.findings}):
            assert RULES_BY_CODE[code].could_match_tree(tree), (
                f"{code}'s tree gate rejects {path}, which it reports among all rules "
                f"(unsafe={unsafe})"
            )
        for rule in UNFILTERED:
            alone = _plan(module, [rule], unsafe=unsafe)
            edits = alone.replacements or alone.removals or alone.insertions
            if alone.findings or edits:
                assert RULES_BY_CODE[rule.code].could_match_tree(tree), (
                    f"{rule.code}'s tree gate rejects {path}, which it reports or edits on its "
                    f"own (unsafe={unsafe})"
                )


def _fixture_files() -> list[Path]:
    return sorted(FIXTURES.rglob("*.py")) if FIXTURES.is_dir() else []


@pytest.mark.parametrize("path", _fixture_files(), ids=lambda p: str(p.relative_to(FIXTURES)))
def test_fixture_same_findings_without_prefilter(path: Path) -> None:
    _compare(path)


def _sample_real_files() -> list[Path]:
    """Our own sources and tests plus the generator's pattern-bearing outputs are covered
    elsewhere; here: this repository's Python files (they mention every needle)."""
    files = [p for d in ("src", "tests", "scripts") for p in sorted((ROOT / d).rglob("*.py"))]
    return [p for p in files if "fixtures" not in p.parts]


@pytest.mark.parametrize("path", _sample_real_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_real_file_same_findings_without_prefilter(path: Path) -> None:
    _compare(path)


def test_generated_pattern_files_same_findings_without_prefilter(tmp_path: Path) -> None:
    import random

    import gen_monorepo

    rng = random.Random(7)
    for i in range(12):
        path = tmp_path / f"case_{i}.py"
        text = gen_monorepo._pattern_module(rng) if i % 2 else gen_monorepo._ordinary_test(rng)
        path.write_text(text)
        _compare(path)


def _stdlib_files() -> list[Path]:
    return sorted(
        p
        for p in STDLIB.rglob("*.py")
        if "site-packages" not in p.relative_to(STDLIB).parts
        and "__pycache__" not in p.relative_to(STDLIB).parts
    )


def _stdlib_sample() -> list[Path]:
    """~150 files chosen by a hash of their relative path (stable across runs and machines),
    plus every file containing 'asyncSetUp' or 'setUp' at least twice."""
    chosen: list[Path] = []
    for path in _stdlib_files():
        rel = path.relative_to(STDLIB).as_posix()
        digest = int(hashlib.sha256(rel.encode()).hexdigest(), 16)
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if len(data) > 150_000 and b"asyncSetUp" not in data:
            continue  # LibCST parses ~0.5 MB/s: keep the sample's run time bounded
        if digest % 12 == 0 or b"asyncSetUp" in data or data.count(b"setUp") >= 2:
            chosen.append(path)
    return chosen


@pytest.mark.slow
def test_stdlib_prefilter_rejects_only_files_without_findings() -> None:
    """For a stdlib sample: could_match(data) is False, or it is True but the tree gates leave
    no rule (the engine does not parse the file) => always-match rules find nothing."""
    files = _stdlib_sample()
    assert len(files) >= 100
    hidden: list[str] = []
    rejected = tree_rejected = 0
    for path in files:
        data = path.read_bytes()
        if could_match(data):
            try:
                if fix_source(read_source(data).text).parsed:
                    continue
            except (EngineError, UnicodeDecodeError):
                continue
            tree_rejected += 1
        rejected += 1
        try:
            result = fix_source(read_source(data).text, rules=UNFILTERED, unsafe_fixes=True)
        except (EngineError, UnicodeDecodeError, SyntaxError, ValueError):
            continue
        if result.findings:
            hidden.append(f"{path}: {[(f.code, f.line) for f in result.findings]}")
    assert rejected > 50
    # On 3.11: test_regrtest.py and unittest/async_case.py (see test_stdlib.py).
    assert tree_rejected >= 2 or sys.version_info[:2] != (3, 11)
    assert not hidden, "the prefilter hid findings:\n" + "\n".join(hidden)


def test_bench_quick_produces_markdown_table(tmp_path: Path) -> None:
    out = tmp_path / "BENCH.md"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench.py"), "--quick", "--write", str(out)],
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = out.read_text()
    assert text.startswith("# Benchmarks")
    assert "| target | measured | status |" in text
    assert "|---|---|---|" in text
    for section in ("## A. Standard library", "## B. Generated monorepo", "## C. `apply`"):
        assert section in text
    assert "PASS" in text or "MISS" in text


# --------------------------------------------------------------------------------------------
# the linear-time gates (issue 16) against the shapes their old regexes handled by backtracking

_BRIDGE_CLASS = """import asyncio
import unittest


class T(unittest.TestCase):
    def setUp(self):
        loop = asyncio.get_event_loop()
{call}

    async def asyncSetUp(self):
        self.ready = True
"""

GATE_SHAPES: dict[str, str] = {
    "comment after open paren": (
        "        loop.run_until_complete(  # why: see below\n            self.asyncSetUp())"
    ),
    "several comments with many hashes": (
        "        loop.run_until_complete(  # a # b ### c\n"
        "            # ### banner ### #\n"
        "            # a = b(c)  # d # e # f\n"
        "            self.asyncSetUp())"
    ),
    "comment then blank line and parenthesis": (
        "        loop.run_until_complete(  # c\n\n"
        "            (\n                self.asyncSetUp()))"
    ),
    "hash in a string before the call": (
        '        x = "# (not a comment)"; loop.run_until_complete(  # c\n'
        "            self.asyncSetUp())"
    ),
    "backslash continuation": "        loop.run_until_complete( \\\n            self.asyncSetUp())",
    "nested parentheses": "        loop.run_until_complete(( (self.asyncSetUp())))",
    "hook on a new line": (
        "        loop.run_until_complete(\n            self.asyncSetUp()\n        )"
    ),
    "loose: hook fetched with a comment": (
        "        coro = self.asyncSetUp(  # no arguments\n        )\n"
        "        loop.run_until_complete(coro)"
    ),
}


def _shape_files(tmp_path: Path, name: str, call: str) -> list[Path]:
    text = _BRIDGE_CLASS.format(call=call)
    out = []
    for ending, suffix in (("\n", "lf"), ("\r\n", "crlf"), ("\r", "cr")):
        path = tmp_path / f"{suffix}.py"
        path.write_bytes(text.replace("\n", ending).encode())
        out.append(path)
    return out


@pytest.mark.parametrize("name", sorted(GATE_SHAPES), ids=str)
def test_rewritten_gates_pass_every_bridge_shape(tmp_path: Path, name: str) -> None:
    for path in _shape_files(tmp_path, name, GATE_SHAPES[name]):
        _compare(path)
        data = path.read_bytes()
        found = fix_source(read_source(data).text, rules=UNFILTERED).findings
        if any(f.code == "SSC001" for f in found):
            assert could_match(data), f"{name} ({path.name}): the gate hides a finding"


TWIN_SHAPES: dict[str, tuple[str, str]] = {
    "raw and escaped string": ('r"\\d"', '"\\\\d"'),
    "prefix order": ('rb"x"', 'br"x"'),
    "quote style": ("'a#b'", '"a#b"'),
    "escaped newline in a string": ("'a\\\nb'", "'ab'"),
    "triple quotes with quotes inside": ("'''it's \"x\"'''", '"""it\'s "x\\""""'),
}


@pytest.mark.parametrize("name", sorted(TWIN_SHAPES), ids=str)
def test_rewritten_twin_scan_keeps_ast_equal_twins(tmp_path: Path, name: str) -> None:
    first, second = TWIN_SHAPES[name]
    text = (
        "import unittest\n\n\nclass A(unittest.TestCase):\n    def setUp(self):\n"
        f"        self.value = {first}\n\n\nclass B(A):\n    def setUp(self):\n"
        f"        self.value = {second}\n"
    )
    path = tmp_path / "twins.py"
    path.write_text(text)
    _compare(path)


# --------------------------------------------------------------------------------------------
# the twin scan's C-speed rewrite (issue 11) against twins in awkward layouts: every case below
# holds an SSC003 finding, and the gate must let it through (LF, CRLF and CR line endings)


ADVERSARIAL_TWINS: dict[str, str] = {
    "decorators with arguments at column 0": """
def deco(*args):
    return lambda func: func


class A(unittest.TestCase):
    @deco(
1, 2)
    def setUp(self):
        self.x = 1


class B(A):
    @deco(1,
          2)
    def setUp(self):
        self.x = 1
""",
    "comments holding code, brackets and backslashes": """
class A(unittest.TestCase):
    def setUp(self):
        # class Fake:
# def setUp(self):
        self.x = [  # (
            1,  # ]
        ]  # \\
# )
        self.y = 2


class B(A):
    def setUp(self):
        self.x = [1]
        self.y = 2
""",
    "continuation lines at column 0": """
class A(unittest.TestCase):
    def setUp(self):
        self.x = max(
1, 2)
        self.y = 1 + \\
2
        self.z = {
}


class B(A):
    def setUp(self):
        self.x = max(1,
                     2)
        self.y = 1 + 2
        self.z = {}
""",
    "strings holding def setUp, class headers and lines at column 0": """
SOURCE = \"\"\"
class B(A):
    def setUp(self):
        pass
\"\"\"


class A(unittest.TestCase):
    def setUp(self):
        \"\"\"Docstring with lines at column 0
class C(A):
\"\"\"
        self.x = "def setUp(self): ("
        self.y = \'\'\'
def setUp(self):
\'\'\'


class B(A):
    def setUp(self):
        self.x = "def setUp(self): ("
        self.y = \'\'\'
def setUp(self):
\'\'\'
""",
    "tabs": """
class A(unittest.TestCase):
\tdef setUp(self):
\t\tself.x = [
\t1]


class B(A):
    def setUp(self):
        self.x = [1]
""",
    "a nested class between two definitions in one class": """
class A(unittest.TestCase):
    def setUp(self):
        self.x = 1

    class Inner:
        def setUp(self):
            pass

    def setUp(self):
        self.x = 2
""",
    "async def with odd spacing": """
class A(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.x = 1


class B(A):
    async  def  asyncSetUp(self) :
        self.x = 1
""",
    "docstring, one-line def and equal literals": """
class A(unittest.TestCase):
    def setUp(self): self.s = "a" "b"; self.n = .5; self.h = 0x10; self.r = rb"\\d"


class B(A):
    def setUp(self):
        '''Same as A.setUp, spelled differently.'''
        self.s = 'ab'
        self.n = 0.5
        self.h = 16
        self.r = br"\\d"
""",
    "class headers over several lines, a grandparent, classmethods": """
class Mixin:
    pass


class A(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.x = 1


class B(
    Mixin,  # ) not the end
    A,
):
    pass


class C(B,
        metaclass=type):
    @classmethod
    def setUpClass(cls):
        cls.x = 1
""",
    "a signature over several lines, defined twice in one class": """
class A(unittest.TestCase):
    def tearDown(
self,
    ) -> None:
        self.x = 1

    def helper(self):
        pass

    def tearDown(self) -> None:
        self.x = 1
""",
    "a module-level if between the classes": """
class A(unittest.TestCase):
    def setUp(self):
        self.x = 1
if True:
    def setUp(self):
        self.x = 1


class B(A):
    def setUp(self):
        self.x = 1
""",
}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL_TWINS), ids=str)
def test_twin_scan_lets_adversarial_twins_through(tmp_path: Path, name: str) -> None:
    text = "import unittest\n\n" + ADVERSARIAL_TWINS[name]
    found = fix_source(text, rules=UNFILTERED).findings
    assert any(f.code == "SSC003" for f in found), f"{name}: no twin to find (a broken case)"
    for ending, suffix in (("\n", "lf"), ("\r\n", "crlf"), ("\r", "cr")):
        path = tmp_path / f"{suffix}.py"
        path.write_bytes(text.replace("\n", ending).encode())
        assert could_match(path.read_bytes()), f"{name} ({suffix}): the gate hides a twin"
        _compare(path)


# Long bodies: one past the scan's budget of continuation lines stepped over one by one, one of
# plain statements (~70 kB each). Parsed once each (LibCST takes seconds on them).
LONG_TWINS: dict[str, str] = {
    "continuation lines": "".join(
        f"        self.v{i} = [{i},\n{i}]  # {i}\n" for i in range(1_200)
    ),
    "plain statements": "".join(
        f"        self.value_{i} = compute({i}, 'x')\n" for i in range(2_000)
    ),
}


@pytest.mark.parametrize("name", sorted(LONG_TWINS), ids=str)
def test_twin_scan_lets_very_long_twins_through(name: str) -> None:
    body = LONG_TWINS[name]
    text = (
        "import unittest\n\n\nclass A(unittest.TestCase):\n    def setUp(self):\n"
        f"{body}\n\nclass B(A):\n    def setUp(self):\n{body}"
    )
    found = fix_source(text, rules=UNFILTERED).findings
    assert any(f.code == "SSC003" for f in found)
    for ending in ("\n", "\r\n", "\r"):
        assert could_match(text.replace("\n", ending).encode()), f"{name} ({ending!r})"


# --------------------------------------------------------------------------------------------
# the tree gates (issue 11): files whose bytes pass a rule's prefilter but whose ast tree holds
# nothing the rule looks for never reach LibCST


def _tree_gate_near_misses() -> list[Path]:
    return sorted(FIXTURES.glob("*/nearmiss_tree_gate_*.py"))


def test_there_is_a_tree_gate_near_miss_for_each_gated_rule() -> None:
    assert sorted({p.parent.name for p in _tree_gate_near_misses()}) == list(TREE_GATED)


@pytest.mark.parametrize("path", _tree_gate_near_misses(), ids=lambda p: p.parent.name)
def test_tree_gate_near_miss_is_not_parsed_with_libcst(path: Path) -> None:
    rule = RULES_BY_CODE[path.parent.name]
    text = read_source(path.read_bytes()).text
    assert rule.could_match(path.read_bytes()), "the near miss must pass the byte prefilter"
    assert not rule.could_match_tree(ast.parse(text))
    result = fix_source(text, rules=[rule])
    assert (result.parsed, result.findings, result.code) == (False, (), text)
    # With the gate off, LibCST parses it and the rule finds nothing: the gate hid nothing.
    unfiltered = fix_source(text, rules=[_always(rule)])
    assert (unfiltered.parsed, unfiltered.findings, unfiltered.code) == (True, (), text)


def test_stdlib_async_case_stops_at_the_tree_gate() -> None:
    """unittest/async_case.py defines asyncSetUp and calls setUp: SSC002's byte prefilter
    passes, its tree gate does not (no async hook calls a sync one)."""
    path = STDLIB / "unittest" / "async_case.py"
    if not path.is_file():
        pytest.skip("no unittest/async_case.py in this interpreter's stdlib")
    data = path.read_bytes()
    assert could_match(data)
    text = read_source(data).text
    result = fix_source(text)
    assert (result.parsed, result.findings, result.code) == (False, (), text)
    _compare(path)


def _project_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("name", _fixture_projects())
def test_fixture_project_same_results_without_tree_gates(name: str, tmp_path: Path) -> None:
    """Through the library API, with the project view (other files decide some findings):
    check and apply --dry-run give the same findings and rewrites with the tree gates off, and
    every finding of a tree-gated rule is in a file its gate accepts."""
    root = _copy(name, tmp_path)
    for unsafe in (False, True):
        options = _options(root, unsafe=unsafe)
        ungated = dataclasses.replace(options, tree_gates=False)
        for run in (check_paths, functools.partial(apply_paths, dry_run=True)):
            gated_result = run([root], options)
            ungated_result = run([root], ungated)
            assert _outcome(gated_result) == _outcome(ungated_result), (name, unsafe, run)
            assert gated_result.parsed <= ungated_result.parsed
        for file in ungated_result.files:
            # (SSC003's gate needs the file's project context: the equal results above are
            # what shows it hid nothing.)
            codes = {f.code for f in file.findings} & set(CONTEXT_FREE_TREE_GATED)
            if not codes:
                continue
            tree = ast.parse(read_source(file.path.read_bytes()).text)
            for code in sorted(codes):
                assert RULES_BY_CODE[code].could_match_tree(tree), (file.path, code, unsafe)


def _outcome(result: RunResult) -> list[tuple[object, ...]]:
    return [(str(f.path), f.status, f.error, f.new, tuple(_key(f.findings))) for f in result.files]
