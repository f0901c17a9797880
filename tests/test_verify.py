"""``apply --verify CMD``: keep the rewrite only if CMD passes; otherwise roll it back."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

import pytest
from click.testing import Result
from clirunner import separate_stderr_runner

from ssot_codemod.api import Options, apply_paths, rollback, run_verify, split_command
from ssot_codemod.cli import cli

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "ssot_project"
PY = shlex.quote(sys.executable)


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and ".pytest_cache" not in p.parts
    }


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "ssot_project"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("__pycache__", "*.backup"))
    monkeypatch.chdir(root)
    for name in list(os.environ):
        if name.startswith("PYTEST_"):
            monkeypatch.delenv(name)
    monkeypatch.delenv("NO_COLOR", raising=False)
    return root


def run_cli(*args: str) -> Result:
    return separate_stderr_runner().invoke(cli, list(args), catch_exceptions=False)


def leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith((".backup", ".journal", ".ssot-tmp"))]


def test_verify_passes_and_keeps_the_changes(example: Path) -> None:
    before = snapshot(example)
    result = run_cli("apply", "--verify", f"{PY} -m pytest -q -p no:cacheprovider")
    assert result.exit_code == 0, result.stderr
    assert f"verified: {sys.executable} -m pytest -q -p no:cacheprovider passed" in result.stderr
    assert snapshot(example) != before
    assert leftovers(example)  # the backups stay: revert still works
    assert run_cli("revert").exit_code == 0
    assert snapshot(example) == before


def test_verify_fails_and_everything_is_rolled_back(example: Path) -> None:
    before = snapshot(example)
    result = run_cli("apply", "--verify", f'{PY} -c "import sys; sys.exit(3)"')
    assert result.exit_code == 1
    assert "exited with status 3" in result.stderr
    assert "rolled back 1 file" in result.stderr
    assert snapshot(example) == before
    assert leftovers(example) == []


def test_failure_prints_the_last_20_lines_of_output(example: Path) -> None:
    before = snapshot(example)
    script = "import sys\nfor i in range(50): print('line', i)\nsys.exit(1)"
    result = run_cli("apply", "--verify", f"{PY} -c {shlex.quote(script)}")
    assert result.exit_code == 1
    assert "line 49" in result.stderr and "line 30" in result.stderr
    assert "line 29\n" not in result.stderr  # only the last 20 lines
    assert result.stdout.count("line ") == 0  # the command's output is not data
    assert snapshot(example) == before


def test_command_not_found_rolls_back(example: Path) -> None:
    before = snapshot(example)
    result = run_cli("apply", "--verify", "definitely-not-a-command-ssot --x")
    assert result.exit_code == 1
    assert "command not found: definitely-not-a-command-ssot" in result.stderr
    assert snapshot(example) == before and leftovers(example) == []


def test_no_shell_is_involved(example: Path) -> None:
    # ";", "$(...)" and ">" reach the command as plain arguments; nothing else runs.
    command = f"{PY} -c 'import sys; sys.exit(0)' ; touch pwned $(touch pwned2) > pwned3"
    result = run_cli("apply", "--verify", command)
    assert result.exit_code == 0, result.stderr
    assert not any((example / name).exists() for name in ("pwned", "pwned2", "pwned3"))


def test_verify_runs_in_the_current_directory_with_the_environment(
    example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSOT_VERIFY_PROBE", "yes")
    script = (
        "import os, sys; "
        "sys.exit(0 if os.environ.get('SSOT_VERIFY_PROBE') == 'yes' "
        "and os.path.isfile('pytest.ini') else 5)"
    )
    result = run_cli("apply", "--verify", f"{PY} -c {shlex.quote(script)}", "tests")
    assert result.exit_code == 0, result.stderr


def test_nothing_changed_means_nothing_to_verify(example: Path) -> None:
    assert run_cli("apply").exit_code == 0
    result = run_cli("apply", "--verify", f'{PY} -c "import sys; sys.exit(3)"')
    assert result.exit_code == 0
    assert "--verify command not run" in result.stderr


def test_rollback_removes_a_created_helper_module(example: Path) -> None:
    before = snapshot(example)
    result = run_cli(
        "apply", "--helper-module", "shared.compat", "--verify", f'{PY} -c "raise SystemExit(1)"'
    )
    assert result.exit_code == 1
    assert "rolled back 2 files" in result.stderr
    assert snapshot(example) == before
    assert not (example / "shared").exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--dry-run", "--verify", "true"], "--dry-run"),
        (["--verify", "pytest 'unbalanced"], "--verify"),
        (["--verify", "   "], "--verify"),
    ],
)
def test_usage_errors(example: Path, args: list[str], needle: str) -> None:
    before = snapshot(example)
    result = run_cli("apply", *args)
    assert result.exit_code == 2
    assert needle in result.stderr
    assert snapshot(example) == before


def test_api_run_verify_and_rollback(example: Path) -> None:
    assert split_command("pytest -k 'a and b'") == ["pytest", "-k", "a and b"]
    ok = run_verify(f"{PY} -c \"print('hi')\"")
    assert ok.passed and ok.output.strip() == "hi"
    bad = run_verify(f"{PY} -c \"import sys; sys.stderr.write('boom'); sys.exit(4)\"")
    assert not bad.passed and bad.returncode == 4 and "boom" in bad.output

    before = snapshot(example)
    result = apply_paths([example], Options(jobs=1))
    assert result.count("changed") == 1
    undone = rollback(result)
    assert undone.count("reverted") == 1 and not undone.has_errors
    assert snapshot(example) == before
