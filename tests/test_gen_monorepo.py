"""scripts/gen_monorepo.py: the SSOT-shaped mode and its ground truth, checked against the tool.

The generator writes a manifest of what it put where (never-run async tests with their
positions, re-entering ``super().setUp()`` calls, async tests that do run); these tests compare
the tool with it and never hard-code counts.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import gen_monorepo
import pytest

from ssot_codemod.api import Options, apply_paths, check_paths, revert_paths

ROOT = Path(__file__).resolve().parent.parent

SMALL = 60
SEED = 4242


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def _rel(root: Path, path: Path) -> str:
    return path.resolve().relative_to(root.resolve()).as_posix()


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("ssot") / "repo"
    gen_monorepo.generate_ssot(root, SMALL, SEED)
    manifest = json.loads((root / gen_monorepo.MANIFEST_NAME).read_text(encoding="utf-8"))
    return root, manifest


def test_manifest_is_the_ground_truth(small: tuple[Path, dict[str, Any]]) -> None:
    """Every position in the manifest points at what it says (checked without the tool)."""
    root, manifest = small
    assert manifest["files"] == len([p for p in _tree(root) if p.endswith(".py")])
    assert manifest["never_run_total"] == sum(len(v) for v in manifest["never_run"].values())
    assert manifest["never_run_total"] > 0 and manifest["reentry"] and manifest["runs"]
    for kind in ("never_run", "runs"):
        for path, tests in manifest[kind].items():
            lines = (root / path).read_text(encoding="utf-8").splitlines()
            for _cls, name, line, col in tests:
                assert lines[line - 1][col - 1 :].startswith(f"{name}("), (path, line)
                assert lines[line - 1].lstrip().startswith("async def "), (path, line)
    for path, calls in manifest["reentry"].items():
        lines = (root / path).read_text(encoding="utf-8").splitlines()
        for _cls, line, col in calls:
            assert lines[line - 1][col - 1 :] == "super().setUp()", (path, line)
    assert max(manifest["depth"].values()) >= 3, "several levels below the framework"


def test_every_never_run_test_is_reported(small: tuple[Path, dict[str, Any]]) -> None:
    root, manifest = small
    result = check_paths([root], Options(jobs=1))
    assert not result.failed, [(f.path, f.error) for f in result.failed]
    reported = {
        (_rel(root, path), f.line, f.column) for path, f in result.findings if f.code == "SSC004"
    }
    # One root-cause finding at the framework class, which --unsafe-fixes rebases.
    expected = {(manifest["framework"], *manifest["root_position"])} | {
        (path, line, col)
        for path, tests in manifest["never_run"].items()
        for *_, line, col in tests
    }
    assert sorted(expected - reported) == [], "never-run tests not reported"
    assert sorted(reported - expected) == [], "reported, but they run (or are no tests)"
    reentry = {
        (_rel(root, path), f.line, f.column)
        for path, f in result.findings
        if f.code == "SSC002" and _rel(root, path) != manifest["framework"]
    }
    assert reentry == {
        (path, line, col) for path, calls in manifest["reentry"].items() for _, line, col in calls
    }


def test_unsafe_fixes_change_the_framework_and_own_edits_only(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    gen_monorepo.generate_ssot(root, SMALL, SEED)
    manifest = json.loads((root / gen_monorepo.MANIFEST_NAME).read_text(encoding="utf-8"))
    original = _tree(root)

    result = apply_paths([root], Options(jobs=1, unsafe_fixes=True))
    assert not result.failed, [(f.path, f.error) for f in result.failed]
    changed = sorted(_rel(root, f.path) for f in result.files if f.status == "changed")
    assert changed == manifest["unsafe_changed_files"]
    assert manifest["framework"] in changed
    framework = (root / manifest["framework"]).read_text(encoding="utf-8")
    assert f"class {manifest['root_class']}(" in framework
    assert "IsolatedAsyncioTestCase" in framework
    after = _tree(root)
    untouched = [p for p in original if p not in changed]
    assert [p for p in untouched if after[p] != original[p]] == []

    revert = revert_paths([root])
    assert not revert.failed
    assert _tree(root) == original


def test_ssot_mode_is_deterministic_and_large_by_default(tmp_path: Path) -> None:
    first = gen_monorepo.generate_ssot(tmp_path / "a", seed=SEED)
    gen_monorepo.generate_ssot(tmp_path / "b", seed=SEED)
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")
    assert first.files == gen_monorepo.SSOT_DEFAULT_FILES
    assert len(first.subclass_files) >= 1000
    assert first.never_run_total > len(first.never_run) > 0
    framework = (tmp_path / "a" / gen_monorepo.FRAMEWORK_PATH).read_text(encoding="utf-8")
    assert "loop.run_until_complete(self.asyncSetUp())" in framework
    assert "super().setUp()" in framework


def test_default_mode_still_works(tmp_path: Path) -> None:
    files, size = gen_monorepo.generate(tmp_path / "a", 40, seed=3)
    gen_monorepo.generate(tmp_path / "b", 40, seed=3)
    assert files == 40 and size > 0
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")
    assert not (tmp_path / "a" / gen_monorepo.MANIFEST_NAME).exists()


def _pytest(root: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHON"))}
    env.update(PYTHONPATH=str(root), PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "timeout",
         "--timeout", "30", "--timeout-method=thread", "tests"],
        cwd=root,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip


def test_generated_project_runs_red_then_green_after_apply(tmp_path: Path) -> None:
    """The generated suite is real code: under pytest it fails with the re-entry before the
    codemod and passes after ``apply`` (its never-run async tests still "pass")."""
    root = tmp_path / "repo"
    gen_monorepo.generate_ssot(root, SMALL, SEED)
    before = _pytest(root)
    assert before.returncode == 1, before.stdout[-3000:]
    assert "This event loop is already running" in before.stdout
    result = apply_paths([root], Options(jobs=1))
    assert not result.failed, [(f.path, f.error) for f in result.failed]
    after = _pytest(root)
    assert after.returncode == 0, after.stdout[-3000:]
    assert "This event loop is already running" not in after.stdout


NEVER_AWAITED = re.compile(r"coroutine '(\w+\.test_\w+)' was never awaited")


def _unittest(root: Path) -> subprocess.CompletedProcess[str]:
    """``python -m unittest`` with every RuntimeWarning shown (one per never-awaited test)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(PYTHONPATH=str(root), PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run(
        [sys.executable, "-W", "always::RuntimeWarning", "-m", "unittest", "discover",
         "-s", "tests", "-t", "."],
        cwd=root,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip


def test_unsafe_fixes_make_exactly_the_never_run_tests_run(tmp_path: Path) -> None:
    """After ``apply`` the runner still skips exactly the manifest's never-run tests (it warns
    once for each); after ``apply --unsafe-fixes`` none is skipped and the suite is green."""
    safe, unsafe = tmp_path / "safe", tmp_path / "unsafe"
    for root, flag in ((safe, False), (unsafe, True)):
        manifest = gen_monorepo.generate_ssot(root, SMALL, SEED)
        result = apply_paths([root], Options(jobs=1, unsafe_fixes=flag))
        assert not result.failed, [(f.path, f.error) for f in result.failed]
    expected = Counter(
        f"{cls}.{name}" for tests in manifest.never_run.values() for cls, name, *_ in tests
    )
    before = _unittest(safe)
    assert before.returncode == 0, before.stderr[-3000:]
    assert Counter(NEVER_AWAITED.findall(before.stderr)) == expected
    after = _unittest(unsafe)
    assert after.returncode == 0, after.stderr[-3000:]
    assert NEVER_AWAITED.findall(after.stderr) == []
    ran = re.findall(r"^Ran (\d+) tests?", before.stderr + after.stderr, re.M)
    assert len(ran) == 2 and ran[0] == ran[1], ran
