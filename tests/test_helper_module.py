"""``--helper-module pkg.mod``: one compatibility layer per codebase, created by apply."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import Result
from clirunner import separate_stderr_runner

from ssot_codemod.api import Options, apply_paths
from ssot_codemod.cli import cli
from ssot_codemod.helper_module import (
    defines_helper,
    locate_helper_module,
    new_module_text,
    plan_helper_module,
    project_root,
)
from ssot_codemod.helper_source import HELPER_SOURCE

# A bridge that only works while no loop runs; test_in_loop calls setUp from a running loop,
# which the original code cannot survive and the rewritten code can.
TEST_MODULE = """\
import asyncio
import unittest


class {name}(unittest.TestCase):
    def setUp(self):
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(self.asyncSetUp())

    async def asyncSetUp(self):
        self.value = 42

    def tearDown(self):
        self.loop.close()

    def test_value(self):
        self.assertEqual(self.value, 42)

    def test_in_loop(self):
        async def inner():
            self.setUp()
            self.tearDown()
            return self.value

        self.assertEqual(asyncio.run(inner()), 42)
"""

IMPORT_LINE = "from pkg.compat import run_coroutine_sync"


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "proj"
    write(root / "pkg" / "__init__.py", "")
    write(root / "pkg" / "core.py", "def answer():\n    return 42\n")
    write(root / "tests" / "__init__.py", "")
    write(root / "tests" / "test_one.py", TEST_MODULE.format(name="TestOne"))
    write(root / "tests" / "test_two.py", TEST_MODULE.format(name="TestTwo"))
    monkeypatch.chdir(root)
    monkeypatch.delenv("NO_COLOR", raising=False)
    return root


def run_cli(*args: str) -> Result:
    return separate_stderr_runner().invoke(cli, list(args), catch_exceptions=False)


def run_tests(root: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run(
        [sys.executable, "-m", "unittest", "discover", "-s", "tests", "-t", "."],
        cwd=root,
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


# --------------------------------------------------------------------------------------------
# end to end


def test_apply_creates_one_helper_module_and_the_suite_goes_green(project: Path) -> None:
    assert run_tests(project).returncode != 0  # red: the bridge fails inside a running loop

    result = run_cli("apply", "--helper-module", "pkg.compat")
    assert result.exit_code == 0, result.stderr
    assert "Created helper module pkg/compat.py" in result.stderr

    compat = project / "pkg" / "compat.py"
    text = compat.read_text()
    assert text.startswith('"""') and defines_helper(text)
    assert HELPER_SOURCE in text
    for module in ("test_one.py", "test_two.py"):
        rewritten = (project / "tests" / module).read_text()
        assert IMPORT_LINE in rewritten
        assert "def run_coroutine_sync" not in rewritten
        assert "run_coroutine_sync(self.asyncSetUp(), self.loop)" in rewritten
    assert not (project / "pkg" / "compat.py.backup").exists()  # it did not exist before

    green = run_tests(project)
    assert green.returncode == 0, green.stdout + green.stderr
    assert "Ran 4 tests" in green.stderr

    before = snapshot(project)
    again = run_cli("apply", "--helper-module", "pkg.compat")
    assert again.exit_code == 0, again.stderr
    assert "helper module" not in again.stderr
    assert snapshot(project) == before


