"""``check`` (and ``apply`` without unsafe fixes, where SSC004 cannot edit) reads SSC004's
findings - and, in ``check``, SSC002's - from the project index's ``ast`` trees where it can
(ssot_codemod.project.ast_findings): the results must be exactly those of the engine (LibCST).

Every fixture project and a generated SSOT-shaped tree are checked both ways (the internal
``Options.ast_findings=False`` sends every candidate to the engine), with and without
``--unsafe-fixes``, and through the results cache; the whole run results are compared.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import gen_monorepo
import pytest

import ssot_codemod.project.ast_findings as ast_findings
from ssot_codemod.api import Options, RunResult, apply_paths, check_paths
from ssot_codemod.backup import JOURNAL_NAME, read_journal
from ssot_codemod.config import load_config

ROOT = Path(__file__).resolve().parent.parent
PROJECTS = Path(__file__).parent / "fixtures" / "projects"

SSOT_FILES = 300


def _projects() -> list[str]:
    return sorted(p.name for p in PROJECTS.iterdir() if (p / "input").is_dir())


def _options(root: Path, **changes: Any) -> Options:
    """Options as the CLI builds them for *root* (its pyproject.toml's ``src`` honoured)."""
    config, config_path = load_config(root)
    base = config_path.parent if config_path is not None else root
    options = Options(
        jobs=1,
        exclude_base=config_path.parent if config_path is not None else None,
        project_root=root,
        src=tuple(base / entry for entry in config.get("src", ())),
    )
    return dataclasses.replace(options, **changes)


def _comparable(result: RunResult) -> tuple[object, ...]:
    return result.files, result.discovery_errors, result.project


class _Answers:
    """Counts the files the ast path answered for (the real function runs), for one rule:
    ``ssc004_findings`` or ``ssc002_findings``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, function: str = "ssc004_findings") -> None:
        self.count = 0
        self.fallbacks = 0
        real = getattr(ast_findings, function)

        def counting(*args: Any, **kwargs: Any) -> Any:
            found = real(*args, **kwargs)
            self.count += found is not None
            self.fallbacks += found is None
            return found

        monkeypatch.setattr(ast_findings, function, counting)


def _both_ways(root: Path, **changes: Any) -> tuple[RunResult, RunResult]:
    fast = check_paths([root], _options(root, **changes))
    engine = check_paths([root], _options(root, ast_findings=False, **changes))
    return fast, engine


def _dry_run_both_ways(root: Path, **changes: Any) -> tuple[RunResult, RunResult]:
    fast = apply_paths([root], _options(root, **changes), dry_run=True)
    engine = apply_paths([root], _options(root, ast_findings=False, **changes), dry_run=True)
    return fast, engine


def _tree(root: Path) -> dict[str, object]:
    """Every file's bytes; a journal's entries (its lines follow the order in which the
    rewrites were computed, which the timing of the processes decides)."""
    return {
        str(p.relative_to(root)): read_journal(p.parent)
        if p.name == JOURNAL_NAME
        else p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def ssot_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ssot") / "mono"
    gen_monorepo.generate_ssot(root, SSOT_FILES, 4242)
    return root


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
@pytest.mark.parametrize("name", _projects())
def test_fixture_project_same_both_ways(
    name: str, unsafe: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / name
    shutil.copytree(PROJECTS / name / "input", root)
    monkeypatch.chdir(tmp_path)  # messages name paths relative to the current directory
    fast, engine = _both_ways(root, unsafe_fixes=unsafe)
    assert _comparable(fast) == _comparable(engine)
    fast, engine = _dry_run_both_ways(root, unsafe_fixes=unsafe)
    assert _comparable(fast) == _comparable(engine)


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
def test_ssot_tree_same_both_ways(
    ssot_tree: Path, unsafe: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ssot_tree.parent)
    answers = _Answers(monkeypatch)
    reentry = _Answers(monkeypatch, "ssc002_findings")
    fast, engine = _both_ways(ssot_tree, unsafe_fixes=unsafe)
    assert answers.count > 0  # the comparison covers the ast path, not only the fallbacks
    assert any(f.code == "SSC004" for _, f in fast.findings)
    reentry_files = {path for path, f in fast.findings if f.code == "SSC002"}
    if unsafe:
        # The root is rebased in this run (IsolatedAsyncioTestCase runs the hooks): SSC002's
        # other case, which the ast path leaves to the engine.
        assert reentry.count == 0 and reentry.fallbacks > 0
    else:
        # Most files with SSC002's findings are answered with ast (the generated shape).
        assert reentry.count >= max(2, len(reentry_files) * 3 // 4)
        assert reentry.fallbacks == 0
    assert _comparable(fast) == _comparable(engine)
    before, before_reentry = answers.count, reentry.count
    fast, engine = _dry_run_both_ways(ssot_tree, unsafe_fixes=unsafe)
    # apply needs LibCST for SSC004 only where it may edit: with unsafe fixes; for SSC002
    # always (its fixes are safe).
    assert (answers.count > before) is not unsafe
    assert reentry.count == before_reentry
    assert _comparable(fast) == _comparable(engine)


def test_apply_writes_the_same_both_ways(
    ssot_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real apply (no unsafe fixes): same results, same files written, same bytes."""
    trees = []
    results = []
    root = tmp_path / "mono"
    monkeypatch.chdir(tmp_path)
    for changes in ({}, {"ast_findings": False}):
        shutil.rmtree(root, ignore_errors=True)
        shutil.copytree(ssot_tree, root)
        results.append(apply_paths([root], _options(root, **changes)))
        trees.append(_tree(root))
    assert _comparable(results[0]) == _comparable(results[1])
    assert trees[0] == trees[1]
    assert any(r.status == "changed" for r in results[0].files)


def test_ssot_tree_cached_results_same(
    ssot_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Results of the ast path are stored in the results cache like the engine's."""
    monkeypatch.chdir(ssot_tree.parent)
    engine = check_paths([ssot_tree], _options(ssot_tree, ast_findings=False))
    cached = _options(ssot_tree, cache_dir=tmp_path / "cache")
    first = check_paths([ssot_tree], cached)
    second = check_paths([ssot_tree], cached)
    assert _comparable(first) == _comparable(engine)
    assert _comparable(second) == _comparable(engine)


def test_ssot_tree_one_file_same_both_ways(
    ssot_tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file named alone (pre-commit) gets the same findings both ways."""
    monkeypatch.chdir(ssot_tree)
    answers = _Answers(monkeypatch)
    named = sorted(ssot_tree.glob("tests/**/test_*.py"))[:5]
    fast = check_paths(named, _options(ssot_tree))
    engine = check_paths(named, _options(ssot_tree, ast_findings=False))
    assert answers.count > 0
    assert _comparable(fast) == _comparable(engine)


def _edge_project(root: Path) -> None:
    """Files only SSC004 matches, in shapes the ast path must leave to the engine (or get
    exactly right): deep nesting LibCST refuses, non-ASCII text, comments and indented
    whitespace after a test, a one-line test, a mixin lending tests, a nested class."""
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "base.py").write_text(
        "import unittest\n\n\nclass Base(unittest.TestCase):\n    pass\n"
    )
    head = "from pkg.base import Base\n\n\n"
    deep = "lambda a=" * 220 + "1" + ":1" * 220
    deeper = "lambda a=" * 300 + "1" + ":1" * 300
    files = {
        # LibCST's parser is not given lambdas nested this deep (engine.MAX_LAMBDA_NESTING).
        "test_deep.py": f"{head}class T(Base):\n    async def test_a(self):\n"
        f"        x = {deeper}\n",
        # LibCST parses this one but cannot generate its code: never generated, as a test's
        # position is found without generating its class's other statements or its body.
        "test_deep_beside.py": f"{head}class T(Base):\n    X = {deep}\n\n"
        "    async def test_a(self):\n        pass\n",
        "test_text.py": f"{head}class T(Base):\n    async def test_é(self):\n        s = 'ü'\n",
        "test_comment.py": f"{head}class T(Base):\n    async def test_a(self):\n        pass\n"
        "        # trailing\n\n    async def test_b(self): pass\n    \n",
        "test_mixin.py": f"{head}class M:\n    async def test_m(self):\n        pass\n\n\n"
        "class T(M, Base):\n    async def test_a(self):\n        pass\n",
        "test_nested.py": f"{head}class T(Base):\n    class Inner:\n        pass\n\n"
        "    async def test_a(self):\n        pass\n",
        "test_plain.py": f"{head}class T(Base):\n    @pytest.mark.slow\n    async def test_a(self):"
        "\n        pass\n\n    async  def  test_b(self):\n        pass\n",
    }
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")


def test_edge_shapes_same_both_ways(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "edges"
    _edge_project(root)
    monkeypatch.chdir(tmp_path)
    answers = _Answers(monkeypatch)
    fast, engine = _both_ways(root)
    assert answers.count > 0
    statuses = {f.path.name: f.status for f in engine.files}
    assert statuses["test_deep.py"] == "error"
    assert statuses["test_deep_beside.py"] == "unchanged"
    assert _comparable(fast) == _comparable(engine)


def test_mixins_lending_to_async_aware_classes_answered_with_ast(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No class of the file never awaits (the mixin's tests run in IsolatedAsyncioTestCase
    subclasses): the rule reports nothing, and the ast path says so without the engine."""
    root = tmp_path / "lent"
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "test_lent.py").write_text(
        "import unittest\n\n\nclass Mixin:\n    async def test_m(self):\n        pass\n\n\n"
        "class A(Mixin, unittest.IsolatedAsyncioTestCase):\n    pass\n\n\n"
        "class B(Mixin, unittest.IsolatedAsyncioTestCase):\n    async def test_b(self):\n"
        "        pass\n"
    )
    # A mixin lending to a plain TestCase in the same file: reported, and left to the engine.
    (root / "tests" / "test_lent_plain.py").write_text(
        "import unittest\n\n\nclass Mixin:\n    async def test_m(self):\n        pass\n\n\n"
        "class A(Mixin, unittest.IsolatedAsyncioTestCase):\n    pass\n\n\n"
        "class P(Mixin, unittest.TestCase):\n    pass\n"
    )
    monkeypatch.chdir(tmp_path)
    answers = _Answers(monkeypatch)
    fast, engine = _both_ways(root)
    assert answers.count == 1
    assert _comparable(fast) == _comparable(engine)
    by_name = {f.path.name: f for f in fast.files}
    assert by_name["test_lent.py"].findings == ()
    assert [f.code for f in by_name["test_lent_plain.py"].findings] == ["SSC004"]


_REENTRY_BASE = (
    "import asyncio\nimport unittest\n\n\n"
    "class Base(unittest.TestCase):\n"
    "    def setUp(self):\n"
    "        loop = asyncio.new_event_loop()\n"
    "        loop.run_until_complete(self.asyncSetUp())\n\n"
    "    def tearDown(self):\n"
    "        asyncio.run(self.asyncTearDown())\n\n"
    "    async def asyncSetUp(self):\n"
    "        pass\n\n"
    "    async def asyncTearDown(self):\n"
    "        pass\n\n\n"
    "class Quiet(unittest.TestCase):\n"
    "    def setUp(self):\n"
    "        self.x = 1\n"
)


def _reentry_project(root: Path) -> dict[str, bool]:
    """Files SSC002 matches (some with SSC004 too), in shapes the ast path answers for
    (True) or must leave to the engine (False)."""
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "base.py").write_text(_REENTRY_BASE)
    head = "import unittest\n\nfrom pkg.base import Base, Quiet\n\n\n"
    test = "\n    async def test_a(self):\n        pass\n"

    def hook(body: str, cls: str = "T(Base)", name: str = "asyncSetUp") -> str:
        return f"{head}class {cls}:\n    async def {name}(self):\n{body}{test}"

    files = {
        # answered
        "test_plain.py": (
            hook("        await super().asyncSetUp()\n        super().setUp()\n"),
            True,
        ),
        "test_self_comment.py": (hook("        self.setUp()  # again (sic)\n"), True),
        "test_guarded.py": (
            hook("        if hasattr(super(), 'setUp'):\n            super().setUp()\n"),
            True,
        ),
        "test_teardown.py": (
            hook("        super().tearDown()\n        x = 1\n", name="asyncTearDown"),
            True,
        ),
        "test_quiet.py": (hook("        super().setUp()\n", cls="T(Quiet)"), True),
        "test_in_with.py": (
            hook("        with open('x') as f:\n            super().setUp()\n"),
            True,
        ),
        "test_no_test.py": (
            f"{head}class T(Base):\n    async def asyncSetUp(self):\n        super().setUp()\n",
            True,
        ),
        "test_gate_fails.py": (
            f"{head}class T(Base):\n    async def asyncSetUp(self):\n"
            "        await super().asyncSetUp()\n        self.x = 1\n\n\n"
            "def helper(case):\n    case.setUp()\n",
            True,
        ),
        # left to the engine
        "test_else.py": (
            hook(
                "        if hasattr(super(), 'asyncSetUp'):\n"
                "            await super().asyncSetUp()\n"
                "        else:\n            super().setUp()\n"
            ),
            False,
        ),
        "test_elif.py": (
            hook(
                "        if self.x:\n            pass\n        elif self.y:\n"
                "            super().setUp()\n"
            ),
            False,
        ),
        "test_parens.py": (hook("        (super().setUp())\n"), False),
        "test_parens_lines.py": (
            hook("        (\n            super().setUp()\n        )\n"),
            False,
        ),
        "test_semicolon.py": (hook("        x = 1; super().setUp()\n"), False),
        "test_semicolon_after.py": (hook("        super().setUp(); x = 1\n"), False),
        "test_semicolon_end.py": (hook("        super().setUp() ;\n"), False),
        "test_super_cls.py": (hook("        super(T, self).setUp()\n"), False),
        "test_spaced.py": (hook("        super( ).setUp()\n"), False),
        "test_multiline.py": (hook("        super().setUp(\n        )\n"), False),
        "test_one_line_if.py": (hook("        if self: super().setUp()\n"), False),
        "test_tabs.py": (
            f"{head}class T(Base):\n\tasync def asyncSetUp(self):\n\t\tsuper().setUp()\n"
            "\n\tasync def test_a(self):\n\t\tpass\n",
            False,
        ),
        "test_crlf.py": (hook("        super().setUp()\n").replace("\n", "\r\n"), False),
        "test_non_ascii.py": (hook("        super().setUp()  # d\u00e9j\u00e0 vu\n"), False),
        "test_own_setup.py": (
            f"{head}class T(Base):\n    def setUp(self):\n        super().setUp()\n\n"
            "    async def asyncSetUp(self):\n        super().setUp()\n",
            False,
        ),
        "test_isolated.py": (
            hook("        super().setUp()\n", cls="T(unittest.IsolatedAsyncioTestCase)"),
            False,
        ),
        "test_unknown.py": (
            "from elsewhere import Thing\n\n\n"
            "class T(Thing):\n    async def asyncSetUp(self):\n        super().setUp()\n",
            False,
        ),
        "test_nested.py": (
            hook("        super().setUp()\n").replace(
                "class T(Base):\n", "class T(Base):\n    class Inner:\n        pass\n\n"
            ),
            False,
        ),
    }
    for name, (text, _) in files.items():
        (root / name).write_bytes(text.encode("utf-8"))
    return {name: answered for name, (_, answered) in files.items()}


def test_reentry_shapes_same_both_ways(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SSC002 in check: the plain shapes are answered with ast, the others by the engine,
    with the same results (findings, positions, messages, parsed) either way."""
    root = tmp_path / "reentry"
    expected = _reentry_project(root)
    monkeypatch.chdir(tmp_path)
    reentry = _Answers(monkeypatch, "ssc002_findings")
    fast, engine = _both_ways(root)
    assert _comparable(fast) == _comparable(engine)
    answered = sum(expected.values())
    assert reentry.count == answered
    assert reentry.fallbacks == len(expected) - answered
    by_name = {f.path.name: f for f in fast.files}
    codes = {name: [f.code for f in by_name[name].findings] for name in expected}
    assert codes["test_plain.py"] == ["SSC002", "SSC004"]
    assert codes["test_guarded.py"] == ["SSC002", "SSC004"]
    assert codes["test_teardown.py"] == ["SSC002", "SSC004"]
    assert codes["test_quiet.py"] == ["SSC004"]  # its setUp runs no hook: no re-entry
    assert codes["test_no_test.py"] == ["SSC002"]
    assert codes["test_gate_fails.py"] == []
    assert not by_name["test_gate_fails.py"].parsed
    assert "SSC002" in codes["test_else.py"]
    # apply may edit for SSC002: the engine answers there
    before = reentry.count
    fast, engine = _dry_run_both_ways(root)
    assert reentry.count == before
    assert _comparable(fast) == _comparable(engine)


def test_a_near_miss_of_another_rule_does_not_keep_a_file_from_the_ast(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SSC001's bytes match a decorator that runs the coroutine itself (``asyncio.run``) in a
    file of never-run async tests; SSC001's tree gate, answered by the first pass, rules it out,
    so the ast path answers the file (as the engine would: same results, no LibCST parse)."""
    from ssot_codemod import engine

    root = tmp_path / "near"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "base.py").write_text(
        "import unittest\n\n\nclass Base(unittest.TestCase):\n    async def asyncSetUp(self):\n"
        "        pass\n"
    )
    (root / "test_near.py").write_text(
        "import asyncio\nimport functools\n\nfrom pkg.base import Base\n\n\n"
        "def runs(func):\n    @functools.wraps(func)\n    def wrapper(self):\n"
        "        return asyncio.run(func(self))\n\n    return wrapper\n\n\n"
        "class T(Base):\n    async def asyncSetUp(self):\n        await super().asyncSetUp()\n\n"
        "    @runs\n    async def test_runs(self):\n        pass\n\n"
        "    async def test_never(self):\n        pass\n"
    )
    monkeypatch.chdir(tmp_path)
    parsed: list[str] = []
    real = engine._parse_libcst

    def parse(source: str, error: SyntaxError | None) -> Any:
        parsed.append("def runs" in source and "test_near" or "other")
        return real(source, error)

    monkeypatch.setattr(engine, "_parse_libcst", parse)
    answers = _Answers(monkeypatch)
    fast = check_paths([root], _options(root))
    assert answers.count == 1 and "test_near" not in parsed  # the ast answered it
    engine_run = check_paths([root], _options(root, ast_findings=False))
    assert "test_near" in parsed  # (the engine parses it: the comparison is not vacuous)
    assert _comparable(fast) == _comparable(engine_run)
    assert [f.code for path, f in fast.findings if path.name == "test_near.py"] == ["SSC004"]
