"""``ssot-codemod-all-repos``: ssot-codemod as an all-repos autofixer, for many repositories.

all-repos (``all-repos-clone`` and ``all_repos.autofix_lib``) clones, branches, commits and
pushes; this module only decides what to do in each repository, through :mod:`ssot_codemod.api`:

1. **Plan**, in the clones ``all-repos-clone`` made: a ``git grep`` for the selected rules'
   byte needles rules most repositories out; the rest get ``apply_paths(dry_run=True)``, which
   writes nothing. A repository with nothing to rewrite gets no branch, no commit, no push.
2. **Fix**, one ``autofix_lib.fix`` call per planned repository (so each commit message can list
   that repository's own findings): ``apply_paths`` in all-repos' fresh clone, ``--verify CMD``
   (a red verify rolls back, so nothing is committed), backups and journals removed, a helper
   module the run created staged. all-repos then runs ``git commit -a`` and its push back-end.
3. **Summary**: repositories scanned, fixed, skipped and why, findings fixed per rule.
"""

from __future__ import annotations

import argparse
import functools
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from ssot_codemod import __version__
from ssot_codemod.api import (
    Options,
    RunResult,
    apply_paths,
    options_from_config,
    resolve_rules,
    rollback,
    run_verify,
    split_command,
)
from ssot_codemod.config import ConfigError, is_dotted_name, load_config
from ssot_codemod.report import error_lines, summary_line, verify_lines

__all__ = ["Flags", "Outcome", "RepoPlan", "commit_message", "main", "plan_repo"]

BRANCH_NAME = "ssot-codemod"
COMMIT_SUBJECT = "ssot-codemod: fix hand-rolled async setUp bridges"
# Files listed by name in a commit message; beyond this, "and N more".
_MAX_LISTED_FILES = 20

_WRITTEN: frozenset[str] = frozenset({"changed", "would-change"})


@dataclass(frozen=True)
class Flags:
    """ssot-codemod's own options; a repository's ``[tool.ssot-codemod]`` fills in the rest."""

    select: tuple[str, ...] | None = None
    unsafe_fixes: bool | None = None
    helper_module: str | None = None
    verify: str | None = None
    jobs: int | None = None  # ssot-codemod's workers inside one repository


@dataclass(frozen=True)
class RepoPlan:
    """What the dry run in the all-repos clone found: the fix to expect in the fresh clone.

    ``fixed`` counts the applied findings per rule in the files the rewrite changes; ``files``
    are those files relative to the repository; ``errors`` are ``path: reason`` lines.
    """

    repo: str
    fixed: tuple[tuple[str, int], ...] = ()
    files: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    problem: str | None = None  # the repository cannot be processed at all

    @property
    def has_fix(self) -> bool:
        return self.problem is None and bool(self.files)


Status = Literal["fixed", "would-fix", "nothing", "skipped", "declined", "errored", "unplanned"]
# Statuses the summary lists as skipped, with their reason; the first two fail the run.
_FAILED: tuple[Status, ...] = ("skipped", "errored")
_NOT_DONE: tuple[Status, ...] = (*_FAILED, "declined", "unplanned")


@dataclass(frozen=True)
class Outcome:
    """What became of one repository; *reason* says why it was skipped."""

    repo: str
    status: Status
    reason: str = ""
    plan: RepoPlan | None = None


# --------------------------------------------------------------------------------------------
# options and plans


def repo_options(repo_dir: Path, flags: Flags) -> Options:
    """The options for one repository: its own ``[tool.ssot-codemod]`` (only a pyproject.toml
    inside the repository counts), overridden by *flags*. Raises ConfigError or ValueError.
    """
    config, config_path = load_config(repo_dir)
    root = repo_dir.resolve()
    if config_path is not None and root not in config_path.resolve().parents:
        config, config_path = {}, None  # found above the repository: not this repository's
    options = options_from_config(
        config,
        config_path,
        select=flags.select,
        unsafe_fixes=flags.unsafe_fixes,
        helper_module=flags.helper_module,
        jobs=flags.jobs,
    )
    resolve_rules(options)
    return options


