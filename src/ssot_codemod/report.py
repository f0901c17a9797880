"""Everything the user sees: finding formats, diffs, the summary line and the exit code.

stdout carries data only (findings, diffs, JSON, SARIF); the summary, warnings and per-file
errors go to stderr. The exit-code policy lives in :func:`exit_code` and nowhere else.
"""

from __future__ import annotations

import difflib
import json
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from ssot_codemod import __version__
from ssot_codemod.api import FileResult, FileStatus, RunResult, VerifyResult
from ssot_codemod.helper_source import HELPER_NAME
from ssot_codemod.results import BaselineRecount, relative_display
from ssot_codemod.types import Finding

if TYPE_CHECKING:
    from ssot_codemod.rules.base import Rule

__all__ = [
    "Command",
    "OutputFormat",
    "OUTPUT_FORMATS",
    "colour_enabled",
    "display_path",
    "exit_code",
    "format_findings",
    "format_github",
    "format_json",
    "format_sarif",
    "format_text",
    "summary_line",
    "unified_diff",
    "write_diffs",
    "write_errors",
    "write_findings",
]

Command = Literal["check", "apply", "revert"]
OutputFormat = Literal["text", "json", "github", "sarif"]
OUTPUT_FORMATS: tuple[str, ...] = ("text", "json", "github", "sarif")

TOOL_NAME = "ssot-codemod"
INFORMATION_URI = "https://pypi.org/project/ssot-codemod/"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

EXIT_OK = 0
EXIT_FOUND = 1
EXIT_ERROR = 2


# --------------------------------------------------------------------------------------------
# exit codes


def exit_code(
    command: Command,
    result: RunResult,
    *,
    verify: VerifyResult | None = None,
    rollback: RunResult | None = None,
) -> int:
    """The process exit status for *command* (see the table in the CLI spec).

    2 if any path or file could not be processed (or revert refused one, or a ``--verify``
    rollback could not restore one) - errors win; 1 if ``check`` found something,
    ``apply --dry-run`` would change a file or the ``apply --verify`` command failed (and the
    run was rolled back); else 0.
    """
    if result.has_errors or (rollback is not None and rollback.has_errors):
        return EXIT_ERROR
    if verify is not None and not verify.passed:
        return EXIT_FOUND
    if command == "check":
        return EXIT_FOUND if any(f.findings for f in result.files) else EXIT_OK
    if command == "apply":
        return EXIT_FOUND if result.count("would-change") else EXIT_OK
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# paths and output helpers


def display_path(path: Path, cwd: Path | None = None) -> str:
    """*path* relative to *cwd* (default: the current directory), with "/" separators.

    Paths outside *cwd* come out relative with ``..`` (absolute on another Windows drive).
    """
    base = os.path.abspath(cwd if cwd is not None else os.getcwd())
    return relative_display(os.path.abspath(path), base)


def _inside(display: str) -> bool:
    return not (display == ".." or display.startswith("../") or os.path.isabs(display))


def write_text(stream: IO[str], text: str) -> None:
    """Write *text*, degrading unencodable characters instead of crashing on a narrow locale."""
    try:
        stream.write(text)
    except UnicodeEncodeError:
        encoding = getattr(stream, "encoding", None) or "ascii"
        stream.write(text.encode(encoding, "backslashreplace").decode(encoding))
    stream.flush()


def colour_enabled(stream: IO[str], *, no_color: bool = False) -> bool:
    """Colour only on a terminal, without ``--no-color`` and with ``NO_COLOR`` unset/empty."""
    if no_color or os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):
        return False


# --------------------------------------------------------------------------------------------
# findings


def _marker(finding: Finding) -> str:
    if finding.applied:
        return "[*] "  # apply (with these options) fixes it, as ruff marks fixable findings
    if finding.fix == "unsafe":
        return "[unsafe-fix] "  # fixable only with --unsafe-fixes
    return ""


def _sorted_findings(
    result: RunResult, *, unapplied_only: bool = False
) -> list[tuple[str, Finding]]:
    out: list[tuple[str, Finding]] = []
    cwd = Path(os.getcwd())
    for file in result.files:
        if not file.findings:
            continue  # display_path costs an abspath: not for every clean file
        shown = display_path(file.path, cwd)
        for finding in sorted(file.findings, key=lambda f: (f.line, f.column, f.code)):
            if not (unapplied_only and finding.applied):
                out.append((shown, finding))
    return out


def format_text(result: RunResult, *, unapplied_only: bool = False) -> str:
    """``path:line:col: CODE [*] message``, one finding per line (ruff's concise format).

    ``[*]`` marks findings ``apply`` fixes; ``[unsafe-fix]`` those only ``--unsafe-fixes`` fixes.
    With *unapplied_only*, only findings the rewrite does not fix (what apply leaves behind).
    """
    lines = [
        f"{path}:{f.line}:{f.column}: {f.code} {_marker(f)}{_one_line(f.message)}\n"
        for path, f in _sorted_findings(result, unapplied_only=unapplied_only)
    ]
    return "".join(lines)


