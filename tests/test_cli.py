"""The command line as users drive it: exit codes, stdout/stderr split, formats, files on disk."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import Result
from clirunner import separate_stderr_runner
from samples import SAMPLE

from ssot_codemod import __version__
from ssot_codemod.cli import cli

CLEAN = "def add(a, b):\n    return a + b\n"
BROKEN = "def setUp(self:\n    loop.run_until_complete(self.asyncSetUp())\n"

FINDING_LINE = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<code>SSC\d{3}) .+$")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "proj"
    write(root / "tests" / "test_a.py", SAMPLE)
    write(root / "tests" / "test_clean.py", CLEAN)
    write(root / "pkg" / "b.py", SAMPLE.replace("Base", "Other"))
    monkeypatch.chdir(root)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("CI", raising=False)
    return root


def run_cli(*args: str) -> Result:
    return separate_stderr_runner().invoke(cli, list(args), catch_exceptions=False)


# --------------------------------------------------------------------------------------------
# check


def test_check_findings_exit_1_and_stdout_is_data(tree: Path) -> None:
    result = run_cli("check", "-j", "1")
    assert result.exit_code == 1, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert all(FINDING_LINE.match(line) for line in lines), lines
    assert lines[0].startswith("pkg/b.py:7:9: SSC001 ")
    assert lines[1].startswith("tests/test_a.py:7:9: SSC001 ")
    assert "Scanned 3 files (2 parsed)" in result.stderr
    assert "SSC001×2" in result.stderr


def test_check_clean_exit_0(tree: Path) -> None:
    result = run_cli("check", "tests/test_clean.py")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "Scanned 1 file (0 parsed)" in result.stderr


@pytest.mark.parametrize(
    "extra", [[], ["--unsafe-fixes"], ["--output-format", "sarif"], ["-j", "2"]]
)
def test_check_never_writes(tree: Path, extra: list[str]) -> None:
    write(tree / "tests" / "test_broken.py", BROKEN)
    before = snapshot(tree.parent)
    result = run_cli("check", *extra, ".")
    assert result.exit_code == 2
    after = snapshot(tree.parent)
    # ... except its own results cache (test_cache.py: --no-cache writes nothing at all)
    assert {k: v for k, v in after.items() if "/.ssot_codemod_cache/" not in k} == before


def test_quiet_suppresses_summary_not_data_or_errors(tree: Path) -> None:
    write(tree / "tests" / "test_broken.py", BROKEN)
    result = run_cli("check", "--quiet")
    assert result.exit_code == 2
    assert len(result.stdout.splitlines()) == 2
    assert "Scanned" not in result.stderr
    assert result.stderr.startswith("error: tests/test_broken.py: ")


def test_syntax_error_file_is_one_error_line_others_still_processed(tree: Path) -> None:
    write(tree / "tests" / "test_broken.py", BROKEN)
    result = run_cli("check")
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert errors[0].startswith("error: tests/test_broken.py: ")
    assert len(result.stdout.splitlines()) == 2  # both good files still reported
    assert "1 failed" in result.stderr

    applied = run_cli("apply")
    assert applied.exit_code == 2
    assert (tree / "tests" / "test_broken.py").read_text() == BROKEN
    assert (tree / "tests" / "test_a.py.backup").exists()
    assert "run_coroutine_sync" in (tree / "pkg" / "b.py").read_text()


def test_missing_path_exit_2(tree: Path) -> None:
    result = run_cli("check", "nope.py", "tests")
    assert result.exit_code == 2
    assert "error: nope.py: path does not exist" in result.stderr
    assert len(result.stdout.splitlines()) == 1


# --------------------------------------------------------------------------------------------
# output formats


def test_json_format(tree: Path) -> None:
    result = run_cli("check", "--output-format", "json")
    assert result.exit_code == 1
    items = json.loads(result.stdout)
    assert [item["path"] for item in items] == ["pkg/b.py", "tests/test_a.py"]
    for item in items:
        assert list(item) == [
            "path",
            "line",
            "column",
            "end_line",
            "end_column",
            "code",
            "message",
            "fix",
        ]
        assert item["code"] == "SSC001" and item["fix"] == "safe"
        assert (item["line"], item["column"]) == (7, 9)


def test_json_format_without_findings_is_empty_list(tree: Path) -> None:
    result = run_cli("check", "--output-format", "json", "tests/test_clean.py")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []


def test_github_format(tree: Path) -> None:
    result = run_cli("check", "--output-format", "github", "tests")
    assert result.exit_code == 1
    (line,) = result.stdout.splitlines()
    assert re.match(
        r"^::error file=tests/test_a\.py,line=7,col=9,endLine=\d+,endColumn=\d+,"
        r"title=SSC001::SSC001 ",
        line,
    ), line


def test_sarif_format_validates(tree: Path) -> None:
    # sarif-pydantic supports Python 3.10+; the main run (3.11) always validates.
    Sarif = pytest.importorskip("sarif_pydantic").Sarif

    result = run_cli("check", "--output-format", "sarif")
    assert result.exit_code == 1
    raw = json.loads(result.stdout)
    assert raw["$schema"].endswith("sarif-2.1.0.json")
    sarif = Sarif.model_validate(raw)
    run = sarif.runs[0]
    assert run.tool.driver.name == "ssot-codemod"
    assert run.tool.driver.version == __version__
    assert run.tool.driver.information_uri
    rules = run.tool.driver.rules or []
    assert "SSC001" in {rule.id for rule in rules}
    assert all(rule.short_description and rule.full_description and rule.help for rule in rules)
    uris = []
    for res in run.results or []:
        assert res.rule_id == "SSC001"
        assert res.message.text
        location = (res.locations or [])[0].physical_location
        assert location is not None and location.artifact_location is not None
        assert location.region is not None and location.region.start_line == 7
        uris.append(location.artifact_location.uri)
    assert uris == ["pkg/b.py", "tests/test_a.py"]


# --------------------------------------------------------------------------------------------
# apply / dry-run / revert


def test_dry_run_writes_nothing_and_prints_diff(tree: Path) -> None:
    before = snapshot(tree.parent)
    result = run_cli("apply", "--dry-run", "tests")
    assert result.exit_code == 1
    assert snapshot(tree.parent) == before
    assert not list(tree.rglob("*.backup"))
    out = result.stdout
    assert out.startswith("--- a/tests/test_a.py\n+++ b/tests/test_a.py\n@@ ")
    assert "-        loop.run_until_complete(self.asyncSetUp())\n" in out
    assert "+        run_coroutine_sync(self.asyncSetUp(), loop)\n" in out
    assert "\x1b[" not in out  # not a terminal: plain
    assert "would change" in result.stderr


def test_dry_run_nothing_to_do_exit_0(tree: Path) -> None:
    result = run_cli("apply", "--dry-run", "tests/test_clean.py")
    assert result.exit_code == 0
    assert result.stdout == ""


def test_apply_writes_backups_and_is_idempotent(tree: Path) -> None:
    result = run_cli("apply")
    assert result.exit_code == 0, result.stderr
    assert "2 changed" in result.stderr
    for rel in ("tests/test_a.py", "pkg/b.py"):
        assert (tree / (rel + ".backup")).exists()
        assert "run_coroutine_sync(self.asyncSetUp(), loop)" in (tree / rel).read_text()
    assert (tree / "tests" / "test_a.py.backup").read_bytes() == SAMPLE.encode()
    assert not (tree / "tests" / "test_clean.py.backup").exists()

    before = snapshot(tree.parent)
    again = run_cli("apply")
    assert again.exit_code == 0
    assert "0 changed" in again.stderr
    assert snapshot(tree.parent) == before  # backups (and everything else) untouched


def test_revert_is_byte_exact_and_removes_backups(tree: Path) -> None:
    crlf = SAMPLE.replace("\n", "\r\n").replace("Base", "Crlf")
    (tree / "tests" / "test_crlf.py").write_bytes(crlf.encode())
    before = {p: p.read_bytes() for p in tree.rglob("*.py")}
    assert run_cli("apply").exit_code == 0
    assert (tree / "tests" / "test_crlf.py").read_bytes() != crlf.encode()
    assert b"\r\n" in (tree / "tests" / "test_crlf.py").read_bytes()

    dry = run_cli("revert", "--dry-run")
    assert dry.exit_code == 0
    assert "would restore tests/test_crlf.py" in dry.stdout
    assert list(tree.rglob("*.backup"))

    result = run_cli("revert")
    assert result.exit_code == 0, result.stderr
    assert {p: p.read_bytes() for p in tree.rglob("*.py")} == before
    assert not list(tree.rglob("*.backup"))


def test_revert_refuses_edited_file_then_force(tree: Path) -> None:
    assert run_cli("apply").exit_code == 0
    target = tree / "tests" / "test_a.py"
    target.write_text(target.read_text() + "# my edit\n")
    result = run_cli("revert")
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: tests/test_a.py: ")
    assert "--force" in errors[0]
    assert (tree / "tests" / "test_a.py.backup").exists()
    assert (tree / "pkg" / "b.py").read_text() == SAMPLE.replace("Base", "Other")

    forced = run_cli("revert", "--force", "tests")
    assert forced.exit_code == 0
    assert target.read_text() == SAMPLE
    assert not list(tree.rglob("*.backup"))


ASYNC_TEST = """\
import unittest