def _may_match(repo_dir: Path, options: Options) -> bool:
    """The cheap gate: does any tracked ``*.py`` file hold a byte every finding needs?

    Each rule's first needle group is necessary for it (``Rule.could_match`` requires one of
    them), so a repository without any of them cannot have a finding. Not a git checkout, or git
    failed: True (the dry run decides).
    """
    rules = resolve_rules(options)
    if not all(rule.needles for rule in rules):
        return True  # a rule without needles: no gate possible
    needles = sorted({n for rule in rules for n in rule.needles[0]})
    patterns = [arg for needle in needles for arg in ("-e", os.fsdecode(needle))]
    done = subprocess.run(
        ("git", "-C", os.fspath(repo_dir), "grep", "--quiet", "-F", *patterns, "--", "*.py"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    return done.returncode != 1


def _summarise(result: RunResult, root: Path) -> tuple[dict[str, int], list[str], list[str]]:
    """Applied findings per rule and the files a (dry-)run rewrites, relative to *root*."""
    fixed: Counter[str] = Counter()
    files: list[str] = []
    for file in result.files:
        if file.status in _WRITTEN:
            fixed.update(f.code for f in file.findings if f.applied)
            files.append(Path(os.path.relpath(file.path, root)).as_posix())
    return dict(sorted(fixed.items())), files, error_lines(result)


def plan_repo(repo: str, *, flags: Flags) -> RepoPlan:
    """Dry-run ssot-codemod in the clone *repo*; never writes. Never raises."""
    repo_dir = Path(repo)
    try:
        options = repo_options(repo_dir, flags)
        if not _may_match(repo_dir, options):
            return RepoPlan(repo)
        result = apply_paths([repo_dir], options, dry_run=True)
    except (ConfigError, ValueError) as exc:
        return RepoPlan(repo, problem=" ".join(str(exc).split()))
    except Exception as exc:  # one repository's surprise must not stop the others
        return RepoPlan(repo, problem=f"internal error: {type(exc).__name__}: {exc}")
    fixed, files, errors = _summarise(result, repo_dir)
    return RepoPlan(repo, tuple(fixed.items()), tuple(files), tuple(errors))


def _rule_names() -> dict[str, str]:
    from ssot_codemod.rules import RULES_BY_CODE

    return {code: rule.name for code, rule in RULES_BY_CODE.items()}


def commit_message(plan: RepoPlan, flags: Flags) -> str:
    """The commit message for *plan*: findings fixed per rule, the files, the verify command."""
    names = _rule_names()
    total = sum(count for _, count in plan.fixed)
    n_files = len(plan.files)
    lines = [
        COMMIT_SUBJECT,
        "",
        f"ssot-codemod {__version__} fixed {_plural(total, 'finding')} "
        f"in {_plural(n_files, 'file')}:",
        "",
    ]
    lines += [f"- {code} {names.get(code, '?')}: {count}" for code, count in plan.fixed]
    lines += ["", "Files:"]
    lines += [f"- {name}" for name in plan.files[:_MAX_LISTED_FILES]]
    if n_files > _MAX_LISTED_FILES:
        lines.append(f"- and {n_files - _MAX_LISTED_FILES} more")
    if flags.verify is not None:
        lines += ["", f"Verified with: {flags.verify}"]
    return "\n".join(lines)


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {plural or word + 's'}"


# --------------------------------------------------------------------------------------------
# fixing one repository (all-repos calls these inside its fresh clone, the working directory)


@dataclass
class _State:
    """What happened in one repository, filled in by the callbacks below (same process)."""

    skip: str | None = None
    applied: bool = False
    diff: bool = False
    pushed: bool = False


def _say(text: str) -> None:
    print(text, flush=True)  # all-repos writes its per-repository log to stdout; so do we


def apply_fix(*, plan: RepoPlan, flags: Flags, state: _State) -> None:
    """Rewrite the fresh clone (cwd); on any doubt, leave it as it was so nothing is committed."""
    root = Path.cwd()
    try:
        options = repo_options(root, flags)
    except (ConfigError, ValueError) as exc:
        state.skip = " ".join(str(exc).split())
        return
    result = apply_paths([Path(".")], options)
    fixed, files, errors = _summarise(result, root)
    for line in (*errors, summary_line("apply", result)):
        _say(line)
    if (tuple(fixed.items()), tuple(files)) != (plan.fixed, plan.files):
        _undo(result, root)
        state.skip = (
            "the default branch differs from the all-repos clone (run all-repos-clone again): "
            f"expected {_plural(len(plan.files), 'file')} to change, got {len(files)}"
        )
        return
    if flags.verify is not None:
        _say(f"verifying: {flags.verify}")
        verify = run_verify(flags.verify, cwd=root)
        if not verify.passed:
            undone = _undo(result, root)
            for line in verify_lines(verify, undone):
                _say(line)
            state.skip = (
                f"--verify failed: {verify.error}"
                if verify.error is not None
                else f"--verify failed: {verify.command} exited with status {verify.returncode}"
            )
            return
        _say(f"verified: {flags.verify} passed")
    _drop_backups(result)
    created = _stage_created(result, root)
    _keep_only({*files, *created}, root)
    state.applied = True


def _undo(result: RunResult, root: Path) -> RunResult:
    """Roll back this apply and whatever else changed tracked files (a failed ``--verify`` may
    have written some), so all-repos finds no difference and commits nothing. If the rollback
    is incomplete, reset the (throw-away) clone with git."""
    undone = rollback(result)
    if undone.failed:
        _git(root, "reset", "--quiet", "--hard")
        _git(root, "clean", "--quiet", "-fd")
    else:
        _keep_only(set(), root)
    return undone


def _drop_backups(result: RunResult) -> None:
    """Delete the backups and journals apply made: the clone is thrown away after the push and
    git holds the originals, and a file that is not there can never be committed."""
    from ssot_codemod.backup import JOURNAL_NAME, backup_path_for

    for file in result.files:
        if file.status == "changed" and file.path not in file.created:
            backup_path_for(file.path).unlink(missing_ok=True)
            (file.path.parent / JOURNAL_NAME).unlink(missing_ok=True)


def _stage_created(result: RunResult, root: Path) -> list[str]:
    """``git add`` the files apply created (a ``--helper-module`` and its ``__init__.py``s):
    all-repos commits with ``git commit -a``, which takes only files git already tracks."""
    created = [p for f in result.files for p in f.created if p.is_file() and not p.is_symlink()]
    names = [Path(os.path.relpath(p, root)).as_posix() for p in created]
    if names:
        _git(root, "add", "--", *names)
    return names


def _keep_only(allowed: set[str], root: Path) -> None:
    """Put back every tracked path that differs from HEAD but is not in *allowed*.

    ``git commit -a`` would take them all: a file ``--verify`` regenerated, a journal or backup
    someone once committed by mistake. Only what ssot-codemod rewrote or created is committed.
    """
    listed = _git(root, "diff", "--name-only", "--no-renames", "-z", "HEAD")
    stray = sorted({p for p in listed.split("\0") if p and p not in allowed})
    if not stray:
        return
    _git(root, "reset", "--quiet", "--", *stray)  # unstage; paths new in the index go untracked
    tracked = [p for p in _git(root, "ls-files", "-z", "--", *stray).split("\0") if p]
    if tracked:
        _git(root, "checkout", "--quiet", "--", *tracked)
    _say("not committed (not written by ssot-codemod): " + ", ".join(stray))


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ("git", "--literal-pathspecs", "-C", os.fspath(root), *args),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        check=True,
    )
    return done.stdout.decode("utf-8", "surrogateescape")


def _check_fix(*, state: _State) -> None:
    """all-repos calls this only when the clone differs from the default branch."""
    state.diff = True


def _push(
    settings: Any, branch_name: str, *, push: Callable[[Any, str], None], state: _State
) -> None:
    push(settings, branch_name)
    state.pushed = True


def fix_repo(
    plan: RepoPlan, *, config: Any, commit: Any, autofix_settings: Any, flags: Flags
) -> Outcome:
    """Run all-repos' ``fix`` for one planned repository and say what became of it."""
    from all_repos import autofix_lib

    state = _State()
    autofix_lib.fix(
        [plan.repo],
        apply_fix=functools.partial(apply_fix, plan=plan, flags=flags, state=state),
        check_fix=functools.partial(_check_fix, state=state),
        config=config._replace(push=functools.partial(_push, push=config.push, state=state)),
        commit=commit._replace(msg=commit_message(plan, flags)),
        autofix_settings=autofix_settings._replace(jobs=1),  # the repositories are our jobs
    )
    if state.skip is not None:
        return Outcome(plan.repo, "skipped", state.skip, plan)
    if not state.applied:
        return Outcome(plan.repo, "errored", "error in all-repos or the apply (see above)", plan)
    if not state.diff:
        return Outcome(plan.repo, "nothing", "the rewrite left no difference", plan)
    if autofix_settings.dry_run:
        return Outcome(plan.repo, "would-fix", "", plan)
    if state.pushed:
        return Outcome(plan.repo, "fixed", "", plan)
    if autofix_settings.interactive:
        return Outcome(plan.repo, "declined", "not approved (or commit/push failed)", plan)
    return Outcome(plan.repo, "errored", "commit or push failed (see above)", plan)


# --------------------------------------------------------------------------------------------
# summary and command line


def _cloned_repos(config: Any) -> list[str]:
    return [os.path.join(config.output_dir, repo) for repo in config.get_cloned_repos()]


def write_summary(
    outcomes: Sequence[Outcome], scanned: int, stream: IO[str], *, dry_run: bool
) -> None:
    """What happened, per repository and in total; findings fixed per rule."""
    by_status: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        by_status.setdefault(outcome.status, []).append(outcome)
    done = by_status.get("would-fix" if dry_run else "fixed", [])
    skipped = [o for o in outcomes if o.status in _NOT_DONE]
    clean = len(by_status.get("nothing", []))
    verb = "would fix" if dry_run else "fixed"
    lines = [
        f"ssot-codemod-all-repos: {_plural(scanned, 'repository', 'repositories')} scanned: "
        f"{len(done)} {verb}, {len(skipped)} skipped, {clean} with nothing to fix"
    ]
    for outcome in done:
        files = outcome.plan.files if outcome.plan is not None else ()
        lines.append(f"  {verb}: {outcome.repo} ({_plural(len(files), 'file')})")
    for outcome in skipped:
        lines.append(f"  {outcome.status}: {outcome.repo}: {outcome.reason}")
    for outcome in outcomes:
        if outcome.plan is not None and outcome.plan.errors:
            for error in outcome.plan.errors:
                lines.append(f"  {outcome.repo}: {error}")
    totals: Counter[str] = Counter()
    for outcome in done:
        if outcome.plan is not None:
            totals.update(dict(outcome.plan.fixed))
    if totals:
        listed = ", ".join(f"{code}×{count}" for code, count in sorted(totals.items()))
        lines.append(f"findings {verb}: {listed}")
    else:
        lines.append(f"findings {verb}: none")
    stream.write("\n".join(lines) + "\n")
    stream.flush()


def _codes(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(p.strip().upper() for v in values for p in v.split(",") if p.strip())


_EXAMPLES = """\
examples:
  all-repos-clone -C all-repos.json
  ssot-codemod-all-repos -C all-repos.json --dry-run         # the diffs; nothing pushed
  ssot-codemod-all-repos -C all-repos.json --verify "python -m pytest -x -q" -j 4
"""


def build_parser() -> argparse.ArgumentParser:
    from all_repos import autofix_lib

    parser = argparse.ArgumentParser(
        prog="ssot-codemod-all-repos",
        description=(
            "Run `ssot-codemod apply` in every repository all-repos manages that has something "
            "to fix, commit the rewrite and push it with the configured push back-end."
        ),
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    autofix_lib.add_fixer_args(parser)
    parser.add_argument(
        "--select",
        action="append",
        metavar="CODES",
        help="comma-separated rule codes or prefixes to apply (default: the repository's "
        "[tool.ssot-codemod] select, else all).",
    )
    parser.add_argument(
        "--unsafe-fixes",
        action="store_true",
        default=None,
        help="also apply fixes that may change behaviour.",
    )
    parser.add_argument(
        "--helper-module",
        metavar="DOTTED.NAME",
        help="import run_coroutine_sync from this module (created and committed if missing).",
    )
    parser.add_argument(
        "--verify",
        metavar="CMD",
        help="run CMD in each rewritten clone (no shell); if it fails, roll back and skip "
        "that repository.",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Exit status: 0, or 1 when a repository was skipped or errored (the summary says why)."""
    try:
        from all_repos import autofix_lib, mapper
    except ImportError:
        raise SystemExit(
            "ssot-codemod-all-repos needs all-repos (Python 3.10+): "
            "pip install 'ssot-codemod[all-repos]'"
        ) from None

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.helper_module is not None and not is_dotted_name(args.helper_module):
        parser.error(f"--helper-module must be a dotted module name, not {args.helper_module!r}")
    if args.verify is not None:
        try:
            split_command(args.verify)
        except ValueError as exc:
            parser.error(f"--verify: {exc}")
    select = _codes(args.select) if args.select else None
    if args.select and not select:
        parser.error("--select needs at least one rule code")
    flags = Flags(
        select=select,
        unsafe_fixes=args.unsafe_fixes,
        helper_module=args.helper_module,
        verify=args.verify,
        jobs=1 if args.jobs > 1 else None,
    )
    try:
        resolve_rules(Options(select=select))
    except ValueError as exc:
        parser.error(" ".join(str(exc).split()))

    repos, config, commit, autofix_settings = autofix_lib.from_cli(
        args, find_repos=_cloned_repos, msg=COMMIT_SUBJECT, branch_name=BRANCH_NAME
    )
    repos = list(repos)
    with mapper.process_mapper(args.jobs) as do_map:
        plans = list(do_map(functools.partial(plan_repo, flags=flags), repos))

    outcomes: list[Outcome] = [
        Outcome(p.repo, "skipped", p.problem, p) for p in plans if p.problem is not None
    ]
    outcomes += [
        Outcome(p.repo, "nothing", "", p) for p in plans if not p.has_fix and not p.problem
    ]
    todo = [p for p in plans if p.has_fix]
    if args.limit is not None:
        outcomes += [
            Outcome(p.repo, "unplanned", f"not processed (--limit {args.limit})", p)
            for p in todo[args.limit :]
        ]
        todo = todo[: args.limit]
    fix_one = functools.partial(
        fix_repo, config=config, commit=commit, autofix_settings=autofix_settings, flags=flags
    )
    with mapper.process_mapper(args.jobs) as do_map:
        outcomes += list(do_map(fix_one, todo))

    sys.stdout.flush()
    write_summary(outcomes, len(repos), sys.stderr, dry_run=args.dry_run)
    return 1 if any(o.status in _FAILED for o in outcomes) else 0


if __name__ == "__main__":
    raise SystemExit(main())
