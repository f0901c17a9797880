"""The ``ssot-codemod`` command line: click options -> :mod:`ssot_codemod.api` -> :mod:`report`.

No LibCST and no file handling here. Never prompts (git hooks have no TTY).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, cast

import click

from ssot_codemod import __version__
from ssot_codemod.api import (
    Options,
    RunResult,
    VerifyResult,
    apply_paths,
    check_paths,
    resolve_rules,
    rollback,
    run_verify,
    split_command,
)
from ssot_codemod.api import revert_paths as api_revert_paths
from ssot_codemod.config import ConfigError, is_dotted_name, load_config
from ssot_codemod.report import (
    OUTPUT_FORMATS,
    Command,
    OutputFormat,
    colour_enabled,
    display_path,
    exit_code,
    format_text,
    helper_module_line,
    write_diffs,
    write_errors,
    write_findings,
    write_summary,
    write_text,
    write_verify,
)

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from ssot_codemod.rules.base import Rule

__all__ = ["cli", "main"]

F = TypeVar("F", bound=Callable[..., Any])

CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# The progress bar appears only for runs this long and this large (and on a terminal).
_PROGRESS_DELAY = 1.0
_PROGRESS_MIN_FILES = 20


def _usage_error(message: str) -> NoReturn:
    """One line on stderr and exit status 2 (click's UsageError prints the whole usage)."""
    click.echo(f"error: {message}", err=True)
    raise click.exceptions.Exit(2)


# --------------------------------------------------------------------------------------------
# shared options


def _paths_argument(f: F) -> F:
    return click.argument("paths", nargs=-1, type=click.Path(path_type=Path), metavar="[PATH]...")(
        f
    )


def _display_options(f: F) -> F:
    for decorator in reversed(
        [
            click.option("-q", "--quiet", is_flag=True, help="No summary or progress bar."),
            click.option("-v", "--verbose", is_flag=True, help="Say what happened to every file."),
            click.option(
                "--no-color", is_flag=True, help="No colour (the NO_COLOR variable also works)."
            ),
        ]
    ):
        f = decorator(f)
    return f


def _rule_options(f: F) -> F:
    for decorator in reversed(
        [
            click.option(
                "--select",
                multiple=True,
                metavar="CODES",
                help="Comma-separated rule codes or prefixes to enable (default: all).",
            ),
            click.option(
                "--ignore",
                multiple=True,
                metavar="CODES",
                help="Comma-separated rule codes or prefixes to disable.",
            ),
            click.option(
                "--exclude",
                multiple=True,
                metavar="GLOB",
                help="Skip paths matching GLOB (gitignore syntax); repeatable.",
            ),
            click.option(
                "--unsafe-fixes/--no-unsafe-fixes",
                default=None,
                help="Also apply fixes that may change behaviour.",
            ),
            click.option(
                "--helper-module",
                metavar="DOTTED.PATH",
                help="Import run_coroutine_sync from this module instead of defining it "
                "in every rewritten file.",
            ),
            click.option(
                "-j",
                "--jobs",
                type=click.IntRange(min=1),
                metavar="N",
                help="Parallel worker processes (default: CPU count).",
            ),
        ]
    ):
        f = decorator(f)
    return f


def _split_codes(values: Sequence[str], flag: str) -> tuple[str, ...]:
    codes = tuple(
        part.strip().upper() for value in values for part in value.split(",") if part.strip()
    )
    if values and not codes:
        _usage_error(f"{flag} needs at least one rule code")
    return codes


def _build_options(
    paths: Sequence[Path],
    *,
    select: Sequence[str],
    ignore: Sequence[str],
    exclude: Sequence[str],
    unsafe_fixes: bool | None,
    helper_module: str | None,
    jobs: int | None,
    verbose: bool,
) -> Options:
    """Merge configuration (nearest pyproject.toml from the first PATH) and flags; flags win."""
    start = paths[0] if paths else Path.cwd()
    try:
        config, config_path = load_config(start)
    except ConfigError as exc:
        _usage_error(str(exc))
    if verbose and config_path is not None:
        click.echo(f"Using configuration from {display_path(config_path)}", err=True)

    select_codes: tuple[str, ...] | None
    if select:
        select_codes = _split_codes(select, "--select")
    elif "select" in config:
        select_codes = tuple(code.upper() for code in config["select"])
    else:
        select_codes = None
    ignore_codes = (
        _split_codes(ignore, "--ignore")
        if ignore
        else tuple(code.upper() for code in config.get("ignore", ()))
    )
    if helper_module is not None and not is_dotted_name(helper_module):
        _usage_error(f"--helper-module must be a dotted module name, not {helper_module!r}")

    options = Options(
        select=select_codes,
        ignore=ignore_codes,
        exclude=(*config.get("exclude", ()), *config.get("extend-exclude", ()), *exclude),
        unsafe_fixes=unsafe_fixes
        if unsafe_fixes is not None
        else bool(config.get("unsafe-fixes", False)),
        helper_module=helper_module if helper_module is not None else config.get("helper-module"),
        jobs=jobs,
        exclude_base=config_path.parent if config_path is not None else None,
        project_root=config_path.parent if config_path is not None else None,
        src=tuple(config_path.parent / entry for entry in config.get("src", ()))
        if config_path is not None
        else (),
    )
    try:
        resolve_rules(options)
    except ValueError as exc:
        _usage_error(" ".join(str(exc).split()))
    return options


# --------------------------------------------------------------------------------------------
# progress


class _LazyProgress:
    """A transient rich progress bar on stderr that appears only when a long run is underway."""

    def __init__(self, *, quiet: bool, no_color: bool, label: str) -> None:
        self.enabled = not quiet and not os.environ.get("CI") and _isatty(sys.stderr)
        self.no_color = no_color or no_color_env()
        self.label = label
        self.started = time.monotonic()
        self.progress: Progress | None = None
        self.task: TaskID | None = None

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.progress is None:
            if total < _PROGRESS_MIN_FILES or time.monotonic() - self.started < _PROGRESS_DELAY:
                return
            from rich.console import Console
            from rich.progress import Progress

            console = Console(file=sys.stderr, no_color=self.no_color)
            self.progress = Progress(console=console, transient=True)
            self.progress.start()
            self.task = self.progress.add_task(self.label, total=total)
        assert self.task is not None
        self.progress.update(self.task, completed=done, total=total)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def no_color_env() -> bool:
    return bool(os.environ.get("NO_COLOR"))


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, OSError, ValueError):
        return False


