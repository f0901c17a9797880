"""``--helper-module`` planning for a run: which discovered file is the helper module
(:class:`HelperTarget`), which rewrites need it (:func:`uses_helper`), and making it define the
helper before they are written (:func:`ensure_helper_module`). The module edit itself is
:mod:`ssot_codemod.helper_module`'s; this is the part that sits between it and the file loop.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ssot_codemod.helper_source import HELPER_NAME
from ssot_codemod.results import FileResult, one_line, read_error

if TYPE_CHECKING:
    from ssot_codemod.api import Options
    from ssot_codemod.parallel import Computed

__all__ = ["HelperTarget", "ensure_helper_module", "uses_helper"]


@dataclass
class HelperTarget:
    """Where the ``--helper-module`` file is, and which discovered file it is (if any)."""

    root: Path
    path: Path
    key: str
    index: int | None = None

    @classmethod
    def find(cls, paths: Sequence[Path | str], options: Options) -> HelperTarget | None:
        if options.helper_module is None:
            return None
        from ssot_codemod.helper_module import locate_helper_module, project_root

        root = project_root([Path(p) for p in paths], options.helper_module, options.project_root)
        path = locate_helper_module(options.helper_module, root)
        return cls(root, path, os.path.normcase(os.path.realpath(path)))

    def is_file(self, path: Path) -> bool:
        return os.path.normcase(os.path.realpath(path)) == self.key


def uses_helper(outcome: Computed, original: bytes) -> bool:
    """Whether this outcome rewrites the file into one that calls the helper."""
    return (
        outcome.error is None
        and outcome.new_bytes is not None
        and outcome.new_bytes != original
        and outcome.new is not None
        and HELPER_NAME in outcome.new
    )


def ensure_helper_module(
    helper_module: str,
    target: HelperTarget,
    computed: dict[int, Computed],
    originals: dict[int, bytes],
    results: dict[int, FileResult],
    mode: Literal["check", "apply", "dry-run"],
) -> FileResult | None:
    """Make the ``--helper-module`` file define the helper (in apply mode, write it).

    Returns the helper module's result, or None when nothing is needed beyond the normal
    processing of that file (it already defines the helper, or the engine's rewrite of it, as
    one of the PATHs, inserts the helper inline).
    """
    from ssot_codemod.helper_module import (
        HelperModuleError,
        create_helper_module,
        plan_helper_module,
    )

    path = target.path
    index = target.index
    outcome = computed.get(index) if index is not None else None
    base = results.get(index) if index is not None else None
    findings = outcome.findings if outcome is not None else base.findings if base else ()
    parsed = outcome is not None
    disk = originals.get(index) if index is not None else None
    engine_new = None
    if outcome is not None and outcome.error is None and outcome.new_bytes is not None:
        if outcome.new_bytes != disk:
            engine_new = outcome.new_bytes
    try:
        change = plan_helper_module(helper_module, target.root, current=engine_new)
    except HelperModuleError as exc:
        return FileResult(path, "error", findings=findings, error=one_line(str(exc)), parsed=parsed)
    if change is None:
        return None
    original_text = (
        outcome.original if engine_new is not None and outcome is not None else change.original_text
    )
    result = FileResult(
        change.path,
        "would-change",
        findings=findings,
        original=original_text,
        new=change.new_text,
        parsed=parsed,
        created=change.created,
    )
    if mode != "apply":
        return result

    from ssot_codemod.backup import ApplyRefused, commit_rewrite

    try:
        if change.original is None:
            created = create_helper_module(change)
            return replace(result, status="changed", created=created)
        on_disk = disk if engine_new is not None and disk is not None else change.original
        commit_rewrite(change.path, on_disk, change.new)
    except (ApplyRefused, HelperModuleError) as exc:
        return replace(result, status="error", error=one_line(str(exc)), created=())
    except OSError as exc:
        return replace(result, status="error", error=read_error(exc), created=())
    return replace(result, status="changed")
