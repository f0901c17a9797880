"""Multi-module fixture projects under tests/fixtures/projects/<name>/, through the library API.

Each project has:

- ``input/``: the project tree (flat, ``src/`` layout, package chains, relative imports,
  re-exports, aliases, cycles, diamonds, same-named classes, namespace packages, configured
  import roots, bases that cannot be resolved, IsolatedAsyncioTestCase across modules, a
  subclass with its own bridge, two roots, source features, near misses);
- ``check.txt`` / ``check-unsafe.txt``: the exact findings of ``check`` (without / with
  ``--unsafe-fixes``), one ``relpath:line:col CODE fix applied|reported`` per line, sorted by
  path, line and column;
- ``apply/`` / ``apply-unsafe/``: the expected content of every file ``apply`` (without / with
  ``--unsafe-fixes``) changes; every other file must stay byte-identical (``.keep`` only keeps
  the directory in git).

The expectations were written from the spec (patterns.md, compatible-form.md): where the
findings must be and which single root file is rebased. Every run works on a temporary copy.
Besides the expected trees, the tests check that a second ``apply`` changes nothing, that
``revert`` restores every touched file byte for byte, that ``check FILE`` gives each file exactly
the findings it gets when the whole project is checked, that the CLI agrees (JSON output, a
named file from the project root, ``--verbose`` naming unresolved bases, the summary grouped by
root cause), and that rewritten files add no lint finding. Open questions and tool bugs found
with these projects are in ``tests/fixtures/projects/FINDINGS_FOR_LEAD.md``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from ssot_codemod.api import Options, RunResult, apply_paths, check_paths, revert_paths
from ssot_codemod.config import load_config
from ssot_codemod.files import read_source
from ssot_codemod.types import Finding

PROJECTS = Path(__file__).parent / "fixtures" / "projects"
PLACEHOLDER = ".keep"
# What apply may leave beside the files it changed (backups and its journal).
APPLY_LEFTOVERS = (".backup", ".ssot-codemod.journal")
CLI_TIMEOUT = 120


def _projects() -> list[str]:
    return sorted(p.name for p in PROJECTS.iterdir() if (p / "input").is_dir())


def _tree(root: Path) -> dict[str, bytes]:
    """Every file under *root* (relative POSIX path -> bytes), bytecode caches skipped."""
    out: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_dir() or "__pycache__" in rel.parts:
            continue
        out[rel.as_posix()] = path.read_bytes()
    return out


def _copy(name: str, tmp_path: Path) -> Path:
    root = tmp_path / name
    shutil.copytree(PROJECTS / name / "input", root)
    return root


def _options(root: Path, *, unsafe: bool) -> Options:
    """Options as the CLI builds them for *root*: its pyproject.toml, if any, is honoured
    (``[tool.ssot-codemod] src``: import roots relative to that file, as in ruff)."""
    config, config_path = load_config(root)
    base = config_path.parent if config_path is not None else root
    return Options(
        unsafe_fixes=unsafe,
        jobs=1,
        exclude_base=config_path.parent if config_path is not None else None,
        project_root=root,
        src=tuple(base / entry for entry in config.get("src", ())),
    )


def _rel(root: Path, path: Path) -> str:
    return Path(os.path.realpath(path)).relative_to(os.path.realpath(root)).as_posix()


def _line(rel: str, finding: Finding) -> str:
    status = "applied" if finding.applied else "reported"
    return f"{rel}:{finding.line}:{finding.column} {finding.code} {finding.fix} {status}"


def _findings_text(root: Path, result: RunResult) -> str:
    rows = sorted(
        (_rel(root, path), f.line, f.column, f.code, _line(_rel(root, path), f))
        for path, f in result.findings
    )
    return "".join(row[-1] + "\n" for row in rows)


def _no_errors(result: RunResult) -> None:
    problems = [(f.path, f.status, f.error) for f in result.failed]
    assert not problems and not result.discovery_errors, (problems, result.discovery_errors)


def _expected_tree(name: str, mode: str) -> dict[str, bytes]:
    """The input tree with the files under ``<mode>/`` replaced by their expected content."""
    tree = _tree(PROJECTS / name / "input")
    for rel, data in _tree(PROJECTS / name / mode).items():
        if rel == PLACEHOLDER:
            continue
        assert rel in tree, f"{mode}/{rel} names no file of input/"
        tree[rel] = data
    return tree


def _without_leftovers(tree: dict[str, bytes]) -> dict[str, bytes]:
    return {
        rel: data
        for rel, data in tree.items()
        if not rel.endswith(APPLY_LEFTOVERS) and not rel.startswith(".ssot-codemod/")
    }


@pytest.mark.parametrize("name", _projects())
@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
def test_check(name: str, unsafe: bool, tmp_path: Path) -> None:
    root = _copy(name, tmp_path)
    before = _tree(root)
    result = check_paths([root], _options(root, unsafe=unsafe))
    _no_errors(result)
    expected = (PROJECTS / name / ("check-unsafe.txt" if unsafe else "check.txt")).read_text()
    assert _findings_text(root, result) == expected
    assert _tree(root) == before, "check must never write"


@pytest.mark.parametrize("name", _projects())
@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
def test_apply_then_revert(name: str, unsafe: bool, tmp_path: Path) -> None:
    mode = "apply-unsafe" if unsafe else "apply"
    root = _copy(name, tmp_path)
    original = _tree(root)
    expected = _expected_tree(name, mode)
    options = _options(root, unsafe=unsafe)

    result = apply_paths([root], options)
    _no_errors(result)
    after = _tree(root)
    assert _without_leftovers(after) == expected
    touched = sorted(rel for rel in expected if expected[rel] != original[rel])
    changed = sorted(_rel(root, f.path) for f in result.files if f.status == "changed")
    assert changed == touched
    for rel in touched:
        assert after[f"{rel}.backup"] == original[rel], f"{rel}.backup must hold the original"

    again = apply_paths([root], options)
    _no_errors(again)
    assert not [f.path for f in again.files if f.status == "changed"], "apply is idempotent"
    assert _without_leftovers(_tree(root)) == expected

    reverted = revert_paths([root])
    _no_errors(reverted)
    assert sorted(_rel(root, f.path) for f in reverted.files if f.status == "reverted") == touched
    assert _without_leftovers(_tree(root)) == original
    assert not [rel for rel in _tree(root) if rel.endswith(".backup")]


def _by_file(root: Path, result: RunResult) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = {}
    for path, finding in result.findings:
        out.setdefault(_rel(root, path), []).append(finding)
    return out


def _root_files(name: str) -> list[str]:
    """Files ``--unsafe-fixes`` writes differently from ``apply``: where the root classes are
    rebased (and edits that depend on that rebase)."""
    safe, unsafe = _expected_tree(name, "apply"), _expected_tree(name, "apply-unsafe")
    return sorted(rel for rel in unsafe if unsafe[rel] != safe[rel])


@pytest.mark.parametrize("name", _projects())
@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
def test_check_file_equals_slice_of_check_project(name: str, unsafe: bool, tmp_path: Path) -> None:
    """pre-commit passes only changed files: each gets what it gets in a whole-project run,
    every field of every finding (message and ``applied`` included).

    With ``--unsafe-fixes`` the files holding the rebased roots are named too: only named files
    are written, so without them the root would not be rebased in that run, and a subclass's
    own edit is planned against the class as it stays (a different finding, rightly).
    """
    root = _copy(name, tmp_path)
    options = _options(root, unsafe=unsafe)
    whole = _by_file(root, check_paths([root], options))
    roots = _root_files(name) if unsafe else []

    mismatches = []
    for rel in sorted(p for p in _tree(root) if p.endswith(".py")):
        named = [root / rel, *(root / r for r in roots if r != rel)]
        alone = check_paths(named, options)
        _no_errors(alone)
        got = [dataclasses.astuple(f) for f in _by_file(root, alone).get(rel, [])]
        want = [dataclasses.astuple(f) for f in whole.get(rel, [])]
        if got != want:
            mismatches.append((rel, want, got))
    report = (f"{r}:\n  project: {w}\n  alone:   {g}" for r, w, g in mismatches)
    assert not mismatches, "\n".join(report)


@pytest.mark.parametrize("name", _projects())
def test_apply_named_file_writes_only_that_file(name: str, tmp_path: Path) -> None:
    """``apply FILE`` writes FILE's expected rewrite (found through the project), nothing else."""
    expected = _expected_tree(name, "apply")
    original = _tree(PROJECTS / name / "input")
    touched = [rel for rel in expected if expected[rel] != original[rel]]
    for rel in touched:
        root = _copy(name, tmp_path / rel.replace("/", "_"))
        _no_errors(apply_paths([root / rel], _options(root, unsafe=False)))
        want = dict(original)
        want[rel] = expected[rel]
        assert _without_leftovers(_tree(root)) == want, rel


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "NO_COLOR"))}
    env["NO_COLOR"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "ssot_codemod", *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )


@pytest.mark.parametrize("name", _projects())
def test_cli_json_matches_check_txt(name: str, tmp_path: Path) -> None:
    """The CLI, run from the project root (it reads pyproject.toml), agrees with check.txt."""
    root = _copy(name, tmp_path)
    proc = _cli("check", "--output-format", "json", "-j", "1", ".", cwd=root)
    expected = (PROJECTS / name / "check.txt").read_text()
    assert proc.returncode == (1 if expected else 0), proc.stderr
    rows = sorted(
        (Path(item["path"]).as_posix(), item["line"], item["column"], item["code"], item["fix"])
        for item in json.loads(proc.stdout)
    )
    want = [line.split(" ")[:3] for line in expected.splitlines()]
    got = [[f"{p}:{line}:{col}", code, fix] for p, line, col, code, fix in rows]
    assert got == want


# (class, base it cannot resolve) per project
UNRESOLVED = {
    "unresolvable": (
        ("TestThirdParty", "AsyncishCase"),  # third party
        ("TestMixedUnknown", "AsyncishCase"),  # an unknown mixin beside a known TestCase base
        ("TestMissing", "Nope"),  # relative import of a module that does not exist
        ("TestNotDefined", "NotDefinedThere"),  # a name the project module does not define
        ("TestMadeAtRuntime", "Dynamic"),  # computed at runtime
    ),
    "import_cycle": (("TestLoop", "Loop1"),),  # an alias cycle across two modules
}