def _run_with_progress(
    run: Callable[[_LazyProgress], RunResult], *, quiet: bool, no_color: bool, label: str
) -> RunResult:
    progress = _LazyProgress(quiet=quiet, no_color=no_color, label=label)
    try:
        return run(progress)
    finally:
        progress.close()


# --------------------------------------------------------------------------------------------
# reporting shared by the commands


def _verbose_lines(command: Command, result: RunResult) -> None:
    for file in result.files:
        if file.status in ("error", "refused"):
            continue  # reported as errors
        detail: str = file.status
        if command != "revert" and not file.parsed and file.status == "unchanged":
            detail = "unchanged (no candidate pattern)"
        elif file.findings:
            codes = ", ".join(sorted({f.code for f in file.findings}))
            detail = f"{file.status} ({codes})"
        click.echo(f"{display_path(file.path)}: {detail}", err=True)
    if result.project is not None:
        from ssot_codemod.project.run import verbose_lines

        for line in verbose_lines(result.project):
            click.echo(line, err=True)


def _finish(
    command: Command,
    result: RunResult,
    *,
    quiet: bool,
    verbose: bool,
    dry_run: bool = False,
    verify_command: str | None = None,
) -> NoReturn:
    if verbose:
        _verbose_lines(command, result)
    write_errors(result, sys.stderr)
    if not quiet:
        helper_line = helper_module_line(result, dry_run=dry_run)
        if helper_line:
            click.echo(helper_line, err=True)
        write_summary(command, result, sys.stderr, dry_run=dry_run)
    verify: VerifyResult | None = None
    undone: RunResult | None = None
    if verify_command is not None:
        verify, undone = _verify_or_roll_back(result, verify_command, quiet=quiet)
    raise click.exceptions.Exit(exit_code(command, result, verify=verify, rollback=undone))


