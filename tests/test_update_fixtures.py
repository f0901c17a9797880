"""scripts/update_fixtures.py regenerates expectations from the engine and names what changed."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
CASE = ROOT / "tests" / "fixtures" / "SSC001" / "private_loop_attribute"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "update_fixtures", ROOT / "scripts" / "update_fixtures.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("update_fixtures", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def script() -> ModuleType:
    return load_script()


def test_regenerates_a_stale_expectation(script: ModuleType, tmp_path: Path) -> None:
    rule_dir = tmp_path / "SSC001"
    rule_dir.mkdir()
    shutil.copy(CASE.with_suffix(".py"), rule_dir / "case.py")
    (rule_dir / "case.expected.py").write_text("stale\n")
    (outputs,) = script.expected_outputs(tmp_path).values()
    assert outputs == CASE.with_name(CASE.name + ".expected.py").read_bytes()


def test_project_trees_hold_the_files_apply_changes(script: ModuleType, tmp_path: Path) -> None:
    project = tmp_path / "projects" / "demo"
    (project / "input" / "tests").mkdir(parents=True)
    shutil.copy(CASE.with_suffix(".py"), project / "input" / "tests" / "test_a.py")
    (project / "input" / "tests" / "test_clean.py").write_text("x = 1\n")
    (project / "apply").mkdir()
    (project / "apply" / "gone.py").write_text("no longer changed\n")
    outputs = script.project_outputs(tmp_path)
    assert list(outputs) == [project / "apply"]
    files = outputs[project / "apply"]
    assert list(files) == [Path("tests/test_a.py")]
    assert files[Path("tests/test_a.py")] == CASE.with_name(CASE.name + ".expected.py").read_bytes()
    differing = script._write_tree(project / "apply", files, check=False)
    assert sorted(p.name for p in differing) == ["gone.py", "test_a.py"]
    assert sorted(p.name for p in (project / "apply").rglob("*.py")) == ["test_a.py"]
