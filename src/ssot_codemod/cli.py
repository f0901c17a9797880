"""The ``ssot-codemod`` command line: click options -> :mod:`ssot_codemod.api` -> :mod:`report`.

No LibCST and no file handling here. Never prompts (git hooks have no TTY).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, cast

import click

from ssot_codemod import __version__
from ssot_codemod.api import (
    DEFAULT_FILE_TIMEOUT,
    Options,
    ProgressCallback,
    RunResult,
    VerifyResult,
    apply_paths,
    check_paths,
    options_from_config,
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
                "--force-exclude/--no-force-exclude",
                default=None,
                help="Apply the excludes to files named explicitly too (for pre-commit).",
            ),
            click.option(
                "--unsafe-fixes/--no-unsafe-fixes",
                default=None,
                help="Also apply fixes that may change behaviour.",
            ),
            click.option(
                "-j",
                "--jobs",
                type=click.IntRange(min=1),
                metavar="N",
                help="Parallel worker processes (default: the CPUs this process may use).",
            ),
            click.option(
                "--file-timeout",
                type=click.FloatRange(min=0),
                metavar="SECONDS",
                help="Give up on a file (an error; the others go on) after SECONDS "
                f"(default: {DEFAULT_FILE_TIMEOUT:g}; 0: no limit).",
            ),
        ]
    ):
        f = decorator(f)
    return f


def _helper_module_option(*, hidden: bool = False) -> Callable[[F], F]:
    """An apply option. check writes nothing, so it only accepts it (hidden from its --help)
    for command lines that share their options with apply."""
    return click.option(
        "--helper-module",
        metavar="DOTTED.PATH",
        hidden=hidden,
        help="Import run_coroutine_sync from this module instead of defining it "
        "in every rewritten file.",
    )


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
    force_exclude: bool | None = None,
    file_timeout: float | None = None,
    cache: bool = False,
) -> Options:
    """Merge configuration (nearest pyproject.toml from the first PATH) and flags; flags win.

    With *cache*, results are cached in ``cache-dir`` (relative to the configuration file) or
    ``.ssot_codemod_cache`` next to it (without a configuration: in the current directory).
    """
    start = paths[0] if paths else Path.cwd()
    try:
        config, config_path = load_config(start)
    except ConfigError as exc:
        _usage_error(str(exc))
    if verbose and config_path is not None:
        click.echo(f"Using configuration from {display_path(config_path)}", err=True)

    if helper_module is not None and not is_dotted_name(helper_module):
        _usage_error(f"--helper-module must be a dotted module name, not {helper_module!r}")
    options = options_from_config(
        config,
        config_path,
        select=_split_codes(select, "--select") if select else None,
        ignore=_split_codes(ignore, "--ignore") if ignore else None,
        exclude=tuple(exclude),
        unsafe_fixes=unsafe_fixes,
        helper_module=helper_module,
        jobs=jobs,
        force_exclude=force_exclude,
        file_timeout=file_timeout,
        cache=cache,
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


@dataclass(frozen=True)
class _RunFlags:
    """The rule and file options check and apply share (``_rule_options``)."""

    select: tuple[str, ...]
    ignore: tuple[str, ...]
    exclude: tuple[str, ...]
    force_exclude: bool | None
    unsafe_fixes: bool | None
    helper_module: str | None
    jobs: int | None


def _run_over_paths(
    run: Callable[[list[Path], Options, ProgressCallback], RunResult],
    paths: tuple[Path, ...],
    flags: _RunFlags,
    *,
    file_timeout: float | None,
    cache: bool = False,
    quiet: bool,
    verbose: bool,
    no_color: bool,
    label: str,
) -> RunResult:
    """check and apply alike: configuration + flags -> Options, then *run* over PATH (default
    ``.``) behind the progress display."""
    options = _build_options(
        paths,
        select=flags.select,
        ignore=flags.ignore,
        exclude=flags.exclude,
        force_exclude=flags.force_exclude,
        unsafe_fixes=flags.unsafe_fixes,
        helper_module=flags.helper_module,
        jobs=flags.jobs,
        verbose=verbose,
        file_timeout=file_timeout,
        cache=cache,
    )
    targets = list(paths) or [Path(".")]
    return _run_with_progress(
        lambda progress: run(targets, options, progress),
        quiet=quiet,
        no_color=no_color,
        label=label,
    )


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
@_helper_module_option(hidden=True)
@click.option(
    "--output-format",
    type=click.Choice(OUTPUT_FORMATS),
    default="text",
    show_default=True,
    help="How findings are printed on stdout.",
)
@click.option(
    "--no-cache",
    is_flag=True,
    help="Neither read nor write the results cache (.ssot_codemod_cache, or cache-dir).",
)
@_display_options
def check(
    paths: tuple[Path, ...],
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    exclude: tuple[str, ...],
    force_exclude: bool | None,
    unsafe_fixes: bool | None,
    jobs: int | None,
    helper_module: str | None,
    file_timeout: float | None,
    output_format: str,
    no_cache: bool,
    quiet: bool,
    verbose: bool,
    no_color: bool,
) -> None:
    """Report findings under PATH (default: .) without changing them.

    Results are cached in .ssot_codemod_cache/ (or cache-dir) so that a second check over
    unchanged files is fast; --no-cache writes nothing at all.

    Exit status: 0 nothing found, 1 findings, 2 usage error or a file could not be processed.

    \b
    Examples:
      ssot-codemod check                           # the current directory
      ssot-codemod check tests/ --select SSC001
      ssot-codemod check --output-format github .  # annotations in GitHub Actions
      ssot-codemod check --output-format sarif . > results.sarif
    """
    result = _run_over_paths(
        lambda targets, options, progress: check_paths(targets, options, progress=progress),
        paths,
        _RunFlags(select, ignore, exclude, force_exclude, unsafe_fixes, helper_module, jobs),
        file_timeout=file_timeout,
        cache=not no_cache,
        quiet=quiet,
        verbose=verbose,
        no_color=no_color,
        label="Checking",
    )
    write_findings(result, cast(OutputFormat, output_format), sys.stdout)
    _finish("check", result, quiet=quiet, verbose=verbose)


@cli.command(context_settings=CONTEXT_SETTINGS)
@_paths_argument
@_rule_options
@_helper_module_option()
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
    force_exclude: bool | None,
    unsafe_fixes: bool | None,
    helper_module: str | None,
    jobs: int | None,
    file_timeout: float | None,
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
    result = _run_over_paths(
        lambda targets, options, progress: apply_paths(
            targets, options, dry_run=dry_run, progress=progress
        ),
        paths,
        _RunFlags(select, ignore, exclude, force_exclude, unsafe_fixes, helper_module, jobs),
        file_timeout=file_timeout,
        quiet=quiet,
        verbose=verbose,
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
    from ssot_codemod.rules import ALL_RULES, KNOWN_CODES

    if code is None:
        _print_rule_table(ALL_RULES)
        return
    wanted = code.strip().upper()
    for rule in ALL_RULES:
        if rule.code == wanted:
            from ssot_codemod.docs import render_rule

            write_text(sys.stdout, render_rule(rule))
            return
    known = ", ".join(KNOWN_CODES)
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


# --------------------------------------------------------------------------------------------
# adoption: quarantine / release, guard (issue 15)


@cli.command(context_settings=CONTEXT_SETTINGS)
@_paths_argument
@click.option(
    "--run",
    "run_command",
    metavar="COMMAND",
    help="The pytest command line to run (split like a shell would, run without one); the "
    "tool adds its own --junitxml.",
)
@click.option(
    "--junit-xml",
    "junit_xml",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Read these JUnit XML results instead of running tests.",
)
@click.option(
    "--release",
    is_flag=True,
    help="Run the quarantined tests without their markers; unmark those that pass.",
)
@click.option("--dry-run", is_flag=True, help="Print the diff instead of writing.")
@click.option("--no-rerun", is_flag=True, help="Do not rerun failures to detect flaky tests.")
@click.option(
    "--root",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Project root: where COMMAND runs and test ids are resolved (default: .).",
)
@click.option(
    "--output-format",
    type=click.Choice(("text", "json")),
    default="text",
    show_default=True,
    help="How the per-test outcome is printed on stdout.",
)
@_display_options
def quarantine(
    paths: tuple[Path, ...],
    run_command: str | None,
    junit_xml: Path | None,
    release: bool,
    dry_run: bool,
    no_rerun: bool,
    root: Path | None,
    output_format: str,
    quiet: bool,
    verbose: bool,
    no_color: bool,
) -> None:
    """Mark the tests that fail under PATH (default: .) with
    @unittest.skip("ssot-quarantine: <first line of the failure>"), so the suite is green and
    every other test keeps running; count them in .ssot-quarantine.json.

    A failure that passes on an immediate rerun is reported as flaky, not marked. Collection
    errors are reported per file. Files keep a <file>.backup; `revert` undoes apply and
    quarantine together. With --release, the quarantined tests run without their markers (in
    a temporary copy of the project) and those that pass are unmarked.

    Exit status: 0 done; 1 --dry-run would change something, or a failing test could not be
    marked, or a file could not be collected; 2 usage error or a file could not be written.

    \b
    Examples:
      ssot-codemod quarantine --run "pytest -q tests" tests/
      ssot-codemod quarantine --junit-xml results.xml tests/
      ssot-codemod quarantine --release --run "pytest -q tests" tests/
    """
    from ssot_codemod.junit import JUnitError
    from ssot_codemod.quarantine import quarantine_tests, release_tests
    from ssot_codemod.quarantine_report import (
        error_lines,
        format_entries,
        format_json,
        quarantine_exit_code,
        summary_line,
        write,
    )

    if (run_command is None) == (junit_xml is None) and not (release and run_command):
        _usage_error("give exactly one of --run COMMAND or --junit-xml FILE")
    if release and run_command is None:
        _usage_error("--release needs --run COMMAND (the tests must run without their markers)")
    if run_command is not None:
        try:
            split_command(run_command)
        except ValueError as exc:
            _usage_error(f"--run: {exc}")
    targets = list(paths) or [Path(".")]
    project = root or Path(".")
    if not quiet and run_command is not None:
        click.echo(f"running: {run_command}", err=True)
    progress = _LazyProgress(quiet=quiet, no_color=no_color, label="Marking")

    def echo(line: str) -> None:
        sys.stderr.write(line)
        sys.stderr.flush()

    stream = None if quiet else echo
    try:
        if release:
            assert run_command is not None
            result = release_tests(
                targets,
                root=project,
                command=run_command,
                dry_run=dry_run,
                progress=progress,
                echo=stream,
            )
        else:
            result = quarantine_tests(
                targets,
                root=project,
                command=run_command,
                junit_xml=junit_xml,
                dry_run=dry_run,
                rerun=not no_rerun,
                progress=progress,
                echo=stream,
            )
    except JUnitError as exc:
        _usage_error(str(exc))
    finally:
        progress.close()
    if output_format == "json":
        write(sys.stdout, format_json(result))
    else:
        if dry_run:
            write_diffs(
                result.files, sys.stdout, colour=colour_enabled(sys.stdout, no_color=no_color)
            )
        write(sys.stdout, format_entries(result, verbose=verbose))
    write(sys.stderr, "".join(error_lines(result)))
    if not quiet:
        click.echo(summary_line(result), err=True)
    raise click.exceptions.Exit(quarantine_exit_code(result))


@cli.command(context_settings=CONTEXT_SETTINGS)
@click.argument("path", required=False, type=click.Path(path_type=Path, exists=True))
@click.option(
    "--conftest",
    "with_conftest",
    is_flag=True,
    help="Also write the runtime guard (a version-checked _callTestMethod wrapper that fails "
    "a test method returning a coroutine) into the root conftest.py.",
)
@click.option("--dry-run", is_flag=True, help="Print the diff instead of writing.")
@_display_options
def guard(
    path: Path | None,
    with_conftest: bool,
    dry_run: bool,
    quiet: bool,
    verbose: bool,
    no_color: bool,
) -> None:
    """Make the next async test that would never run fail the build instead.

    Appends three filterwarnings entries (measured on Python 3.9-3.13 x pytest 7.4-9.2) to the
    pytest configuration PATH (default: .) uses - pyproject.toml, pytest.ini, tox.ini or
    setup.cfg, by pytest's own precedence - keeping its formatting and comments. Idempotent.

    \b
    Examples:
      ssot-codemod guard
      ssot-codemod guard --dry-run .
      ssot-codemod guard --conftest .
    """
    from ssot_codemod.guard import SIDE_EFFECT, UNITTEST_ALTERNATIVE, GuardError, write_guard
    from ssot_codemod.report import unified_diff

    try:
        changes = write_guard(path or Path("."), conftest=with_conftest, dry_run=dry_run)
    except GuardError as exc:
        _usage_error(str(exc))
    changed = False
    for change in changes:
        shown = display_path(change.path)
        if not change.changed:
            if not quiet:
                click.echo(f"{shown}: the guard is already there", err=True)
            continue
        changed = True
        if dry_run:
            diff = unified_diff(
                change.original or "", change.new, change.path, new_file=change.original is None
            )
            write_text(sys.stdout, diff)
        if not quiet:
            verb = "would add" if dry_run else "added"
            where = f" under [{change.section}]" if change.section else ""
            click.echo(
                f"{shown}: {verb} {len(change.added)} guard entr"
                f"{'y' if len(change.added) == 1 else 'ies'}{where}",
                err=True,
            )
    if not quiet and changed:
        click.echo(f"note: {SIDE_EFFECT}", err=True)
    if not quiet:
        click.echo(f"note: {UNITTEST_ALTERNATIVE}", err=True)
    raise click.exceptions.Exit(1 if dry_run and changed else 0)