def _verify_or_roll_back(
    result: RunResult, command: str, *, quiet: bool
) -> tuple[VerifyResult | None, RunResult | None]:
    """Run the --verify command; if it fails (or is interrupted), undo this apply's changes."""
    if not result.count("changed"):
        if not quiet:
            click.echo("nothing changed: --verify command not run", err=True)
        return None, None
    if not quiet:
        click.echo(f"verifying: {command}", err=True)
    try:
        verify = run_verify(command)
    except KeyboardInterrupt:
        restored = rollback(result)
        write_errors(restored, sys.stderr)
        interrupted = VerifyResult(command, 130, "", error="interrupted")
        write_verify(interrupted, restored, sys.stderr)
        raise click.exceptions.Exit(130) from None
    undone = None if verify.passed else rollback(result)
    if undone is not None:
        write_errors(undone, sys.stderr)
    if not (quiet and verify.passed):
        write_verify(verify, undone, sys.stderr)
    return verify, undone


# --------------------------------------------------------------------------------------------
# commands


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="ssot-codemod")
def cli() -> None:
    """Rewrite hand-rolled async setUp bridges (loop.run_until_complete(self.asyncSetUp()))
    into a form that survives a running event loop (pytest-asyncio, async fixtures).

    \b
    Examples:
      ssot-codemod check tests/             # report findings; exit 1 if any
      ssot-codemod apply --dry-run tests/   # show the diff, write nothing
      ssot-codemod apply tests/             # rewrite, keeping <file>.backup
      ssot-codemod revert tests/            # restore the originals byte for byte
      ssot-codemod rules SSC001             # explain a rule
    """


@cli.command(context_settings=CONTEXT_SETTINGS)
@_paths_argument
@_rule_options
@click.option(
    "--output-format",
    type=click.Choice(OUTPUT_FORMATS),
    default="text",
    show_default=True,
    help="How findings are printed on stdout.",
)
@_display_options
def check(
    paths: tuple[Path, ...],
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    exclude: tuple[str, ...],
    unsafe_fixes: bool | None,
    helper_module: str | None,
    jobs: int | None,
    output_format: str,
    quiet: bool,
    verbose: bool,
    no_color: bool,
) -> None:
    """Report findings under PATH (default: .) without writing anything.

    Exit status: 0 nothing found, 1 findings, 2 usage error or a file could not be processed.

    \b
    Examples:
      ssot-codemod check                           # the current directory
      ssot-codemod check tests/ --select SSC001
      ssot-codemod check --output-format github .  # annotations in GitHub Actions
      ssot-codemod check --output-format sarif . > results.sarif
    """
    options = _build_options(
        paths,
        select=select,
        ignore=ignore,
        exclude=exclude,
        unsafe_fixes=unsafe_fixes,
        helper_module=helper_module,
        jobs=jobs,
        verbose=verbose,
    )
    targets = list(paths) or [Path(".")]
    result = _run_with_progress(
        lambda progress: check_paths(targets, options, progress=progress),
        quiet=quiet,
        no_color=no_color,
        label="Checking",
    )
    write_findings(result, cast(OutputFormat, output_format), sys.stdout)
    _finish("check", result, quiet=quiet, verbose=verbose)