def format_json(result: RunResult) -> str:
    """A JSON list of findings with stable keys (see :data:`JSON_KEYS`)."""
    items = [
        {
            "path": path,
            "line": f.line,
            "column": f.column,
            "end_line": f.end_line,
            "end_column": f.end_column,
            "code": f.code,
            "message": f.message,
            "fix": f.fix,
        }
        for path, f in _sorted_findings(result)
    ]
    return json.dumps(items, indent=2, ensure_ascii=False) + "\n"


JSON_KEYS = ("path", "line", "column", "end_line", "end_column", "code", "message", "fix")


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def format_github(result: RunResult) -> str:
    """GitHub Actions workflow commands: one ``::error ...::message`` line per finding."""
    lines = []
    for path, f in _sorted_findings(result):
        props = ",".join(
            [
                f"file={_escape_property(path)}",
                f"line={f.line}",
                f"col={f.column}",
                f"endLine={f.end_line}",
                f"endColumn={f.end_column}",
                f"title={_escape_property(f.code)}",
            ]
        )
        lines.append(f"::error {props}::{_escape_data(f'{f.code} {f.message}')}\n")
    return "".join(lines)


def _rule_descriptor(rule: Rule) -> dict[str, Any]:
    help_text = (
        f"{rule.summary}\n\nWhy is this bad?\n{rule.why}\n\nExample:\n{rule.example}\n\n"
        f"Use instead:\n{rule.use_instead}\n\nFix safety: {rule.fix_safety}"
    )
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": _one_line(rule.summary)},
        "fullDescription": {"text": rule.why.strip() or rule.summary},
        "help": {"text": help_text},
        "defaultConfiguration": {"level": "error"},
        "properties": {"fixSafety": rule.fix_safety},
    }


def format_sarif(
    result: RunResult, rules: Sequence[Rule] | None = None, cwd: Path | None = None
) -> str:
    """A SARIF 2.1.0 log with one run; URIs are relative to *cwd* (``%SRCROOT%``)."""
    if rules is None:
        from ssot_codemod.rules import ALL_RULES

        rules = sorted(ALL_RULES, key=lambda rule: rule.code)
    base = Path(os.path.abspath(cwd if cwd is not None else os.getcwd()))
    rule_index = {rule.code: i for i, rule in enumerate(rules)}
    results: list[dict[str, Any]] = []
    for file in result.files:
        shown = display_path(file.path, base)
        if _inside(shown):
            artifact: dict[str, Any] = {"uri": quote(shown), "uriBaseId": "%SRCROOT%"}
        else:
            artifact = {"uri": Path(os.path.abspath(file.path)).as_uri()}
        for f in sorted(file.findings, key=lambda f: (f.line, f.column, f.code)):
            item: dict[str, Any] = {
                "ruleId": f.code,
                "level": "error",
                "message": {"text": f.message},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": artifact,
                            "region": {
                                "startLine": f.line,
                                "startColumn": f.column,
                                "endLine": f.end_line,
                                "endColumn": f.end_column,
                            },
                        }
                    }
                ],
                "properties": {"fix": f.fix},
            }
            if f.code in rule_index:
                item["ruleIndex"] = rule_index[f.code]
            results.append(item)
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": TOOL_NAME,
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": [_rule_descriptor(rule) for rule in rules],
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": base.as_uri() + "/"}},
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


def format_findings(
    result: RunResult, output_format: OutputFormat, rules: Sequence[Rule] | None = None
) -> str:
    if output_format == "json":
        return format_json(result)
    if output_format == "github":
        return format_github(result)
    if output_format == "sarif":
        return format_sarif(result, rules)
    return format_text(result)


def write_findings(
    result: RunResult,
    output_format: OutputFormat,
    stream: IO[str] | None = None,
    rules: Sequence[Rule] | None = None,
) -> None:
    text = format_findings(result, output_format, rules)
    if text:
        write_text(stream if stream is not None else sys.stdout, text)


# --------------------------------------------------------------------------------------------
# diffs

_NO_NEWLINE = "\\ No newline at end of file\n"


def unified_diff(
    original: str, new: str, path: Path, cwd: Path | None = None, *, new_file: bool = False
) -> str:
    """A unified diff (3 lines of context) with ``a/<relpath>``/``b/<relpath>`` headers.

    Line endings are kept as they are in the file; "" when nothing differs. A *new_file* is
    diffed against ``/dev/null``, as git does.
    """
    if original == new:
        return ""
    shown = display_path(path, cwd)
    lines = difflib.unified_diff(
        original.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile="/dev/null" if new_file else f"a/{shown}",
        tofile=f"b/{shown}",
        n=3,
    )
    out: list[str] = []
    for line in lines:
        if line.endswith(("\n", "\r")):
            out.append(line)
        else:  # the last line of a file without a final newline
            out.append(line + "\n" + _NO_NEWLINE)
    return "".join(out)