@pytest.mark.parametrize("name", sorted(UNRESOLVED))
def test_verbose_names_every_unresolved_base(name: str, tmp_path: Path) -> None:
    """No silent misses: each class whose base cannot be resolved is named with that base in
    --verbose, and the summary counts them."""
    root = _copy(name, tmp_path)
    proc = _cli("check", "--verbose", "-j", "1", ".", cwd=root)
    assert proc.returncode in (0, 1), proc.stderr
    lines = (proc.stdout + proc.stderr).splitlines()
    missing = [
        (cls, base)
        for cls, base in UNRESOLVED[name]
        if not any(cls in line and base in line for line in lines)
    ]
    assert not missing, "\n".join(lines)
    count = len(UNRESOLVED[name])
    assert any(f"{count} class" in line for line in lines), "\n".join(lines)


def test_isolated_subclass_reentry_says_setup_runs_twice(tmp_path: Path) -> None:
    """P2 in an IsolatedAsyncioTestCase: the parent's setUp runs twice; nothing re-enters."""
    root = _copy("isolated_cross_module", tmp_path)
    findings = _by_file(root, check_paths([root], _options(root, unsafe=False)))
    (finding,) = [f for f in findings["tests/test_parent_setup_twice.py"] if f.code == "SSC002"]
    assert "twice" in finding.message
    assert "re-enter" not in finding.message


@pytest.mark.parametrize("name", _projects())
def test_summary_groups_never_run_tests_by_root_cause(name: str, tmp_path: Path) -> None:
    """One summary line per root class: "N async tests in M files never run because `Base`"."""
    roots = [
        line.split(" ")[0]
        for line in (PROJECTS / name / "check.txt").read_text().splitlines()
        if " SSC004 " in line
        and read_source((PROJECTS / name / "input" / line.split(":")[0]).read_bytes())
        .text.splitlines()[int(line.split(":")[1]) - 1]
        .startswith("class ")
    ]
    root = _copy(name, tmp_path)
    proc = _cli("check", "-j", "1", ".", cwd=root)
    summary = [line for line in proc.stderr.splitlines() if "never run because" in line]
    assert len(summary) == len(roots), proc.stderr
    for position in roots:
        path, line = position.split(":")[:2]
        assert [s for s in summary if f"{path}:{line}" in s], (position, proc.stderr)


