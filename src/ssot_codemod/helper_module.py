"""``--helper-module pkg.mod``: one compatibility layer per codebase.

With a helper module, rewritten files import ``run_coroutine_sync`` from ``pkg.mod`` instead of
defining it. This module makes sure ``pkg.mod`` exists and defines it:

- :func:`project_root` decides where ``pkg/mod.py`` lives: the directory of the
  ``pyproject.toml`` holding the configuration; else, walking up from the common parent of the
  PATHs, the first directory that is a project root (``pyproject.toml``, ``setup.py``,
  ``setup.cfg``, ``.git``) or the parent of a directory named ``pkg``; else the current
  directory. A ``src/`` layout is honoured: if ``src/pkg`` exists, the module goes there.
- :func:`plan_helper_module` computes the change without touching disk: a new file (with a
  docstring, the three imports and the helper; plus ``__init__.py`` for every package
  directory it has to create), or the existing file with the missing imports added (LibCST's
  ``AddImportsVisitor``) and the helper appended, everything else kept byte for byte.
- :func:`create_helper_module` writes a new file without ever replacing one that appeared in
  the meantime. An existing file is rewritten by the caller through
  :func:`ssot_codemod.backup.commit_rewrite` (``.backup`` + journal, so ``revert`` restores it).

A file apply *created* has no backup: ``revert`` leaves it in place (it is unused once the
rewritten files are restored, and a later apply reuses it); ``apply --verify`` removes it when
it rolls back.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ssot_codemod.backup import create_exclusive
from ssot_codemod.files import PROJECT_ROOT_MARKERS, common_directory
from ssot_codemod.helper_source import HELPER_IMPORTS, HELPER_NAME, HELPER_SOURCE
from ssot_codemod.types import EngineError

__all__ = [
    "HelperModuleChange",
    "HelperModuleError",
    "create_helper_module",
    "defines_helper",
    "locate_helper_module",
    "new_module_text",
    "plan_helper_module",
    "project_root",
]


class HelperModuleError(Exception):
    """The helper module cannot be created or extended; ``str(exc)`` is one line."""


@dataclass(frozen=True)
class HelperModuleChange:
    """What apply does to the helper module. ``original is None``: the file is new."""

    path: Path
    original: bytes | None
    new: bytes
    original_text: str
    new_text: str
    new_dirs: tuple[Path, ...] = ()  # package directories to create, outermost first
    new_inits: tuple[Path, ...] = ()  # their __init__.py files

    @property
    def created(self) -> tuple[Path, ...]:
        """Every path apply creates for this change (directories, ``__init__.py``, the file)."""
        if self.original is not None:
            return ()
        return (*self.new_dirs, *self.new_inits, self.path)


# --------------------------------------------------------------------------------------------
# where


def project_root(
    paths: Sequence[Path], helper_module: str, config_root: Path | None = None
) -> Path:
    """The directory the dotted *helper_module* is resolved against (see the module doc)."""
    if config_root is not None:
        return Path(os.path.abspath(config_root))
    top = helper_module.split(".")[0]
    common = common_directory(paths)
    if common is None:  # paths on different drives
        return Path.cwd()
    for directory in (common, *common.parents):
        if directory.name == top and directory.parent != directory:
            return directory.parent
        if any((directory / marker).exists() for marker in PROJECT_ROOT_MARKERS):
            return directory
    return Path.cwd()


def _package_base(root: Path, top: str, single: bool) -> Path:
    for base in (root, root / "src"):
        if (base / top).is_dir() or (single and (base / f"{top}.py").is_file()):
            return base
    return root


def _locate(helper_module: str, root: Path) -> tuple[Path, Path]:
    parts = helper_module.split(".")
    base = _package_base(root, parts[0], single=len(parts) == 1)
    package_dir = base.joinpath(*parts[:-1])
    as_package = package_dir / parts[-1]
    if as_package.is_dir():
        return base, as_package / "__init__.py"
    return base, package_dir / f"{parts[-1]}.py"


def locate_helper_module(helper_module: str, root: Path) -> Path:
    """The file that holds *helper_module* under *root* (it may not exist yet).

    ``pkg.mod`` is ``pkg/mod.py``, or ``pkg/mod/__init__.py`` when ``pkg/mod`` is a package;
    under ``root/src`` when ``root/src/pkg`` exists and ``root/pkg`` does not.
    """
    return _locate(helper_module, root)[1]


# --------------------------------------------------------------------------------------------
# what


def defines_helper(text: str) -> bool:
    """Whether module *text* binds ``run_coroutine_sync`` at top level (def, import, assign)."""
    from ssot_codemod.engine import parse_module
    from ssot_codemod.module_edits import defines_name

    try:
        module = parse_module(text)
    except EngineError:
        return False
    return defines_name(module, HELPER_NAME)


def new_module_text(helper_module: str, newline: str = "\n") -> str:
    """The text of a helper module apply creates."""
    imports = "".join(f"import {name}\n" for name in HELPER_IMPORTS)
    text = (
        f'"""Compatibility helpers shared by this codebase (written by ssot-codemod).\n'
        f"\n"
        f"Modules rewritten with\n"
        f"``ssot-codemod apply --helper-module {helper_module}``\n"
        f"import ``{HELPER_NAME}`` from here instead of each defining a copy.\n"
        f'"""\n'
        f"\n"
        f"{imports}"
        f"\n"
        f"{HELPER_SOURCE}"
    )
    return text.replace("\n", newline) if newline != "\n" else text


