"""pre-commit: the repository's own hook manifest, and both hooks run by real pre-commit.

The hooks run as ``repo: local`` / ``language: system`` with the entry pointing at the installed
console script, so no network is needed; their ids, names, entries and options are taken from
this repository's ``.pre-commit-hooks.yaml``, so what is tested is what users get.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / ".pre-commit-hooks.yaml"
BIN = Path(sys.executable).parent
SCRIPT = BIN / "ssot-codemod"
PRE_COMMIT = BIN / "pre-commit"

BROKEN = """\
import asyncio
import unittest


class Base(unittest.TestCase):
    def setUp(self):
        loop = asyncio.get_event_loop()
        loop.run_until_complete(self.asyncSetUp())

    async def asyncSetUp(self):
        pass
"""
CLEAN = "def add(a, b):\n    return a + b\n"


def load_manifest() -> list[dict[str, Any]]:
    clientlib = pytest.importorskip("pre_commit.clientlib")
    hooks: list[dict[str, Any]] = clientlib.load_manifest(str(MANIFEST))
    return hooks


def test_manifest_is_valid_and_has_both_hooks() -> None:
    hooks = {hook["id"]: hook for hook in load_manifest()}
    assert set(hooks) == {"ssot-codemod-check", "ssot-codemod"}
    assert hooks["ssot-codemod-check"]["entry"] == "ssot-codemod check"
    assert hooks["ssot-codemod"]["entry"] == "ssot-codemod apply"
    for hook in hooks.values():
        assert hook["language"] == "python"
        assert hook["types"] == ["python"]
        assert hook["pass_filenames"] is True
        # Never an interactive flag or a prompt-prone command.
        assert shlex.split(hook["entry"])[0] == "ssot-codemod"


def test_manifest_entries_are_real_commands() -> None:
    from ssot_codemod.cli import cli

    for hook in load_manifest():
        _, command, *_ = shlex.split(hook["entry"])
        assert command in cli.commands  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------
# real pre-commit in a throwaway git repository


def _env(tmp_path: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GIT_", "PRE_COMMIT", "PYTEST_")) and k not in ("NO_COLOR", "CI")
    }
    empty = tmp_path / "empty-gitconfig"
    empty.write_text("")
    env.update(
        PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"),
        GIT_CONFIG_GLOBAL=str(empty),
        GIT_CONFIG_NOSYSTEM="1",
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def _run(
    args: list[str], cwd: Path, env: dict[str, str], *, check: bool = True
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        args,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,  # git hooks have no terminal: nothing may prompt
        timeout=300,
    )
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def _local_config() -> str:
    """A .pre-commit-config.yaml running the manifest's hooks from the installed script."""
    lines = ["repos:", "  - repo: local", "    hooks:"]
    for hook in load_manifest():
        _, *rest = shlex.split(hook["entry"])
        entry = shlex.join([str(SCRIPT), *rest])
        lines += [
            f"      - id: {hook['id']}",
            f"        name: {hook['name']}",
            f"        entry: {entry}",
            "        language: system",
            f"        types: [{', '.join(hook['types'])}]",
            f"        require_serial: {str(hook['require_serial']).lower()}",
        ]
    return "\n".join(lines) + "\n"


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    if not SCRIPT.exists() or not PRE_COMMIT.exists():
        pytest.skip("ssot-codemod or pre-commit is not installed in this environment")
    root = tmp_path / "repo"
    root.mkdir()
    env = _env(tmp_path)
    _run(["git", "init", "-q"], root, env)
    _run(["git", "config", "user.name", "Test"], root, env)
    _run(["git", "config", "user.email", "test@example.com"], root, env)
    _run(["git", "config", "commit.gpgsign", "false"], root, env)
    (root / ".pre-commit-config.yaml").write_text(_local_config())
    (root / "pkg").mkdir()
    (root / "pkg" / "clean.py").write_text(CLEAN)
    _run(["git", "add", "-A"], root, env)
    _run(["git", "commit", "-q", "-m", "init", "--no-verify"], root, env)
    return root, env


