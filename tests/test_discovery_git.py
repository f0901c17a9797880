"""Git's rule for tracked files, ``--force-exclude``, and the CLI and configuration for both."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from clirunner import separate_stderr_runner
from samples import SAMPLE

from ssot_codemod.cli import cli
from ssot_codemod.config import ConfigError, load_config
from ssot_codemod.files import Discovery, discover

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def touch(path: Path, data: str = "x = 1\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data)
    return path


def rel(result: Discovery, root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in result.files]


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, timeout=60)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    # celery's pattern: it hides a migration that is nevertheless tracked
    touch(root / ".gitignore", "[0-9]*\ngenerated/\n")
    touch(root / "app" / "migrations" / "0001_initial.py")
    touch(root / "app" / "migrations" / "0002_untracked.py")
    touch(root / "app" / "models.py")
    touch(root / "generated" / "kept.py")
    touch(root / "generated" / "scratch.py")
    git(root, "add", "app/models.py", ".gitignore")
    git(root, "add", "-f", "app/migrations/0001_initial.py", "generated/kept.py")
    return root


@needs_git
def test_tracked_files_are_never_gitignored(repo: Path) -> None:
    assert rel(discover([repo]), repo) == [
        "app/migrations/0001_initial.py",
        "app/models.py",
        "generated/kept.py",
    ]


@needs_git
def test_tracked_rule_holds_for_a_walked_subdirectory(repo: Path) -> None:
    migrations = repo / "app" / "migrations"
    assert rel(discover([migrations]), migrations) == ["0001_initial.py"]


@needs_git
def test_exclude_patterns_still_apply_to_tracked_files(repo: Path) -> None:
    result = discover([repo], exclude=["migrations/"])
    assert rel(result, repo) == ["app/models.py", "generated/kept.py"]


def test_without_a_usable_git_gitignore_decides(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()  # not a repository git can read
    touch(tmp_path / ".gitignore", "[0-9]*\n")
    touch(tmp_path / "0001_initial.py")
    touch(tmp_path / "models.py")
    assert rel(discover([tmp_path]), tmp_path) == ["models.py"]


def test_force_exclude_applies_excludes_to_explicit_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    legacy = touch(tmp_path / "legacy" / "old.py")
    new = touch(tmp_path / "src" / "new.py")
    backup = touch(tmp_path / "src" / "x.py.backup")
    files = [Path("legacy/old.py"), Path("src/new.py"), Path("src/x.py.backup")]
    assert discover(files, exclude=["legacy/"]).files == tuple(files)
    forced = discover(files, exclude=["legacy/"], force_exclude=True)
    assert forced.files == (Path("src/new.py"),)  # default excludes (*.backup) apply too
    # relative to the configuration's directory as well, for absolute paths
    forced = discover(
        [legacy, new, backup], exclude=["/legacy/"], force_exclude=True, exclude_base=tmp_path
    )
    assert forced.files == (new,)


def test_force_exclude_flag_and_config_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    touch(tmp_path / "legacy" / "test_old.py", SAMPLE)
    runner = separate_stderr_runner()
    touch(tmp_path / "pyproject.toml", '[tool.ssot-codemod]\nexclude = ["legacy/"]\n')
    named = ["check", "legacy/test_old.py"]
    assert runner.invoke(cli, named).exit_code == 1  # named explicitly: processed
    assert runner.invoke(cli, [*named, "--force-exclude"]).exit_code == 0
    touch(
        tmp_path / "pyproject.toml",
        '[tool.ssot-codemod]\nexclude = ["legacy/"]\nforce-exclude = true\n',
    )
    assert load_config(tmp_path)[0]["force-exclude"] is True
    assert runner.invoke(cli, named).exit_code == 0
    assert runner.invoke(cli, [*named, "--no-force-exclude"]).exit_code == 1
    touch(tmp_path / "pyproject.toml", '[tool.ssot-codemod]\nforce-exclude = "yes"\n')
    with pytest.raises(ConfigError, match="'force-exclude' must be true or false"):
        load_config(tmp_path)


def test_check_help_offers_no_apply_only_option() -> None:
    runner = separate_stderr_runner()
    check_help = runner.invoke(cli, ["check", "--help"]).output
    apply_help = runner.invoke(cli, ["apply", "--help"]).output
    for option in ("--helper-module", "--dry-run", "--verify"):
        assert option not in check_help.split("Examples:")[0]
        assert option in apply_help
    assert "--force-exclude" in check_help and "--force-exclude" in apply_help


def test_unknown_rule_lists_known_codes_in_order() -> None:
    result = separate_stderr_runner().invoke(cli, ["rules", "SSC999"])
    assert result.exit_code == 2
    assert "(known: SSC001, SSC002, SSC003, SSC004, SSC005)" in result.stderr