def test_console_script_with_config_key(project: Path) -> None:
    write(project / "pyproject.toml", '[tool.ssot-codemod]\nhelper-module = "pkg.compat"\n')
    script = Path(sys.executable).parent / "ssot-codemod"
    if not script.exists():
        pytest.skip("console script not installed")
    # Run from a subdirectory: the module is still placed relative to the pyproject.toml.
    done = subprocess.run(
        [str(script), "apply", "."],
        cwd=project / "tests",
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (project / "pkg" / "compat.py").is_file()
    assert not (project / "tests" / "pkg").exists()
    assert run_tests(project).returncode == 0


def test_dry_run_shows_the_new_module_and_writes_nothing(project: Path) -> None:
    before = snapshot(project)
    result = run_cli("apply", "--dry-run", "--helper-module", "pkg.compat")
    assert result.exit_code == 1
    assert "--- /dev/null\n+++ b/pkg/compat.py\n" in result.stdout
    assert "+def run_coroutine_sync(" in result.stdout
    assert "--- a/tests/test_one.py" in result.stdout
    assert f"+{IMPORT_LINE}" in result.stdout
    assert "Would create helper module pkg/compat.py" in result.stderr
    assert snapshot(project) == before


def test_existing_module_gets_the_helper_appended_and_revert_restores_it(project: Path) -> None:
    original = (
        '"""Project helpers."""\n'
        "from __future__ import annotations\n"
        "\n"
        "import asyncio  # already here\n"
        "\n"
        "TIMEOUT = 5\n"
        "\n"
        "\n"
        "def other():\n"
        "    return TIMEOUT\n"
    )
    write(project / "pkg" / "compat.py", original)
    before = snapshot(project)

    result = run_cli("apply", "--helper-module", "pkg.compat")
    assert result.exit_code == 0, result.stderr
    assert "Added run_coroutine_sync to helper module pkg/compat.py" in result.stderr
    text = (project / "pkg" / "compat.py").read_text()
    assert text.startswith('"""Project helpers."""\nfrom __future__ import annotations\n')
    for line in original.splitlines():
        assert line in text.splitlines()
    assert text.count("import asyncio") == 1
    assert "import contextvars" in text and "import threading" in text
    assert text.endswith(HELPER_SOURCE)
    assert (project / "pkg" / "compat.py.backup").read_text() == original
    assert run_tests(project).returncode == 0

    assert run_cli("revert").exit_code == 0
    assert snapshot(project) == before


def test_existing_module_with_the_helper_is_left_alone(project: Path) -> None:
    write(project / "pkg" / "compat.py", "from elsewhere import run_coroutine_sync\n")
    result = run_cli("apply", "--helper-module", "pkg.compat")
    assert result.exit_code == 0
    assert (project / "pkg" / "compat.py").read_text() == (
        "from elsewhere import run_coroutine_sync\n"
    )
    assert not (project / "pkg" / "compat.py.backup").exists()


def test_new_packages_get_init_files(project: Path) -> None:
    result = run_cli("apply", "--helper-module", "shared.async_compat.bridge")
    assert result.exit_code == 0, result.stderr
    assert (project / "shared" / "__init__.py").read_bytes() == b""
    assert (project / "shared" / "async_compat" / "__init__.py").read_bytes() == b""
    assert defines_helper((project / "shared" / "async_compat" / "bridge.py").read_text())
    assert run_tests(project).returncode == 0


def test_src_layout_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "proj"
    write(root / "pyproject.toml", '[project]\nname = "pkg"\n')
    write(root / "src" / "pkg" / "__init__.py", "")
    write(root / "tests" / "test_one.py", TEST_MODULE.format(name="TestOne"))
    monkeypatch.chdir(root)
    result = run_cli("apply", "--helper-module", "pkg.compat", "tests")
    assert result.exit_code == 0, result.stderr
    assert defines_helper((root / "src" / "pkg" / "compat.py").read_text())
    assert not (root / "pkg").exists()


def test_helper_module_among_the_paths_does_not_import_itself(project: Path) -> None:
    # pkg/compat.py exists, is one of the PATHs and has a bridge of its own.
    write(project / "pkg" / "compat.py", TEST_MODULE.format(name="Shared"))
    result = run_cli("apply", "--helper-module", "pkg.compat")
    assert result.exit_code == 0, result.stderr
    compat = (project / "pkg" / "compat.py").read_text()
    assert IMPORT_LINE not in compat
    assert compat.count("def run_coroutine_sync(") == 1
    assert "run_coroutine_sync(self.asyncSetUp(), self.loop)" in compat
    assert IMPORT_LINE in (project / "tests" / "test_one.py").read_text()
    assert run_tests(project).returncode == 0
    assert run_cli("apply", "--helper-module", "pkg.compat").exit_code == 0


def test_helper_module_among_the_paths_without_a_bridge_is_extended(project: Path) -> None:
    write(project / "pkg" / "compat.py", "VALUE = 1\n")
    result = run_cli("apply", "--helper-module", "pkg.compat")
    assert result.exit_code == 0, result.stderr
    compat = (project / "pkg" / "compat.py").read_text()
    assert compat.startswith("import asyncio\n") and "VALUE = 1\n" in compat
    assert IMPORT_LINE not in compat and defines_helper(compat)
    assert run_tests(project).returncode == 0


def test_unusable_helper_module_blocks_the_rewrites_that_need_it(project: Path) -> None:
    write(project / "pkg" / "compat.py", "def broken(:\n")
    before = snapshot(project)
    result = run_cli("apply", "--helper-module", "pkg.compat")
    assert result.exit_code == 2
    assert "error: pkg/compat.py: cannot parse: line 1:" in result.stderr
    assert "error: tests/test_one.py: not rewritten" in result.stderr
    assert snapshot(project) == before


def test_check_never_creates_the_module(project: Path) -> None:
    before = snapshot(project)
    assert run_cli("check", "--no-cache", "--helper-module", "pkg.compat").exit_code == 1
    assert snapshot(project) == before


def test_api_reports_created_paths(project: Path) -> None:
    result = apply_paths([project], Options(helper_module="pkg.compat", jobs=1))
    assert result.helper_module_path == project / "pkg" / "compat.py"
    (helper,) = [f for f in result.files if f.path == result.helper_module_path]
    assert helper.status == "changed"
    assert helper.created == (project / "pkg" / "compat.py",)


def test_crlf_module_keeps_its_line_endings(project: Path) -> None:
    write(project / "pkg" / "compat.py", b"X = 1\r\n")
    assert run_cli("apply", "--helper-module", "pkg.compat").exit_code == 0
    data = (project / "pkg" / "compat.py").read_bytes()
    assert b"X = 1\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")


