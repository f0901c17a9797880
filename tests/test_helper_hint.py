"""The summary suggests ``--helper-module`` when a run pastes the helper into 2+ modules."""

from __future__ import annotations

import shutil
from pathlib import Path

from ssot_codemod import report
from ssot_codemod.api import Options, apply_paths

FIXTURES = Path(__file__).parent / "fixtures" / "SSC001"


def project(root: Path, *, packages: bool, count: int = 2) -> Path:
    tests = root / "pkg" / "tests"
    tests.mkdir(parents=True)
    if packages:
        (root / "pkg" / "__init__.py").write_text("")
        (tests / "__init__.py").write_text("")
    cases = ["private_loop_attribute.py", "base_plain_mixin.py"]
    for i in range(count):
        shutil.copy(FIXTURES / cases[i], tests / f"test_{i}.py")
    return tests


def test_two_copies_in_a_package_suggest_a_private_module_of_it(tmp_path: Path) -> None:
    tests = project(tmp_path, packages=True)
    result = apply_paths([tests], Options(jobs=1), dry_run=True)
    assert len(report.helper_copies(result)) == 2
    hint = report.helper_module_hint(result, dry_run=True)
    assert hint is not None
    assert "2 modules would get their own copy" in hint
    assert "`--helper-module pkg.tests._async_compat`" in hint
    line = report.summary_line("apply", result, dry_run=True)
    assert "hint" not in line  # the hint is a line of its own


def test_outside_a_package_the_module_goes_in_the_common_directory(tmp_path: Path) -> None:
    tests = project(tmp_path, packages=False)
    result = apply_paths([tests], Options(jobs=1))
    hint = report.helper_module_hint(result)
    assert hint is not None
    assert "revert, then apply with `--helper-module tests.async_compat`" in hint
    # applying with the suggestion leaves no copy behind
    assert report.suggest_helper_module(report.helper_copies(result)) == "tests.async_compat"


def test_one_copy_or_a_helper_module_gives_no_hint(tmp_path: Path) -> None:
    tests = project(tmp_path / "one", packages=True, count=1)
    assert report.helper_module_hint(apply_paths([tests], Options(jobs=1), dry_run=True)) is None
    tests = project(tmp_path / "shared", packages=True)
    options = Options(jobs=1, helper_module="pkg.tests._async_compat")
    result = apply_paths([tests], options, dry_run=True)
    assert report.helper_copies(result) == ()
    assert report.helper_module_hint(result, dry_run=True) is None
