"""What ``quarantine`` and ``guard`` print, and their exit codes (decided here, nowhere else).

Per-test lines and JSON go to stdout; the summary goes to stderr, like the other commands.
"""

from __future__ import annotations

import json
import os
from typing import IO, Any

from ssot_codemod.quarantine import EntryStatus, QuarantineResult

__all__ = ["format_entries", "format_json", "quarantine_exit_code", "summary_line"]

EXIT_OK = 0
EXIT_ATTENTION = 1
EXIT_ERROR = 2

_LABELS: dict[EntryStatus, str] = {
    "quarantined": "quarantined",
    "already-quarantined": "already quarantined",
    "flaky": "flaky (not quarantined)",
    "not-marked": "NOT MARKED",
    "collection-error": "COLLECTION ERROR",
    "released": "released",
    "still-quarantined": "still quarantined",
    "not-run": "not run (kept)",
}


def _shown(path: os.PathLike[str] | str | None) -> str | None:
    if path is None:
        return None
    try:
        return os.path.relpath(path).replace(os.sep, "/")
    except ValueError:
        return str(path)


def format_entries(result: QuarantineResult, *, verbose: bool = False) -> str:
    """One line per test worth a look (all of them with *verbose*)."""
    quiet_statuses = {"already-quarantined"} if not verbose else set()
    lines = []
    for entry in result.entries:
        if entry.status in quiet_statuses:
            continue
        label = _LABELS[entry.status]
        if result.dry_run and entry.status in ("quarantined", "released"):
            label = f"would be {label}"
        line = f"{label}: {entry.test_id}"
        if entry.reason:
            line += f" - {entry.reason}"
        if entry.note and (verbose or entry.status in ("not-marked", "collection-error", "flaky")):
            line += f" ({entry.note})"
        lines.append(line + "\n")
    return "".join(lines)


def format_json(result: QuarantineResult) -> str:
    """A JSON object with stable keys: ``summary``, ``entries``, ``files``."""
    summary: dict[str, Any] = {
        "command": result.command,
        "dry_run": result.dry_run,
        "tests_reported": result.tests_reported,
        "markers": result.markers,
        "baseline": _shown(result.baseline),
        "baseline_total": result.baseline_total,
        "tool_seconds": round(result.tool_seconds, 3),
        "run_seconds": round(result.run_seconds, 3),
    }
    for status in _LABELS:
        summary[status.replace("-", "_")] = result.count(status)
    document = {
        "summary": summary,
        "entries": [
            {
                "test_id": e.test_id,
                "status": e.status,
                "reason": e.reason,
                "path": _shown(e.path),
                "qualname": e.qualname,
                "note": e.note,
            }
            for e in result.entries
        ],
        "files": [
            {"path": _shown(f.path), "status": f.status, "error": f.error} for f in result.files
        ],
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def summary_line(result: QuarantineResult) -> str:
    would = "would be " if result.dry_run else ""
    timing = f"tool {result.tool_seconds:.2f}s, tests {result.run_seconds:.1f}s"
    baseline = ""
    if result.baseline is not None:
        baseline = f"; baseline {_shown(result.baseline)}: {result.baseline_total} quarantined"
    if result.command == "release":
        released = result.count("released")
        still = result.baseline_total
        text = f"{would}released {released}, still quarantined {still}"
        if result.count("not-run"):
            text += f" ({result.count('not-run')} not reported by the run)"
        return f"{text} ({timing})"
    parts = [f"{result.tests_reported} tests reported"]
    files = sum(1 for f in result.files if f.status != "error")
    parts.append(
        f"{would}quarantined {result.count('quarantined')} "
        f"({_plural(result.markers, 'marker')} in {_plural(files, 'file')})"
    )
    extra: tuple[EntryStatus, ...] = (
        "already-quarantined",
        "flaky",
        "not-marked",
        "collection-error",
    )
    for status in extra:
        n = result.count(status)
        if n:
            parts.append(f"{n} {_LABELS[status].lower()}")
    return ", ".join(parts) + baseline + f" ({timing})"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def error_lines(result: QuarantineResult) -> list[str]:
    return [f"error: {_shown(f.path)}: {f.error}\n" for f in result.files if f.status == "error"]


def quarantine_exit_code(result: QuarantineResult) -> int:
    """2: a file could not be edited; 1: a dry run would change files, or something needs a
    person (a failing test not marked, a collection error); 0 otherwise (flaky tests are
    reported but do not fail the run)."""
    if result.has_errors:
        return EXIT_ERROR
    if result.dry_run and any(f.status == "would-change" for f in result.files):
        return EXIT_ATTENTION
    if result.count("not-marked") or result.count("collection-error"):
        return EXIT_ATTENTION
    return EXIT_OK


def write(stream: IO[str], text: str) -> None:
    if text:
        stream.write(text)
        stream.flush()
