"""The first pass's tree verdict (``engine.TreeVerdict``): where the first pass parses a file
for its module summary, the crash guard and the rules' tree gates are answered from that tree,
and the engine does not parse the same bytes again. It must decide exactly what the engine's
own parse would, and never for other bytes than the ones it was made from."""

from __future__ import annotations

import ast
import dataclasses
import functools
import os
from pathlib import Path

import gen_monorepo
import pytest
from test_fixture_projects import _copy, _options
from test_fixture_projects import _projects as _fixture_projects

from ssot_codemod import engine, screening
from ssot_codemod.api import RunResult, apply_paths, check_paths
from ssot_codemod.engine import TreeVerdict, screen, tree_verdict
from ssot_codemod.files import discover, read_source
from ssot_codemod.project.context import ProjectContext
from ssot_codemod.project.index import ProjectIndex
from ssot_codemod.project.modules import summarise, summarise_with_tree
from ssot_codemod.rules import ALL_RULES
from ssot_codemod.types import EngineError

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("verdict") / "repo"
    gen_monorepo.generate_ssot(root, 120, 11)
    return root


def _fixture_files() -> list[Path]:
    return sorted(FIXTURES.rglob("*.py"))


def _utf8_text(data: bytes) -> str | None:
    """The file's text when its UTF-8 is exactly its bytes (the only case a verdict serves)."""
    try:
        text = read_source(data).text
    except EngineError:
        return None
    return text if text.encode("utf-8", "surrogatepass") == data else None


def _contexts(root: Path) -> dict[str, ProjectContext]:
    files = discover([root]).files
    index = ProjectIndex.build(root, files)
    return {os.fspath(f): index.context_for(os.fspath(f)) for f in files}


def test_summary_tree_is_a_fresh_parse_of_the_text(repo: Path) -> None:
    """The tree the summary was made from (and left unchanged) is the engine's own parse."""
    compared = 0
    for path in [*_fixture_files(), *sorted(repo.rglob("*.py"))]:
        data = path.read_bytes()
        text = _utf8_text(data)
        summary, tree = summarise_with_tree(os.fspath(path), data)
        assert summary == summarise(os.fspath(path), data)
        if text is None or tree is None:
            continue
        fresh = ast.parse(text)
        assert ast.dump(tree, include_attributes=True) == ast.dump(fresh, include_attributes=True)
        compared += 1
    assert compared > 100


def test_facts_decide_what_the_gate_decides(repo: Path, tmp_path: Path) -> None:
    """For every rule, ``could_match_facts(tree_facts(tree))`` is ``could_match_tree(tree)``,
    alone and with each file's project context (SSC003 and SSC004 read it)."""
    cases: list[tuple[Path, ProjectContext | None]] = [(p, None) for p in _fixture_files()]
    roots = [repo, *(_copy(name, tmp_path) for name in _fixture_projects())]
    for root in roots:
        cases += [(Path(p), c) for p, c in _contexts(root).items()]
    decided = {True: 0, False: 0}
    for path, context in cases:
        text = _utf8_text(path.read_bytes())
        if text is None:
            continue
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for rule in ALL_RULES:
            facts = rule.tree_facts(tree, with_context=context is not None)
            expected = rule.could_match_tree(tree, context)
            assert rule.could_match_facts(facts, context) == expected, (path, rule.code)
            decided[expected] += 1
    assert decided[True] and decided[False]


def _screened(text: str, context: ProjectContext | None, **kwargs: object) -> object:
    try:
        found = screen(text, rules=ALL_RULES, prefiltered=True, context=context, **kwargs)  # type: ignore[arg-type]
    except EngineError as exc:
        return ("error", str(exc))
    return ([r.code for r in found.rules], found.syntax_error is None)


def test_screen_with_a_verdict_equals_screen_with_a_parse(repo: Path) -> None:
    contexts = _contexts(repo)
    cases = [(p, None) for p in _fixture_files()] + [(Path(p), c) for p, c in contexts.items()]
    used = 0
    for path, context in cases:
        data = path.read_bytes()
        text = _utf8_text(data)
        if text is None:
            continue
        _summary, tree = summarise_with_tree(os.fspath(path), data)
        if tree is None:
            continue
        verdict = tree_verdict(tree, data, ALL_RULES, with_context=context is not None)
        if verdict is None:
            continue
        assert _screened(text, context, verdict=verdict) == _screened(text, context)
        used += 1
    assert used > 100