@cli.command(context_settings=CONTEXT_SETTINGS)
@_paths_argument
@_rule_options
@click.option("--dry-run", is_flag=True, help="Print a unified diff instead of writing.")
@click.option(
    "--verify",
    "verify_command",
    metavar="COMMAND",
    help="After applying, run COMMAND (split like a shell would, run without one); if it "
    "fails, restore every file this run changed and exit 1.",
)
@_display_options
def apply(
    paths: tuple[Path, ...],
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    exclude: tuple[str, ...],
    unsafe_fixes: bool | None,
    helper_module: str | None,
    jobs: int | None,
    dry_run: bool,
    verify_command: str | None,
    quiet: bool,
    verbose: bool,
    no_color: bool,
) -> None:
    """Rewrite files under PATH (default: .) in place, saving each original as <file>.backup.

    An existing <file>.backup is never overwritten; running apply twice changes nothing the
    second time. Findings apply cannot fix are printed on stdout.

    Exit status: 0 done, 1 (--dry-run) something would change, 2 usage error or a file could
    not be processed.

    \b
    Examples:
      ssot-codemod apply --dry-run tests/          # review the diff first
      ssot-codemod apply tests/
      ssot-codemod apply --unsafe-fixes tests/test_db.py
      ssot-codemod apply --helper-module tests.compat tests/
      ssot-codemod apply --verify "pytest -x tests/e2e" tests/   # roll back if it fails
    """
    if verify_command is not None:
        if dry_run:
            _usage_error("--verify cannot be combined with --dry-run")
        try:
            split_command(verify_command)
        except ValueError as exc:
            _usage_error(f"--verify: {exc}")
    options = _build_options(
        paths,
        select=select,
        ignore=ignore,
        exclude=exclude,
        unsafe_fixes=unsafe_fixes,
        helper_module=helper_module,
        jobs=jobs,
        verbose=verbose,
    )
    targets = list(paths) or [Path(".")]
    result = _run_with_progress(
        lambda progress: apply_paths(targets, options, dry_run=dry_run, progress=progress),
        quiet=quiet,
        no_color=no_color,
        label="Fixing" if not dry_run else "Diffing",
    )
    if dry_run:
        write_diffs(result.files, sys.stdout, colour=colour_enabled(sys.stdout, no_color=no_color))
    else:
        remaining = format_text(result, unapplied_only=True)
        if remaining:
            write_text(sys.stdout, remaining)
    _finish(
        "apply",
        result,
        quiet=quiet,
        verbose=verbose,
        dry_run=dry_run,
        verify_command=verify_command,
    )


@cli.command(context_settings=CONTEXT_SETTINGS)
@_paths_argument
@click.option("--force", is_flag=True, help="Restore even files edited since apply.")
@click.option("--dry-run", is_flag=True, help="List what would be restored; change nothing.")
@_display_options
def revert(
    paths: tuple[Path, ...],
    force: bool,
    dry_run: bool,
    quiet: bool,
    verbose: bool,
    no_color: bool,
) -> None:
    """Restore the files apply changed under PATH (default: .), byte for byte, and remove
    their backups.

    A file edited since apply is refused (exit status 2) unless --force is given.

    \b
    Examples:
      ssot-codemod revert                    # everything under the current directory
      ssot-codemod revert --dry-run tests/   # list what would be restored
      ssot-codemod revert --force tests/test_db.py
    """
    targets = list(paths) or [Path(".")]
    result = _run_with_progress(
        lambda progress: api_revert_paths(targets, force=force, dry_run=dry_run, progress=progress),
        quiet=quiet,
        no_color=no_color,
        label="Reverting",
    )
    if dry_run:
        lines = [
            f"would restore {display_path(f.path)}\n"
            for f in result.files
            if f.status == "would-change"
        ]
        if lines:
            write_text(sys.stdout, "".join(lines))
    _finish("revert", result, quiet=quiet, verbose=verbose, dry_run=dry_run)


@cli.command(context_settings=CONTEXT_SETTINGS)
@click.argument("code", required=False)
def rules(code: str | None) -> None:
    """List the rules, or explain one (what it does, why, example, fix safety).

    \b
    Examples:
      ssot-codemod rules
      ssot-codemod rules SSC001
    """
    from ssot_codemod.rules import ALL_RULES

    if code is None:
        _print_rule_table(ALL_RULES)
        return
    wanted = code.strip().upper()
    for rule in ALL_RULES:
        if rule.code == wanted:
            from ssot_codemod.docs import render_rule

            write_text(sys.stdout, render_rule(rule))
            return
    known = ", ".join(rule.code for rule in ALL_RULES)
    _usage_error(f"unknown rule code {code!r} (known: {known})")


def _print_rule_table(all_rules: Sequence[Rule]) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("Code", no_wrap=True)
    table.add_column("Name", no_wrap=True)
    table.add_column("Fix", no_wrap=True)
    for rule in sorted(all_rules, key=lambda rule: rule.code):
        table.add_row(rule.code, rule.name, rule.fix_safety)
    Console(file=sys.stdout, highlight=False, no_color=no_color_env()).print(table)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="ssot-codemod")