def _pre_commit(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return _run([str(PRE_COMMIT), "run", *args], root, env, check=False)


def test_check_hook_passes_on_clean_and_fails_on_broken(repo: tuple[Path, dict[str, str]]) -> None:
    root, env = repo
    clean = _pre_commit(root, env, "ssot-codemod-check", "--all-files")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "Passed" in clean.stdout

    (root / "tests").mkdir()
    (root / "tests" / "test_db.py").write_text(BROKEN)
    _run(["git", "add", "-A"], root, env)
    broken = _pre_commit(root, env, "ssot-codemod-check", "--all-files")
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "Failed" in broken.stdout
    assert "tests/test_db.py:8:9: SSC001" in broken.stdout
    assert (root / "tests" / "test_db.py").read_text() == BROKEN  # check never writes


def test_apply_hook_rewrites_then_passes(repo: tuple[Path, dict[str, str]]) -> None:
    root, env = repo
    (root / "tests").mkdir()
    (root / "tests" / "test_db.py").write_text(BROKEN)
    _run(["git", "add", "-A"], root, env)

    first = _pre_commit(root, env, "ssot-codemod", "--all-files")
    assert first.returncode == 1, first.stdout + first.stderr
    assert "files were modified by this hook" in first.stdout
    rewritten = (root / "tests" / "test_db.py").read_text()
    assert "run_coroutine_sync(self.asyncSetUp(), loop)" in rewritten
    assert (root / "tests" / "test_db.py.backup").read_text() == BROKEN

    _run(["git", "add", "tests/test_db.py"], root, env)
    second = _pre_commit(root, env, "--all-files")  # both hooks
    assert second.returncode == 0, second.stdout + second.stderr


def test_git_commit_runs_the_hook_without_a_terminal(repo: tuple[Path, dict[str, str]]) -> None:
    root, env = repo
    _run([str(PRE_COMMIT), "install"], root, env)
    (root / "test_db.py").write_text(BROKEN)
    _run(["git", "add", "test_db.py"], root, env)
    refused = _run(["git", "commit", "-q", "-m", "add broken"], root, env, check=False)
    assert refused.returncode != 0
    assert "SSC001" in refused.stdout + refused.stderr

    (root / "test_db.py").write_text(CLEAN)
    _run(["git", "add", "test_db.py"], root, env)
    _run(["git", "commit", "-q", "-m", "add clean"], root, env)


@pytest.mark.skipif(
    not os.environ.get("SSOT_NETWORK_TESTS"),
    reason="installs the hook repository with pip (needs a package index): "
    "set SSOT_NETWORK_TESTS=1",
)
def test_hooks_installed_from_the_repository(tmp_path: Path) -> None:
    """`repo: <this repository>` as users configure it; pre-commit pip-installs the package."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    env = _env(tmp_path)
    hook_repo = tmp_path / "hook-repo"
    shutil.copytree(
        ROOT,
        hook_repo,
        ignore=shutil.ignore_patterns(
            ".git", ".venv*", "__pycache__", "*.egg-info", "build", "dist", ".*_cache"
        ),
    )
    _run(["git", "init", "-q"], hook_repo, env)
    _run(["git", "add", "-A"], hook_repo, env)
    _run(
        ["git", "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-q", "-m", "x"],
        hook_repo,
        env,
    )
    project = tmp_path / "project"
    project.mkdir()
    _run(["git", "init", "-q"], project, env)
    (project / "test_db.py").write_text(BROKEN)
    _run(["git", "add", "-A"], project, env)
    done = _run(
        [str(PRE_COMMIT), "try-repo", str(hook_repo), "ssot-codemod-check", "--all-files"],
        project,
        env,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "SSC001" in done.stdout