def _verdict(text: str, *, with_context: bool = False) -> TreeVerdict:
    data = text.encode()
    made = tree_verdict(ast.parse(text), data, ALL_RULES, with_context=with_context)
    assert made is not None
    return made


BRIDGE = (
    "import asyncio, unittest\n"
    "class T(unittest.TestCase):\n"
    "    def setUp(self):\n"
    "        asyncio.run(self.asyncSetUp())\n"
    "    async def asyncSetUp(self):\n"
    "        pass\n"
)


def test_a_verdict_is_what_screen_decides_by() -> None:
    """Facts that rule SSC001 out drop it, with no parse: the verdict is really used."""
    assert "SSC001" in _screened(BRIDGE, None)[0]  # type: ignore[index]
    made = _verdict(BRIDGE)
    forged = dataclasses.replace(made, facts={**made.facts, "SSC001": False})
    codes = _screened(BRIDGE, None, verdict=forged)[0]  # type: ignore[index]
    assert "SSC001" not in codes and "SSC005" in codes


def test_a_verdict_of_other_bytes_is_not_used() -> None:
    """A file changed since the first pass (other bytes) gets its own parse, as does one
    whose verdict assumed the other context or lacks a candidate's facts."""
    changed = BRIDGE.replace("asyncio.run(self.asyncSetUp())", "self.value = 1")
    stale = _verdict(BRIDGE)
    assert _screened(changed, None, verdict=stale) == _screened(changed, None)
    assert _screened(changed, None) != _screened(BRIDGE, None)
    forged = dataclasses.replace(stale, facts={**stale.facts, "SSC001": False})
    other_context = dataclasses.replace(forged, with_context=True)
    assert _screened(BRIDGE, None, verdict=other_context) == _screened(BRIDGE, None)
    partial = dataclasses.replace(
        forged, facts={k: v for k, v in forged.facts.items() if k != "SSC003"}
    )
    assert _screened(BRIDGE, None, verdict=partial) == _screened(BRIDGE, None)


def test_a_tree_the_crash_guard_refuses_gets_no_verdict() -> None:
    """A sum of more terms than LibCST's parser survives: the engine parses and refuses it."""
    deep = "x = " + "+".join(["1"] * (engine.MAX_NESTING + 100)) + "\n"
    assert tree_verdict(ast.parse(deep), deep.encode(), ALL_RULES, with_context=False) is None
    with pytest.raises(EngineError, match="nested more than"):
        screen(deep, rules=ALL_RULES, prefiltered=True)


def _outcome(result: RunResult) -> list[tuple[object, ...]]:
    return [
        (
            str(f.path),
            f.status,
            f.error,
            f.new,
            f.parsed,
            [dataclasses.astuple(x) for x in f.findings],
        )
        for f in result.files
    ]


def test_runs_are_the_same_with_and_without_verdicts(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whole runs (check, apply --dry-run, with and without unsafe fixes) give the same files,
    findings and rewrites when the first pass hands its verdicts over; and then the engine
    parses fewer files with ``ast``."""
    parses = {"count": 0}
    guard = engine._refuse_parser_crashers

    def counted(source: str) -> tuple[ast.Module | None, SyntaxError | None]:
        parses["count"] += 1
        return guard(source)

    monkeypatch.setattr(engine, "_refuse_parser_crashers", counted)
    roots = [repo, *(_copy(name, tmp_path) for name in _fixture_projects())]
    with_verdicts = screening._verdict
    counts = {}
    for handed in (True, False):
        monkeypatch.setattr(
            screening, "_verdict", with_verdicts if handed else lambda *args, **kwargs: None
        )
        parses["count"] = 0
        outcomes = []
        for root in roots:
            for unsafe in (False, True):
                options = _options(root, unsafe=unsafe)
                for run in (check_paths, functools.partial(apply_paths, dry_run=True)):
                    outcomes.append(_outcome(run([root], options)))
        counts[handed] = (parses["count"], outcomes)
    assert counts[True][1] == counts[False][1]
    assert counts[True][0] < counts[False][0]