def write_diffs(
    files: Iterable[FileResult], stream: IO[str] | None = None, *, colour: bool = False
) -> None:
    """Write the diff of every file with a new text, in path order; coloured if *colour*."""
    out = stream if stream is not None else sys.stdout
    for file in files:
        if file.original is None or file.new is None or file.status == "error":
            continue
        diff = unified_diff(file.original, file.new, file.path, new_file=file.path in file.created)
        if not diff:
            continue
        if colour:
            _write_coloured_diff(out, diff)
        else:
            write_text(out, diff)


def _write_coloured_diff(stream: IO[str], diff: str) -> None:
    from rich.console import Console
    from rich.text import Text

    console = Console(file=stream, highlight=False, soft_wrap=True, emoji=False)
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            style = "bold"
        elif line.startswith("@@"):
            style = "cyan"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        else:
            style = ""
        console.print(Text(line, style=style))


# --------------------------------------------------------------------------------------------
# errors, warnings and the summary (stderr)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def error_lines(result: RunResult) -> list[str]:
    """``error: path: message`` for every path or file that could not be processed."""
    lines = [f"error: {display_path(p)}: {_one_line(msg)}" for p, msg in result.discovery_errors]
    for file in result.failed:
        lines.append(f"error: {display_path(file.path)}: {_one_line(file.error or file.status)}")
    return lines


def write_errors(result: RunResult, stream: IO[str] | None = None) -> None:
    lines = error_lines(result)
    if lines:
        write_text(stream if stream is not None else sys.stderr, "\n".join(lines) + "\n")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


_STATUS_LABELS: dict[str, dict[FileStatus, str]] = {
    "check": {"unchanged": "unchanged", "would-change": "fixable"},
    "apply": {
        "changed": "changed",
        "would-change": "would change",
        "unchanged": "unchanged",
        "skipped": "skipped",
    },
    "revert": {
        "reverted": "restored",
        "would-change": "would restore",
        "already-original": "already original",
        "refused": "refused",
    },
}


def summary_line(command: Command, result: RunResult, *, dry_run: bool = False) -> str:
    """One line like ruff's: what was scanned, what happened per status, findings per rule.

    ``Scanned 12 files (3 parsed) in 0.41s: 2 changed, 10 unchanged, 1 failed;
    findings: SSC001×2, SSC002×1 (1 more fixable with --unsafe-fixes)``
    """
    n = len(result.files)
    failed_files = result.count("error") + len(result.discovery_errors)
    if command == "revert":
        head = f"Found {_plural(n, 'backup')} in {result.elapsed:.2f}s"
    else:
        head = f"Scanned {_plural(n, 'file')} ({result.parsed} parsed) in {result.elapsed:.2f}s"

    parts: list[str] = []
    if command == "check":
        with_findings = sum(1 for f in result.files if f.findings)
        clean = sum(1 for f in result.files if not f.findings and f.status != "error")
        parts += [f"{with_findings} with findings", f"{clean} clean"]
    else:
        for status, label in _STATUS_LABELS[command].items():
            count = result.count(status)
            always = ("would-change" if dry_run else "changed", "unchanged")
            if count or (command == "apply" and status in always):
                parts.append(f"{count} {label}")
    if failed_files:
        parts.append(f"{failed_files} failed")
    line = f"{head}: {', '.join(parts)}" if parts else head

    by_code = result.findings_by_code()
    if command != "revert":
        if by_code:
            listed = ", ".join(f"{code}×{count}" for code, count in by_code.items())
            line += f"; findings: {listed}"
        else:
            line += "; no findings"
        hints: list[str] = []
        if command == "check" and result.fixable:
            hints.append(f"{result.fixable} fixable with `ssot-codemod apply`")
        if result.unsafe_fixable:
            more = "more " if command == "check" and result.fixable else ""
            hints.append(f"{result.unsafe_fixable} {more}fixable with --unsafe-fixes")
        if hints:
            line += f" ({'; '.join(hints)})"
    return line


def write_summary(
    command: Command, result: RunResult, stream: IO[str] | None = None, *, dry_run: bool = False
) -> None:
    line = summary_line(command, result, dry_run=dry_run)
    if result.project is not None and command != "revert":
        from ssot_codemod.project.run import summary_lines

        for extra in summary_lines(result.project, writes=command == "apply" and not dry_run):
            line += "\n" + extra
    hint = helper_module_hint(result, dry_run=dry_run) if command == "apply" else None
    if hint:
        line += "\n" + hint
    for recount in result.baselines:
        line += "\n" + baseline_line(recount, dry_run=dry_run)
    write_text(stream if stream is not None else sys.stderr, line + "\n")


