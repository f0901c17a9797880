"""Regenerate the expected outputs of the fixture tests from the engine, and say what changed.

    .venv/bin/python scripts/update_fixtures.py          # rewrite what differs
    .venv/bin/python scripts/update_fixtures.py --check  # only list it; exit 1 if any

Only *existing* expectations are regenerated (a new fixture's first ``.expected.py`` is written
by hand, after deciding that the case should change at all):

- ``tests/fixtures/<CODE>/<case>.expected.py``: ``<case>.py`` through the engine exactly as
  ``tests/test_fixtures.py`` runs it (only that rule, all rules for ``ALL``; unsafe fixes when
  the name contains ``unsafe``). A case whose rewrite no longer changes anything is reported,
  not deleted.
- ``tests/fixtures/projects/<name>/apply*/`` (when that layout exists): ``input/`` is copied to
  a temporary directory and run through :func:`ssot_codemod.api.apply_paths` (``apply-unsafe``
  with unsafe fixes); the directory then holds the new content of every file apply changed or
  created.

The script never decides what is right: review ``git diff tests/fixtures`` before committing.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

from ssot_codemod.api import Options, apply_paths
from ssot_codemod.config import load_config
from ssot_codemod.engine import fix_source
from ssot_codemod.files import encode_source, read_source
from ssot_codemod.rules import select_rules

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
# What apply leaves beside the files it rewrites; not part of the expected trees.
_APPLY_LEFTOVERS = (".backup", ".ssot-codemod.journal")


def expected_outputs(fixtures: Path = FIXTURES) -> dict[Path, bytes | None]:
    """The engine's output for every ``*.expected.py`` (None: the rewrite changes nothing)."""
    out: dict[Path, bytes | None] = {}
    for expected in sorted(fixtures.glob("*/*.expected.py")):
        case = expected.with_name(expected.name[: -len(".expected.py")] + ".py")
        if not case.is_file():
            continue
        code = case.parent.name.split("-")[0]
        rules = select_rules([code]) if code != "ALL" else select_rules()
        source = read_source(case.read_bytes())
        result = fix_source(source.text, rules=rules, unsafe_fixes="unsafe" in case.stem)
        out[expected] = encode_source(result.code, source) if result.changed else None
    return out


def _changed_files(before: Path, after: Path) -> dict[Path, bytes]:
    """Files under *after* that are new or differ from *before*, by relative path."""
    changed: dict[Path, bytes] = {}
    for path in sorted(after.rglob("*")):
        skipped = path.name.endswith(_APPLY_LEFTOVERS) or "__pycache__" in path.parts
        if skipped or not path.is_file():
            continue
        rel = path.relative_to(after)
        old = before / rel
        if not old.is_file() or not filecmp.cmp(old, path, shallow=False):
            changed[rel] = path.read_bytes()
    return changed


def project_outputs(fixtures: Path = FIXTURES) -> dict[Path, dict[Path, bytes]]:
    """For every ``projects/<name>/apply*/`` directory: what apply changes, by relative path."""
    out: dict[Path, dict[Path, bytes]] = {}
    projects = fixtures / "projects"
    if not projects.is_dir():
        return out
    for project in sorted(p for p in projects.iterdir() if p.is_dir()):
        source = project / "input"
        if not source.is_dir():
            continue
        for target in sorted(p for p in project.glob("apply*") if p.is_dir()):
            unsafe = target.name == "apply-unsafe"
            if target.name not in ("apply", "apply-unsafe"):
                print(f"skipped {target}: unknown expectation directory", file=sys.stderr)
                continue
            with tempfile.TemporaryDirectory() as tmp:
                copy = Path(tmp) / "input"
                shutil.copytree(source, copy, symlinks=True)
                result = apply_paths([copy], _options(copy, unsafe=unsafe))
                for failed in result.failed:
                    warning = f"warning: {project.name}: {failed.path}: {failed.error}"
                    print(warning, file=sys.stderr)
                out[target] = _changed_files(source, copy)
    return out


def _options(root: Path, *, unsafe: bool) -> Options:
    """Options as the CLI builds them for *root* (its ``[tool.ssot-codemod] src`` honoured),
    the same as tests/test_fixture_projects.py uses."""
    config, config_path = load_config(root)
    base = config_path.parent if config_path is not None else root
    return Options(
        unsafe_fixes=unsafe,
        jobs=1,
        exclude_base=config_path.parent if config_path is not None else None,
        project_root=root,
        src=tuple(base / entry for entry in config.get("src", ())),
    )


def _write_tree(target: Path, files: dict[Path, bytes], *, check: bool) -> list[Path]:
    """Make *target* hold exactly *files*; the paths that differed."""
    differing: list[Path] = []
    # Placeholders such as ``.keep`` (git keeps no empty directory) are not expectations.
    existing = {
        p.relative_to(target)
        for p in target.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    }
    for rel in sorted(existing - set(files)):
        differing.append(target / rel)
        if not check:
            (target / rel).unlink()
    for rel, data in files.items():
        path = target / rel
        if path.is_file() and path.read_bytes() == data:
            continue
        differing.append(path)
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    return differing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="list differences, write nothing")
    args = parser.parse_args(argv)
    root = FIXTURES.parent.parent
    differing: list[Path] = []
    for expected, data in expected_outputs().items():
        if data is None:
            print(f"no longer rewritten (left alone): {expected.relative_to(root)}")
            differing.append(expected)
        elif expected.read_bytes() != data:
            differing.append(expected)
            print(f"{'differs' if args.check else 'updated'}: {expected.relative_to(root)}")
            if not args.check:
                expected.write_bytes(data)
    for target, files in project_outputs().items():
        for path in _write_tree(target, files, check=args.check):
            differing.append(path)
            print(f"{'differs' if args.check else 'updated'}: {path.relative_to(root)}")
    if not differing:
        print("all expected outputs are up to date")
    return 1 if differing and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