class T(unittest.TestCase):
    async def test_x(self):
        pass
"""


def test_apply_prints_what_it_left_and_hints_unsafe_fixes(tree: Path) -> None:
    target = write(tree / "tests" / "test_async.py", ASYNC_TEST)
    result = run_cli("apply", "tests/test_async.py")
    assert result.exit_code == 0
    (line,) = result.stdout.splitlines()
    assert line.startswith("tests/test_async.py:5:") and " SSC004 [unsafe-fix] " in line
    assert "(1 fixable with --unsafe-fixes)" in result.stderr
    assert target.read_text() == ASYNC_TEST

    unsafe = run_cli("apply", "--unsafe-fixes", "tests/test_async.py")
    assert unsafe.exit_code == 0
    assert unsafe.stdout == ""
    assert "1 changed" in unsafe.stderr
    assert target.read_text() != ASYNC_TEST


# --------------------------------------------------------------------------------------------
# rule selection and configuration


def test_select_and_ignore(tree: Path) -> None:
    assert run_cli("check", "--select", "SSC001").exit_code == 1
    assert run_cli("check", "--select", "SSC00").exit_code == 1
    ignored = run_cli("check", "--ignore", "SSC001")
    assert ignored.exit_code == 0
    assert ignored.stdout == ""
    assert run_cli("check", "--select", "SSC002,SSC003").exit_code == 0
    assert run_cli("check", "--select", "ssc002", "--select", "SSC001").exit_code == 1


@pytest.mark.parametrize(
    "args", [["check", "--select", "XYZ123"], ["apply", "--ignore", "SSC9"], ["rules", "SSC999"]]
)
def test_unknown_code_is_usage_error(tree: Path, args: list[str]) -> None:
    before = snapshot(tree.parent)
    result = run_cli(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("error: ")
    assert snapshot(tree.parent) == before


def test_config_from_pyproject(tree: Path) -> None:
    write(tree / "pyproject.toml", '[tool.ssot-codemod]\nignore = ["SSC001"]\n')
    assert run_cli("check", "tests").exit_code == 0
    # CLI flags win over the configuration.
    assert run_cli("check", "--ignore", "SSC002", "tests").exit_code == 1


def test_config_exclude(tree: Path) -> None:
    write(tree / "pyproject.toml", '[tool.ssot-codemod]\nexclude = ["pkg/"]\n')
    result = run_cli("check")
    assert result.exit_code == 1
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == ["tests/test_a.py"]


def test_config_unknown_key_is_usage_error(tree: Path) -> None:
    write(tree / "pyproject.toml", '[tool.ssot-codemod]\nselct = ["SSC001"]\n')
    result = run_cli("check")
    assert result.exit_code == 2
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert "selct" in line and "pyproject.toml" in line


def test_bad_helper_module_is_usage_error(tree: Path) -> None:
    result = run_cli("apply", "--helper-module", "not-a module")
    assert result.exit_code == 2
    assert not list(tree.rglob("*.backup"))


# --------------------------------------------------------------------------------------------
# rules, help, version


def test_rules_table(tree: Path) -> None:
    result = run_cli("rules")
    assert result.exit_code == 0
    assert "SSC001" in result.stdout and "async-hook-bridge" in result.stdout
    assert "safe" in result.stdout


def test_rules_explain(tree: Path) -> None:
    result = run_cli("rules", "ssc001")
    assert result.exit_code == 0
    for heading in ("What it does", "Why is this bad?", "Example", "Use instead", "Fix safety"):
        assert f"## {heading}" in result.stdout
    assert "run_until_complete" in result.stdout


@pytest.mark.parametrize("command", [[], ["check"], ["apply"], ["revert"], ["rules"]])
def test_help_has_examples(command: list[str]) -> None:
    result = run_cli(*command, "--help")
    assert result.exit_code == 0
    assert "Examples:" in result.stdout


def test_version() -> None:
    result = run_cli("--version")
    assert result.exit_code == 0
    assert __version__ in result.stdout


# --------------------------------------------------------------------------------------------
# the installed console script and python -m, in real subprocesses


def console_script() -> str:
    found = shutil.which("ssot-codemod")
    if found is None:
        candidate = Path(sys.executable).parent / "ssot-codemod"
        if not candidate.exists():
            pytest.skip("ssot-codemod console script not installed")
        found = str(candidate)
    return found


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    env.pop("CI", None)
    return env


def test_console_script_check_and_apply(tree: Path) -> None:
    script = console_script()
    check = subprocess.run(
        [script, "check", "."],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert check.returncode == 1, check.stderr
    assert len(check.stdout.splitlines()) == 2
    assert "Scanned 3 files" in check.stderr

    dry = subprocess.run(
        [script, "apply", "--dry-run", "tests"],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert dry.returncode == 1
    assert dry.stdout.startswith("--- a/tests/test_a.py\n")
    assert "\x1b[" not in dry.stdout + dry.stderr  # piped: no colour, no progress bar

    apply = subprocess.run(
        [script, "apply", "-j", "2", "."],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert apply.returncode == 0, apply.stderr
    assert (tree / "tests" / "test_a.py.backup").read_text() == SAMPLE


def test_console_script_usage_error_and_python_m(tree: Path) -> None:
    script = console_script()
    bad = subprocess.run(
        [script, "check", "--select", "NOPE1"],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert bad.stderr.startswith("error: ") and len(bad.stderr.strip().splitlines()) == 1

    version = subprocess.run(
        [sys.executable, "-m", "ssot_codemod", "--version"],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=120,
    )
    assert version.returncode == 0
    assert __version__ in version.stdout


# --------------------------------------------------------------------------------------------
# configuration: every key, read through the CLI


def test_config_select(tree: Path) -> None:
    write(tree / "pyproject.toml", '[tool.ssot-codemod]\nselect = ["SSC003"]\n')
    assert run_cli("check").exit_code == 0
    assert run_cli("check", "--select", "SSC001").exit_code == 1  # the flag wins


def test_config_extend_exclude_alongside_exclude(tree: Path) -> None:
    write(tree / "more" / "m.py", SAMPLE)
    write(
        tree / "pyproject.toml",
        '[tool.ssot-codemod]\nexclude = ["pkg/"]\nextend-exclude = ["more/"]\n',
    )
    result = run_cli("check")
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == ["tests/test_a.py"]
    only_extend = '[tool.ssot-codemod]\nextend-exclude = ["pkg/", "more/"]\n'
    write(tree / "pyproject.toml", only_extend)
    result = run_cli("check", "--exclude", "tests/")
    assert result.exit_code == 0 and result.stdout == ""
    # A file named explicitly is still processed.
    assert run_cli("check", "more/m.py").exit_code == 1


def test_config_unsafe_fixes(tree: Path) -> None:
    target = write(tree / "tests" / "test_async.py", ASYNC_TEST)
    write(tree / "pyproject.toml", "[tool.ssot-codemod]\nunsafe-fixes = true\n")
    assert run_cli("apply", "--no-unsafe-fixes", "tests/test_async.py").exit_code == 0
    assert target.read_text() == ASYNC_TEST  # the flag wins
    assert run_cli("apply", "tests/test_async.py").exit_code == 0
    assert target.read_text() != ASYNC_TEST


def test_config_helper_module(tree: Path) -> None:
    write(tree / "pyproject.toml", '[tool.ssot-codemod]\nhelper-module = "shared.compat"\n')
    result = run_cli("apply", "tests")
    assert result.exit_code == 0, result.stderr
    assert (
        "from shared.compat import run_coroutine_sync" in (tree / "tests" / "test_a.py").read_text()
    )
    assert "def run_coroutine_sync(" in (tree / "shared" / "compat.py").read_text()
    # The flag wins over the configuration.
    flag = run_cli("apply", "--helper-module", "other.compat", "pkg")
    assert flag.exit_code == 0, flag.stderr
    assert "from other.compat import" in (tree / "pkg" / "b.py").read_text()
    assert (tree / "other" / "compat.py").is_file()


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("select = 1", "'select' must be a list of strings"),
        ('ignore = "SSC001"', "'ignore' must be a list of strings"),
        ("exclude = [1]", "'exclude' must be a list of strings"),
        ('extend-exclude = "x/"', "'extend-exclude' must be a list of strings"),
        ("unsafe-fixes = 1", "'unsafe-fixes' must be true or false"),
        ("helper-module = 3", "'helper-module' must be a dotted module name"),
        ('helper_module = "a.b"', "unknown key 'helper_module'"),
        ('select = ["NOPE9"]', "NOPE9"),
    ],
)
def test_config_errors_are_usage_errors(tree: Path, body: str, needle: str) -> None:
    write(tree / "pyproject.toml", f"[tool.ssot-codemod]\n{body}\n")
    result = run_cli("apply")
    assert result.exit_code == 2
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert needle in line
    assert not list(tree.rglob("*.backup"))


# --------------------------------------------------------------------------------------------
# shell niceties: completion, colour


def _script_env(**extra: str) -> dict[str, str]:
    env = subprocess_env()
    env.update(extra)
    return env


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_shell_completion_script(shell: str) -> None:
    if shell == "bash" and shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    done = subprocess.run(
        [console_script()],
        capture_output=True,
        text=True,
        env=_script_env(_SSOT_CODEMOD_COMPLETE=f"{shell}_source"),
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "_SSOT_CODEMOD_COMPLETE" in done.stdout
    assert "ssot-codemod" in done.stdout


def test_shell_completion_completes_commands_and_options() -> None:
    commands = subprocess.run(
        [console_script()],
        capture_output=True,
        text=True,
        env=_script_env(
            _SSOT_CODEMOD_COMPLETE="bash_complete", COMP_WORDS="ssot-codemod ch", COMP_CWORD="1"
        ),
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert commands.returncode == 0, commands.stderr
    assert "plain,check" in commands.stdout.splitlines()
    options = subprocess.run(
        [console_script()],
        capture_output=True,
        text=True,
        env=_script_env(
            _SSOT_CODEMOD_COMPLETE="bash_complete",
            COMP_WORDS="ssot-codemod apply --ver",
            COMP_CWORD="2",
        ),
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert {"plain,--verify", "plain,--verbose"} <= set(options.stdout.splitlines())


def _run_on_a_terminal(args: list[str], env: dict[str, str], cwd: Path) -> str:
    """Run the console script with stdout on a pseudo-terminal; return what it printed there."""
    pty = pytest.importorskip("pty")
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [console_script(), *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=slave,
            stderr=subprocess.DEVNULL,
        )
    finally:
        os.close(slave)
    chunks: list[bytes] = []
    try:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the terminal's other side is closed
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(master)
        proc.wait(timeout=120)
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_colour_on_a_terminal_unless_no_color(tree: Path) -> None:
    args = ["apply", "--dry-run", "tests"]
    coloured = _run_on_a_terminal(args, subprocess_env(), tree)
    assert "\x1b[" in coloured and "run_coroutine_sync" in coloured
    for env, extra in [(_script_env(NO_COLOR="1"), []), (subprocess_env(), ["--no-color"])]:
        plain = _run_on_a_terminal([*args, *extra], env, tree)
        assert "\x1b[" not in plain
        assert "+++ b/tests/test_a.py" in plain


def test_no_color_rules_table(tree: Path) -> None:
    done = subprocess.run(
        [console_script(), "rules"],
        capture_output=True,
        text=True,
        env=_script_env(NO_COLOR="1"),
        timeout=120,
    )
    assert done.returncode == 0 and "\x1b[" not in done.stdout