# --------------------------------------------------------------------------------------------
# units


def test_project_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "a" / "pyproject.toml", "")
    write(tmp_path / "a" / "tests" / "deep" / "t.py", "")
    assert project_root([tmp_path / "a" / "tests" / "deep" / "t.py"], "x.y") == tmp_path / "a"
    # A directory named like the top-level package: its parent is the root.
    write(tmp_path / "b" / "tests" / "t.py", "")
    assert project_root([tmp_path / "b" / "tests"], "tests.compat") == tmp_path / "b"
    # The configuration wins.
    assert project_root([tmp_path / "b"], "x", tmp_path / "a") == tmp_path / "a"
    # Nothing to go by: the current directory.
    write(tmp_path / "c" / "t.py", "")
    assert project_root([tmp_path / "c" / "t.py"], "x") in (tmp_path, Path.cwd())


def test_locate(tmp_path: Path) -> None:
    assert locate_helper_module("pkg.compat", tmp_path) == tmp_path / "pkg" / "compat.py"
    (tmp_path / "pkg" / "compat").mkdir(parents=True)
    assert locate_helper_module("pkg.compat", tmp_path) == (
        tmp_path / "pkg" / "compat" / "__init__.py"
    )
    (tmp_path / "src" / "lib").mkdir(parents=True)
    assert locate_helper_module("lib.c", tmp_path) == tmp_path / "src" / "lib" / "c.py"
    assert locate_helper_module("compat", tmp_path) == tmp_path / "compat.py"


def test_plan_for_a_new_module(tmp_path: Path) -> None:
    change = plan_helper_module("a.b.c", tmp_path)
    assert change is not None and change.original is None
    assert change.new_dirs == (tmp_path / "a", tmp_path / "a" / "b")
    assert change.new_inits == (
        tmp_path / "a" / "__init__.py",
        tmp_path / "a" / "b" / "__init__.py",
    )
    assert change.new_text == new_module_text("a.b.c")
    compile(change.new_text, "c.py", "exec")
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def run_coroutine_sync(c):\n    pass\n", True),
        ("from x import run_coroutine_sync\n", True),
        ("from x import something as run_coroutine_sync\n", True),
        ("run_coroutine_sync = None\n", True),
        ("def other():\n    def run_coroutine_sync():\n        pass\n", False),
        ("# run_coroutine_sync\n", False),
        ("def broken(:\n", False),
    ],
)
def test_defines_helper(source: str, expected: bool) -> None:
    assert defines_helper(source) is expected