@pytest.mark.parametrize("name", _projects())
def test_root_finding_counts_the_tests_it_affects(name: str, tmp_path: Path) -> None:
    """The SSC004 finding at each root class says how many never-run tests it causes: the test
    findings that name that root (``path:line``) as their cause."""
    root = _copy(name, tmp_path)
    findings = _by_file(root, check_paths([root], _options(root, unsafe=False)))
    at_class: list[tuple[str, Finding]] = []
    at_tests: list[Finding] = []
    for rel, file_findings in findings.items():
        lines = read_source((root / rel).read_bytes()).text.splitlines()
        for f in file_findings:
            if f.code != "SSC004":
                continue
            if lines[f.line - 1].startswith("class "):
                at_class.append((rel, f))
            else:
                at_tests.append(f)
    if not at_tests:
        assert at_class == []
    for rel, root_finding in at_class:
        caused = [f for f in at_tests if f"{rel}:{root_finding.line})" in f.message]
        assert caused, root_finding
        assert f"{len(caused)} async test" in root_finding.message
    assert sum(
        1 for f in at_tests if any(f"{r}:{rf.line})" in f.message for r, rf in at_class)
    ) == len(at_tests)


@pytest.mark.parametrize("name", _projects())
def test_cli_named_file_from_the_project_root(name: str, tmp_path: Path) -> None:
    """pre-commit runs from the project root and names files. Without any project marker
    (no pyproject.toml, no .git) the import roots still start at the working directory, as
    ruff's do, so a named file gets its findings from check.txt."""
    expected = (PROJECTS / name / "check.txt").read_text().splitlines()
    if expected:
        rel = expected[-1].split(":", 1)[0]  # a subclass's file: its base lives elsewhere
    else:  # no findings anywhere: the last test module must have none either
        rel = sorted(p for p in _tree(PROJECTS / name / "input") if "/test_" in f"/{p}")[-1]
    root = _copy(name, tmp_path)
    proc = _cli("check", "--output-format", "json", "-j", "1", rel, cwd=root)
    got = sorted(
        [f"{Path(i['path']).as_posix()}:{i['line']}:{i['column']}", i["code"], i["fix"]]
        for i in json.loads(proc.stdout or "[]")
    )
    want = sorted(line.split(" ")[:3] for line in expected if line.startswith(f"{rel}:"))
    assert got == want, proc.stderr


def _helper_rows(text: str) -> range:
    """The lines of the inserted ``run_coroutine_sync`` definition (form A, not issue 10's)."""
    lines = text.splitlines()
    first = next(
        (i for i, line in enumerate(lines) if line.startswith("def run_coroutine_sync(")), None
    )
    if first is None:
        return range(0)
    last = next(
        (i for i in range(first + 1, len(lines)) if lines[i][:1] not in ("", " ", "\t")),
        len(lines),
    )
    return range(first + 1, last + 1)


def _ruff_codes(root: Path, rels: list[str]) -> dict[str, list[str]]:
    """ruff's findings (E, W, F, I, B; no configuration) per file, as sorted code lists.

    Findings inside an inserted ``run_coroutine_sync`` are left out: that helper predates the
    project view (its long lines and mutable default are reported separately)."""
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--select", "E,W,F,I,B",
         "--output-format", "json", "--exit-zero", *rels],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=True,
    )  # fmt: skip
    helper = {rel: _helper_rows(read_source((root / rel).read_bytes()).text) for rel in rels}
    out: dict[str, list[str]] = {rel: [] for rel in rels}
    for item in json.loads(proc.stdout):
        rel = _rel(root, Path(item["filename"]))
        if item["location"]["row"] not in helper[rel]:
            out[rel].append(item["code"])
    return {rel: sorted(codes) for rel, codes in out.items()}


@pytest.mark.parametrize("name", _projects())
@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
def test_rewritten_files_add_no_lint_findings(name: str, unsafe: bool, tmp_path: Path) -> None:
    """Inserted code is reviewed code (compatible-form.md): every file apply rewrites has no
    ruff finding (E, W, F, I, B) that the original did not have."""
    root = _copy(name, tmp_path)
    original = _tree(root)
    apply_paths([root], _options(root, unsafe=unsafe))
    now = _tree(root)
    touched = sorted(rel for rel in original if rel.endswith(".py") and now[rel] != original[rel])
    if not touched:
        return
    after = _ruff_codes(root, touched)
    revert_paths([root])
    before = _ruff_codes(root, touched)
    added = {
        rel: sorted((Counter(after[rel]) - Counter(before[rel])).elements()) for rel in touched
    }
    assert {rel: codes for rel, codes in added.items() if codes} == {}