def baseline_line(recount: BaselineRecount, *, dry_run: bool = False) -> str:
    """What ``revert`` did to a quarantine baseline above the files it restored."""
    shown = display_path(recount.path)
    if not recount.quarantined:
        verb = "would be removed" if dry_run else "removed"
        return f"Quarantine baseline {shown} {verb}: no quarantined test left"
    verb = "would list" if dry_run else "now lists"
    return f"Quarantine baseline {shown} {verb} {_plural(recount.quarantined, 'quarantined test')}"


# --------------------------------------------------------------------------------------------
# one helper per codebase: the --helper-module hint


def _defines_helper(text: str | None) -> bool:
    needle = f"def {HELPER_NAME}("
    return text is not None and (text.startswith(needle) or f"\n{needle}" in text)


def helper_copies(result: RunResult) -> tuple[Path, ...]:
    """The files this run gave (or would give) their own copy of the helper (not counting the
    ``--helper-module`` file, which is where the one copy belongs)."""
    return tuple(
        f.path
        for f in result.files
        if f.status in ("changed", "would-change")
        and f.path != result.helper_module_path
        and _defines_helper(f.new)
        and not _defines_helper(f.original)
    )


def suggest_helper_module(paths: Sequence[Path]) -> str:
    """A module name for the shared helper, from the common directory of *paths*.

    Inside a package (directories with ``__init__.py`` up from the common directory), a private
    module of that package: ``pkg.tests._async_compat``; otherwise a module in the common
    directory itself, ``tests.async_compat``, or ``async_compat`` when its name is not one.
    """
    directories = [os.path.dirname(os.path.abspath(path)) for path in paths]
    try:
        common = Path(os.path.commonpath(directories))
    except ValueError:  # different drives
        return "async_compat"
    package: list[str] = []
    directory = common
    while (directory / "__init__.py").is_file() and directory.name.isidentifier():
        package.insert(0, directory.name)
        if directory.parent == directory:
            break
        directory = directory.parent
    if package:
        return ".".join([*package, "_async_compat"])
    return f"{common.name}.async_compat" if common.name.isidentifier() else "async_compat"


def helper_module_hint(result: RunResult, *, dry_run: bool = False) -> str | None:
    """For 2+ modules given a copy of the helper: how to share one instead."""
    copies = helper_copies(result)
    if len(copies) < 2:
        return None
    name = suggest_helper_module(copies)
    return (
        f"hint: {len(copies)} modules {'would get' if dry_run else 'got'} their own copy of "
        f"{HELPER_NAME}; to share one, {'' if dry_run else 'revert, then '}apply with "
        f'`--helper-module {name}` (or helper-module = "{name}" in [tool.ssot-codemod])'
    )


# --------------------------------------------------------------------------------------------
# --helper-module and --verify (stderr)


def helper_module_line(result: RunResult, *, dry_run: bool = False) -> str | None:
    """What happened to the ``--helper-module`` file, or None if it was left alone."""
    path = result.helper_module_path
    if path is None:
        return None
    file = next((f for f in result.files if f.path == path), None)
    if file is None or file.status not in ("changed", "would-change"):
        return None
    shown = display_path(path)
    if path in file.created:
        return f"{'Would create' if dry_run else 'Created'} helper module {shown}"
    return f"{'Would add' if dry_run else 'Added'} run_coroutine_sync to helper module {shown}"


VERIFY_TAIL_LINES = 20


def verify_lines(verify: VerifyResult, rollback: RunResult | None) -> list[str]:
    """The report of an ``apply --verify`` run: passed, or the output tail and the rollback."""
    if verify.passed:
        return [f"verified: {verify.command} passed"]
    lines: list[str] = []
    if verify.error is not None:
        lines.append(f"verify failed: {verify.error}")
    else:
        tail = verify.output.splitlines()[-VERIFY_TAIL_LINES:]
        if tail:
            lines.append(f"--- last {len(tail)} lines of output of: {verify.command}")
            lines.extend(tail)
            lines.append("---")
        lines.append(f"verify failed: {verify.command} exited with status {verify.returncode}")
    if rollback is not None:
        restored = rollback.count("reverted")
        line = f"rolled back {_plural(restored, 'file')}"
        if rollback.failed:
            line += f"; {_plural(len(rollback.failed), 'file')} could not be restored"
        lines.append(line)
    return lines


def write_verify(
    verify: VerifyResult, rollback: RunResult | None, stream: IO[str] | None = None
) -> None:
    text = "\n".join(verify_lines(verify, rollback)) + "\n"
    write_text(stream if stream is not None else sys.stderr, text)