def _extended_text(text: str) -> str:
    """*text* with the helper's imports added and the helper appended."""
    import libcst as cst

    from ssot_codemod.module_edits import ensure_imports

    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError as exc:
        message = str(exc.message).splitlines()[0] if exc.message else "invalid syntax"
        raise HelperModuleError(f"cannot parse: line {exc.raw_line}: {message}") from None
    except Exception as exc:
        raise HelperModuleError(f"cannot parse: {' '.join(str(exc).split())}") from None
    if module.code != text:
        raise HelperModuleError("LibCST does not round-trip this file exactly; add the helper")
    module = ensure_imports(module, [(name, None) for name in HELPER_IMPORTS])
    newline = module.default_newline
    code = module.code
    if code.strip():
        code = code.rstrip("\r\n") + newline + newline + newline
    else:
        code = ""
    return code + HELPER_SOURCE.replace("\n", newline)


def plan_helper_module(
    helper_module: str, root: Path, *, current: bytes | None = None
) -> HelperModuleChange | None:
    """The change that makes *helper_module* define the helper; None if it already does.

    *current*: the bytes the file is about to have (the engine's rewrite of it, when the
    helper module is one of the PATHs) instead of what is on disk.

    Raises :class:`HelperModuleError` when the file cannot be read, parsed or created there.
    """
    from ssot_codemod.files import encode_source, read_source

    base, path = _locate(helper_module, root)
    parts = helper_module.split(".")
    # The package directories pkg/, pkg/sub/ ... that hold the module, outermost first.
    packages = [base.joinpath(*parts[:i]) for i in range(1, len(parts))]
    new_dirs: list[Path] = []
    for directory in packages:
        if directory.exists() or directory.is_symlink():
            if not directory.is_dir():
                raise HelperModuleError(f"{directory} exists and is not a directory")
        else:
            new_dirs.append(directory)

    try:
        data: bytes | None = current if current is not None else path.read_bytes()
    except FileNotFoundError:
        data = None
    except IsADirectoryError:
        raise HelperModuleError(f"{path} is a directory") from None
    except OSError as exc:
        raise HelperModuleError(f"cannot read {path}: {exc.strerror or exc}") from None

    if data is None:
        text = new_module_text(helper_module)
        return HelperModuleChange(
            path=path,
            original=None,
            new=text.encode("utf-8"),
            original_text="",
            new_text=text,
            new_dirs=tuple(new_dirs),
            new_inits=tuple(d / "__init__.py" for d in new_dirs),
        )

    try:
        source = read_source(data)
    except EngineError as exc:
        raise HelperModuleError(str(exc)) from None
    if defines_helper(source.text):
        return None
    try:
        compile(source.text, str(path), "exec", dont_inherit=True)
    except SyntaxError as exc:  # where and what, like any file's syntax error (not the path again)
        where = f"line {exc.lineno}{f':{exc.offset}' if exc.offset else ''}: " if exc.lineno else ""
        message = " ".join(str(exc.msg or "invalid syntax").split())
        raise HelperModuleError(f"cannot parse: {where}{message}") from None
    except ValueError as exc:  # a NUL byte
        raise HelperModuleError(f"cannot parse: {' '.join(str(exc).split())}") from None
    new_text = _extended_text(source.text)
    try:
        compile(new_text, str(path), "exec", dont_inherit=True)
    except SyntaxError as exc:  # pragma: no cover - the helper is valid 3.9 code
        raise HelperModuleError(f"adding the helper breaks the module ({exc.msg})") from None
    if not defines_helper(new_text):  # pragma: no cover - defensive
        raise HelperModuleError("adding the helper did not define it")
    try:
        new = encode_source(new_text, source)
    except EngineError as exc:
        raise HelperModuleError(str(exc)) from None
    return HelperModuleChange(
        path=path, original=data, new=new, original_text=source.text, new_text=new_text
    )


# --------------------------------------------------------------------------------------------
# writing a new module


def create_helper_module(change: HelperModuleChange) -> tuple[Path, ...]:
    """Create the new helper module of *change* (and its package directories).

    Returns the paths actually created, in creation order. Raises :class:`OSError`, or
    :class:`HelperModuleError` if the file appeared meanwhile without the helper.
    """
    assert change.original is None
    created: list[Path] = []
    try:
        for directory in change.new_dirs:
            try:
                directory.mkdir()
            except FileExistsError:
                continue
            created.append(directory)
        for init in change.new_inits:
            if create_exclusive(init, b""):
                created.append(init)
        change.path.parent.mkdir(parents=True, exist_ok=True)
        if create_exclusive(change.path, change.new):
            created.append(change.path)
            return tuple(created)
    except BaseException:
        remove_created(created)
        raise
    # Another process (a parallel pre-commit batch) created it first: fine if it has the helper.
    if defines_helper(change.path.read_text(encoding="utf-8", errors="replace")):
        return tuple(created)
    remove_created(created)
    raise HelperModuleError(f"{change.path} appeared while apply ran; run apply again")


def remove_created(paths: Iterable[Path]) -> list[tuple[Path, str]]:
    """Undo :func:`create_helper_module`: remove files, then directories if empty.

    Returns ``(path, reason)`` for what could not be removed.
    """
    problems: list[tuple[Path, str]] = []
    for path in reversed(list(paths)):
        try:
            if path.is_dir() and not path.is_symlink():
                path.rmdir()
            else:
                path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            problems.append((path, exc.strerror or str(exc)))
    return problems
