"""``file-timeout`` in ``[tool.ssot-codemod]`` and ``--file-timeout``: read, validated, applied."""

from __future__ import annotations

from pathlib import Path

import pytest
from clirunner import separate_stderr_runner
from test_hang import SMALL, _big_module

from ssot_codemod.api import DEFAULT_FILE_TIMEOUT, Options
from ssot_codemod.cli import cli
from ssot_codemod.config import ConfigError, load_config


def _config(tmp_path: Path, body: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(f"[tool.ssot-codemod]\n{body}\n")
    return tmp_path


@pytest.mark.parametrize(
    ("body", "value"), [("file-timeout = 2.5", 2.5), ("file-timeout = 0", 0.0)]
)
def test_file_timeout_is_read(tmp_path: Path, body: str, value: float) -> None:
    config, _ = load_config(_config(tmp_path, body))
    assert config == {"file-timeout": value}


@pytest.mark.parametrize("value", ["true", '"10"', "-1", "[1]", "nan"])
def test_file_timeout_must_be_seconds(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="'file-timeout' must be a number of seconds"):
        load_config(_config(tmp_path, f"file-timeout = {value}"))


def test_the_default_budget_is_sensible() -> None:
    assert Options().file_timeout == DEFAULT_FILE_TIMEOUT == 120.0


def test_negative_flag_is_a_usage_error(tmp_path: Path) -> None:
    result = separate_stderr_runner().invoke(cli, ["check", "--file-timeout", "-1", str(tmp_path)])
    assert result.exit_code == 2


@pytest.mark.timeout(240)
def test_config_budget_applies_and_the_flag_wins(tmp_path: Path) -> None:
    root = _config(tmp_path, "file-timeout = 0.05")
    (root / "big.py").write_bytes(_big_module(500))  # LibCST needs well over 0.05 s for it
    (root / "small.py").write_bytes(SMALL)
    runner = separate_stderr_runner()
    limited = runner.invoke(cli, ["check", "-j", "1", str(root)])
    assert limited.exit_code == 2, limited.stderr
    assert "big.py: gave up after 0.05 s" in limited.stderr
    assert "small.py:7:9: SSC001" in limited.stdout
    unlimited = runner.invoke(cli, ["check", "-j", "1", "--file-timeout", "0", str(root)])
    assert unlimited.exit_code == 1, unlimited.stderr
    assert "gave up" not in unlimited.stderr
    assert "big.py:" in unlimited.stdout


def test_all_repos_reads_a_repository_config_as_the_cli_does(tmp_path: Path) -> None:
    """One merge of configuration and flags: the all-repos fixer used to drop ``src``,
    ``file-timeout`` and ``force-exclude`` that the CLI honours."""
    from ssot_codemod.all_repos_fixer import Flags, repo_options
    from ssot_codemod.cli import _build_options

    repo = tmp_path / "repo"
    (repo / "tests").mkdir(parents=True)
    (repo / "pyproject.toml").write_text(
        "[tool.ssot-codemod]\n"
        'src = ["lib"]\n'
        "file-timeout = 7\n"
        "force-exclude = true\n"
        'exclude = ["gen/"]\n'
        'extend-exclude = ["vendored/"]\n'
        'ignore = ["ssc005"]\n'
        "unsafe-fixes = true\n"
        'helper-module = "lib.compat"\n'
    )
    ours = repo_options(repo, Flags())
    cli_options = _build_options(
        [repo / "tests"],
        select=(),
        ignore=(),
        exclude=(),
        unsafe_fixes=None,
        helper_module=None,
        jobs=None,
        verbose=False,
    )
    assert ours == cli_options
    assert ours.src == (repo / "lib",)
    assert (ours.file_timeout, ours.force_exclude) == (7, True)
    assert ours.exclude == ("gen/", "vendored/")
    assert (ours.ignore, ours.unsafe_fixes, ours.helper_module) == (("SSC005",), True, "lib.compat")
    # flags win, as on the command line
    flagged = repo_options(repo, Flags(select=("SSC001",), unsafe_fixes=False, jobs=1))
    assert (flagged.select, flagged.unsafe_fixes, flagged.jobs) == (("SSC001",), False, 1)
