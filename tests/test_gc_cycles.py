"""A run frees each file's syntax trees by reference counting, not by the cyclic collector.

A nested function that calls itself is a reference cycle (function -> closure cell -> function),
and whatever its closure reaches stays alive until the collector's next pass: a walk over a
LibCST module that collected its classes kept every class's subtree alive that way. On 500
files that was ~1 M objects for the collector to find (0.3-0.45 s of a 4.5 s ``apply``, and a
cold heap for the next parse). These tests run whole commands with the collector switched off
and fail if any syntax-tree node could only have been freed by it.
"""

from __future__ import annotations

import ast
import gc
import shutil
import tokenize
from collections.abc import Callable, Iterator
from pathlib import Path

import libcst as cst
import pytest

from ssot_codemod.api import Options, apply_paths, check_paths
from ssot_codemod.quarantine_markers import add_markers, find_markers, remove_markers
from ssot_codemod.results import RunResult

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """Multi-module projects (bases in other files) and every rule's single-file cases."""
    root = tmp_path / "proj"
    for name in ("src_layout_ssot", "diamond", "package_chain_relative", "aliases"):
        shutil.copytree(FIXTURES / "projects" / name, root / name)
    for rule_dir in sorted(FIXTURES.glob("SSC*")):
        for case in sorted(rule_dir.glob("*.py")):
            if not case.name.endswith(".expected.py"):
                shutil.copy(case, root / f"{rule_dir.name}_{case.name}")
    return root


def _tree_nodes_left_to_the_collector(work: Callable[[], object]) -> list[str]:
    """The type names of the syntax-tree nodes that *work* left in reference cycles."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        work()
        gc.collect()
        return sorted(
            {type(o).__name__ for o in gc.garbage if isinstance(o, (ast.AST, cst.CSTNode))}
        )
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if was_enabled:
            gc.enable()


def _python_files(root: Path) -> Iterator[Path]:
    return (p for p in sorted(root.rglob("*.py")) if p.is_file())


@pytest.mark.parametrize("project_view", [True, False])
def test_check_leaves_no_tree_in_a_cycle(project: Path, project_view: bool) -> None:
    options = Options(jobs=1, project_view=project_view)
    results: list[RunResult] = []
    left = _tree_nodes_left_to_the_collector(
        lambda: results.append(check_paths([project], options))
    )
    assert any(f.findings for f in results[0].files)
    assert left == []


def test_apply_leaves_no_tree_in_a_cycle(project: Path) -> None:
    options = Options(jobs=1, unsafe_fixes=True)
    results: list[RunResult] = []
    left = _tree_nodes_left_to_the_collector(
        lambda: results.append(apply_paths([project], options))
    )
    assert any(f.status == "changed" for f in results[0].files)
    assert left == []


def test_quarantine_markers_leave_no_tree_in_a_cycle(project: Path) -> None:
    sources = []
    for path in _python_files(project):
        with tokenize.open(path) as handle:  # some cases declare another encoding
            sources.append(handle.read())

    def mark_and_unmark() -> None:
        for source in sources:
            names = [
                f"{node.name}.{item.name}"
                for node in ast.parse(source).body
                if isinstance(node, ast.ClassDef)
                for item in node.body
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
                and item.name.startswith("test")
            ]
            marked, done = add_markers(source, {name: "broken before the fix" for name in names})
            assert done == set(names)
            assert len(find_markers(marked)) == len(names)
            assert remove_markers(marked, names)[1] == set(names)

    assert _tree_nodes_left_to_the_collector(mark_and_unmark) == []


def test_no_nested_function_calls_itself() -> None:
    """The pattern behind the cycles above, everywhere in the package (paths the runs above
    do not take included): recursion goes through module-level functions or methods."""
    package = Path(__file__).parent.parent / "src" / "ssot_codemod"
    found = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for outer in ast.walk(tree):
            if not isinstance(outer, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for inner in ast.walk(outer):
                if inner is outer or not isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                if any(
                    isinstance(name, ast.Name) and name.id == inner.name for name in ast.walk(inner)
                ):
                    found.append(f"{path.relative_to(package)}:{inner.lineno} {inner.name}")
    assert found == []
