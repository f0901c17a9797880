"""Which files to process, and how their bytes become text and back.

Discovery walks directories with ``os.scandir`` (fast on trees of tens of thousands of files),
honours ``.gitignore`` files (nested ones for their own subtree, plus those of ancestor directories
up to the enclosing git repository root) through :class:`pathspec.GitIgnoreSpec`, skips the usual
junk (:data:`DEFAULT_EXCLUDES`) and never follows symlinks out of the tree.

Decoding follows Python's own rules (:func:`tokenize.detect_encoding`: UTF-8 BOM, ``coding:``
cookies) and never normalises line endings, so :func:`encode_source` gives back the exact bytes.
"""

from __future__ import annotations

import io
import os
import stat
import subprocess
import tokenize
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pathspec

from ssot_codemod.types import EngineError

__all__ = [
    "PROJECT_ROOT_MARKERS",
    "absolute_paths",
    "common_directory",
    "DEFAULT_EXCLUDES",
    "Discovery",
    "SourceText",
    "discover",
    "encode_source",
    "listing_digest",
    "read_source",
]

DEFAULT_EXCLUDES: tuple[str, ...] = (
    ".git/",
    ".hg/",
    ".venv/",
    "venv/",
    ".tox/",
    ".nox/",
    "node_modules/",
    "__pycache__/",
    "build/",
    "dist/",
    ".eggs/",
    ".mypy_cache/",
    ".ruff_cache/",
    ".pytest_cache/",
    ".ssot-codemod/",
    "*.backup",
)

_GITIGNORE = ".gitignore"


@dataclass(frozen=True)
class Discovery:
    """The files to process (sorted, no duplicates) and the paths that could not be walked."""

    files: tuple[Path, ...]
    errors: tuple[tuple[Path, str], ...]
    # What the result was decided from, for a results cache that skips the walk when nothing
    # changed (:mod:`ssot_codemod.snapshot`): ``watched`` paths by their stat - every directory
    # listed (its mtime changes when an entry is added, removed or renamed), every
    # ``.gitignore`` that was or could have been read, git's index when tracked files were
    # asked about; ``probed`` paths by whether they exist (``.git`` above the walked folders).
    # ``replayable`` is False when something else decided it (a symlink's target).
    watched: tuple[str, ...] = ()
    probed: tuple[str, ...] = ()
    replayable: bool = False
    # Each listed directory's names as the walk saw them (:func:`listing_digest`): a directory
    # changed within the timestamp granularity of the walk is checked by its names instead.
    listings: tuple[tuple[str, str], ...] = ()


def listing_digest(names: Iterable[str]) -> str:
    """A digest of a directory's entry names (any order)."""
    import hashlib

    return hashlib.sha1("\0".join(sorted(names)).encode("utf-8", "surrogateescape")).hexdigest()


# --------------------------------------------------------------------------------------------
# discovery


#: Files whose directory is a project's root (ruff and pytest look for the same ones).
PROJECT_ROOT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", ".git")


def absolute_paths(paths: Sequence[str | os.PathLike[str]]) -> list[str]:
    """``os.path.abspath`` of each of *paths*, asking for the working directory once: per
    path, that system call and the join made up most of the cost (30,000 of them on a 10,000
    file project)."""
    if os.name != "posix":
        return [os.path.abspath(path) for path in paths]
    cwd = os.getcwd()
    join, normpath, isabs = os.path.join, os.path.normpath, os.path.isabs
    out = []
    for path in paths:
        text = os.fspath(path)
        out.append(normpath(text if isabs(text) else join(cwd, text)))
    return out


def common_directory(paths: Sequence[Path]) -> Path | None:
    """The deepest directory holding every PATH (a file counts as its directory; no PATH:
    the working directory); None when they share none (different drives)."""
    dirs = []
    for path in paths or [Path(".")]:
        absolute = os.path.abspath(path)
        dirs.append(absolute if os.path.isdir(absolute) else os.path.dirname(absolute))
    try:
        return Path(os.path.commonpath(dirs))
    except ValueError:
        return None


def _os_reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def _read_gitignore(path: str) -> pathspec.GitIgnoreSpec | None:
    """The spec of one ``.gitignore`` file, None if it has no patterns. OSError propagates."""
    with open(path, "rb") as fh:
        data = fh.read()
    lines = data.decode("utf-8", errors="replace").splitlines()
    spec = pathspec.GitIgnoreSpec.from_lines(lines)
    return spec if len(spec.patterns) else None


def _find_repo_root(start: str) -> str | None:
    """The nearest directory at or above *start* (a real path) that contains ``.git``."""
    current = start
    while True:
        if os.path.lexists(os.path.join(current, ".git")):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


class _GitTracked:
    """Which files git tracks, asked once per repository (``git ls-files``) and only when a
    ``.gitignore`` pattern matches something: git never ignores a tracked file, so neither
    does discovery. Without git (or outside a work tree) nothing counts as tracked."""

    def __init__(self) -> None:
        self._repos: dict[str, tuple[frozenset[str], frozenset[str]] | None] = {}

    def _load(self, repo: str) -> tuple[frozenset[str], frozenset[str]] | None:
        if repo not in self._repos:
            self._repos[repo] = self._ls_files(repo)
        return self._repos[repo]

    @staticmethod
    def _ls_files(repo: str) -> tuple[frozenset[str], frozenset[str]] | None:
        try:
            completed = subprocess.run(
                ["git", "-C", repo, "ls-files", "-z"],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=60,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        if completed.returncode != 0:
            return None
        files = frozenset(os.fsdecode(p) for p in completed.stdout.split(b"\0") if p)
        dirs = {"/".join(f.split("/")[:i]) + "/" for f in files for i in range(1, f.count("/") + 1)}
        return files, frozenset(dirs)

    def index_files(self) -> list[str]:
        """Git's index file of every repository asked about (``git ls-files`` reads it)."""
        out = []
        for repo in self._repos:
            dot_git = os.path.join(repo, ".git")
            git_dir = dot_git
            if os.path.isfile(dot_git):  # a worktree or submodule: "gitdir: <path>"
                try:
                    with open(dot_git, encoding="utf-8", errors="replace") as fh:
                        line = fh.readline().strip()
                except OSError:
                    line = ""
                if line.startswith("gitdir:"):
                    git_dir = os.path.join(repo, line[len("gitdir:") :].strip())
                out.append(dot_git)
            out.append(os.path.join(git_dir, "index"))
        return out

    def tracked(self, repo: str | None, repo_rel: str) -> bool:
        """Whether *repo_rel* ("/"-separated; a trailing "/" asks about a directory holding
        tracked files) is tracked in *repo*."""
        if repo is None:
            return False
        known = self._load(repo)
        if known is None:
            return False
        files, dirs = known
        return repo_rel in (dirs if repo_rel.endswith("/") else files)


# A gitignore scope: (prefix, spec). For a .gitignore inside the walked tree the prefix is its
# directory relative to the walked root ("" for the root, "sub/dir/" deeper), stripped from a
# root-relative path before matching; for an ancestor's .gitignore it is the walked root relative
# to that ancestor, prepended before matching.
_Scope = tuple[str, pathspec.GitIgnoreSpec]


class _Walker:
    def __init__(
        self,
        excludes: pathspec.GitIgnoreSpec | None,
        exclude_base_rel: str | None,
        git: _GitTracked | None = None,
    ) -> None:
        self.excludes = excludes
        # What a file found by the walk is matched against: the excludes but those only a
        # directory can match (:func:`_for_files`), the defaults among them.
        self.file_excludes = _for_files(excludes)
        self.exclude_base_rel = exclude_base_rel
        self.git = git if git is not None else _GitTracked()
        self.repo: str | None = None
        self.repo_prefix = ""  # the walked root relative to the repository, "/"-terminated
        self.candidates: list[tuple[Path, str]] = []  # (path, real path used for dedupe)
        self.errors: list[tuple[Path, str]] = []
        self.watched: list[str] = []  # see Discovery.watched and probed
        self.probed: list[str] = []
        self.listings: list[tuple[str, str]] = []
        self.symlinks = False

    def walk(self, root: Path, suffix: str) -> None:
        root_str = os.fspath(root)
        root_real = os.path.realpath(root_str)

        # .gitignore files of ancestors, up to the repository root (outermost first).
        ancestors: list[_Scope] = []
        repo = _find_repo_root(root_real)
        # The repository and its .gitignore files are found by looking upwards: a .git or a
        # .gitignore appearing above changes the walk (the folders themselves are not watched:
        # /tmp or a home folder change all the time).
        above = root_real
        while True:
            self.probed.append(os.path.join(above, ".git"))
            self.watched.append(os.path.join(above, _GITIGNORE))
            parent = os.path.dirname(above)
            if parent == above:
                break
            above = parent
        self.repo = repo
        if repo is not None and repo != root_real:
            self.repo_prefix = os.path.relpath(root_real, repo).replace(os.sep, "/") + "/"
            rel_to_repo = os.path.relpath(root_real, repo).replace(os.sep, "/")
            parts = rel_to_repo.split("/")
            for depth in range(len(parts)):
                directory = os.path.join(repo, *parts[:depth])
                prefix = "/".join(parts[depth:]) + "/"  # root's path relative to that directory
                gi = os.path.join(directory, _GITIGNORE)
                if os.path.isfile(gi):
                    try:
                        spec = _read_gitignore(gi)
                    except OSError as exc:
                        self.errors.append((Path(gi), _os_reason(exc)))
                        continue
                    if spec is not None:
                        ancestors.append((prefix, spec))
            # A directory the user named explicitly is walked even if an ancestor ignores it.
            ancestors = [
                (prefix, spec)
                for prefix, spec in ancestors
                if spec.check_file(prefix).include is not True
            ]

        self._walk_dir(root, root_str, root_real, "", ancestors, [], suffix)

    def _ignored(
        self,
        rel: str,
        ancestors: list[_Scope],
        nested: list[_Scope],
    ) -> bool:
        """Whether *rel* (root-relative, "/"-separated, trailing "/" for dirs) is ignored."""
        excludes = self.excludes if rel.endswith("/") else self.file_excludes
        if excludes is not None:
            if excludes.match_file(rel):
                return True
            if self.exclude_base_rel is not None and excludes.match_file(
                self.exclude_base_rel + rel
            ):
                return True
        if self._gitignored(rel, ancestors, nested):
            # git never ignores a tracked file (nor a directory that holds one).
            return not self.git.tracked(self.repo, self.repo_prefix + rel)
        return False

    @staticmethod
    def _gitignored(rel: str, ancestors: list[_Scope], nested: list[_Scope]) -> bool:
        # Deepest .gitignore with a matching pattern decides (negations can re-include).
        for prefix, spec in reversed(nested):
            result = spec.check_file(rel[len(prefix) :])
            if result.include is not None:
                return bool(result.include)
        for prefix, spec in reversed(ancestors):
            result = spec.check_file(prefix + rel)
            if result.include is not None:
                return bool(result.include)
        return False

    def _walk_dir(
        self,
        directory: Path,
        dir_str: str,
        root_real: str,
        rel_dir: str,
        ancestors: list[_Scope],
        nested: list[_Scope],
        suffix: str,
    ) -> None:
        try:
            with os.scandir(dir_str) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            self.errors.append((directory, _os_reason(exc)))
            return

        self.watched.append(dir_str)
        names = {e.name for e in entries}
        self.listings.append((dir_str, listing_digest(names)))
        if _GITIGNORE in names:
            gi_path = os.path.join(dir_str, _GITIGNORE)
            self.watched.append(gi_path)
            try:
                spec = _read_gitignore(gi_path)
            except OSError as exc:
                self.errors.append((directory / _GITIGNORE, _os_reason(exc)))
                spec = None
            if spec is not None:
                nested = [*nested, (rel_dir, spec)]

        for entry in entries:
            rel = rel_dir + entry.name
            try:
                is_link = entry.is_symlink()
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError as exc:
                self.errors.append((directory / entry.name, _os_reason(exc)))
                continue
            if is_dir:
                if self._ignored(rel + "/", ancestors, nested):
                    continue
                self._walk_dir(
                    directory / entry.name,
                    entry.path,
                    root_real,
                    rel + "/",
                    ancestors,
                    nested,
                    suffix,
                )
                continue
            if not entry.name.endswith(suffix):
                continue
            if is_link:
                self.symlinks = True
                real = os.path.realpath(entry.path)
                # Symlinked directories are never followed; links leaving the tree are skipped.
                if not os.path.isfile(real) or not _is_within(real, root_real):
                    continue
            else:
                try:
                    if not entry.is_file(follow_symlinks=False):
                        continue
                except OSError:
                    continue
                real = os.path.join(root_real, *rel.split("/"))
            if self._ignored(rel, ancestors, nested):
                continue
            self.candidates.append((directory / entry.name, real))


def _for_files(excludes: pathspec.GitIgnoreSpec | None) -> pathspec.GitIgnoreSpec | None:
    """*excludes* for the files a walk finds: without the patterns that only match what is
    under a directory (``venv/``). Such a pattern matches a file exactly when it matches one
    of the file's directories, which the walk matched already and did not skip (a folder it
    skips is not entered). Only without negations: with them, a later pattern can decide a
    file differently from its folder."""
    if excludes is None:
        return None
    lines = [p.pattern for p in excludes.patterns if isinstance(p.pattern, str)]
    if len(lines) != len(excludes.patterns) or any(p.include is False for p in excludes.patterns):
        return excludes
    kept = [line for line in lines if not line.rstrip(" ").endswith("/")]
    return pathspec.GitIgnoreSpec.from_lines(kept) if kept else None


def _is_within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _rel_prefix(base: Path, root: Path) -> str | None:
    """*root* relative to *base* as a "/"-terminated prefix, None when it is not inside."""
    try:
        rel = os.path.relpath(os.path.realpath(root), os.path.realpath(base))
    except ValueError:  # different drives on Windows
        return None
    if rel == os.curdir:
        return ""
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        return None
    return rel.replace(os.sep, "/") + "/"


def discover(
    paths: Sequence[Path],
    *,
    exclude: Sequence[str] = (),
    extend_default_excludes: bool = True,
    suffix: str = ".py",
    exclude_base: Path | None = None,
    force_exclude: bool = False,
) -> Discovery:
    """Expand *paths* (files and directories) into the sorted list of files to process.

    - A file named explicitly is always included, whatever its suffix or ignore status;
      with *force_exclude* (ruff's ``--force-exclude``, for pre-commit, which names every
      file), the exclude patterns apply to it too (matched against its path relative to
      *exclude_base* and to the current directory).
    - A file git tracks is never skipped because a ``.gitignore`` pattern matches it.
    - Directories are walked for files ending in *suffix*, skipping :data:`DEFAULT_EXCLUDES`
      (unless ``extend_default_excludes=False``), the *exclude* patterns (gitignore syntax) and
      whatever ``.gitignore`` files (in the tree and its ancestors up to the repository root)
      ignore. Exclude patterns are matched against the path relative to the walked directory
      and, when given, relative to *exclude_base* (the project root holding the configuration).
    - Symlinked directories are not followed; symlinked files are kept only when their target is
      inside the walked directory, and every file appears once (first path in sorted order).
    - Missing paths and unreadable directories are reported in ``errors``; the walk goes on.
    """
    patterns: list[str] = []
    if extend_default_excludes:
        patterns.extend(DEFAULT_EXCLUDES)
    patterns.extend(exclude)
    excludes = pathspec.GitIgnoreSpec.from_lines(patterns) if patterns else None

    explicit: list[tuple[Path, str]] = []
    errors: list[tuple[Path, str]] = []
    walked: list[tuple[Path, str]] = []
    watched: list[str] = []
    probed: list[str] = []
    listings: list[tuple[str, str]] = []
    replayable = True
    git = _GitTracked()
    for path in paths:
        path = Path(path)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            errors.append((path, "path does not exist"))
            continue
        except OSError as exc:
            errors.append((path, _os_reason(exc)))
            continue
        if stat.S_ISDIR(st.st_mode):
            base_rel = _rel_prefix(exclude_base, path) if exclude_base is not None else None
            if base_rel and excludes is not None and excludes.match_file(base_rel):
                base_rel = None  # a directory named explicitly is walked even if excluded
            walker = _Walker(excludes, base_rel, git)
            walker.walk(path, suffix)
            walked.extend(walker.candidates)
            errors.extend(walker.errors)
            watched.extend(walker.watched)
            probed.extend(walker.probed)
            listings.extend(walker.listings)
            replayable = replayable and not walker.symlinks
        elif stat.S_ISREG(st.st_mode):
            # A file named explicitly is found whatever its directory holds; its own stat is
            # the caller's to watch. A symlink (or a path through one) is decided by its target.
            replayable = replayable and os.path.realpath(path) == os.path.abspath(path)
            if force_exclude and _excluded_explicitly(path, excludes, exclude_base):
                continue
            explicit.append((path, os.path.realpath(path)))
        else:
            errors.append((path, "not a regular file or directory"))
    watched.extend(git.index_files())
    return Discovery(
        files=_dedupe([*explicit, *walked]),
        errors=_sorted_errors(errors),
        watched=tuple(dict.fromkeys(watched)),
        probed=tuple(dict.fromkeys(probed)),
        listings=tuple(listings),
        replayable=replayable and not errors,
    )


def _excluded_explicitly(
    path: Path, excludes: pathspec.GitIgnoreSpec | None, exclude_base: Path | None
) -> bool:
    if excludes is None:
        return False
    relatives = {_rel_prefix(base, path) for base in (exclude_base, Path.cwd()) if base}
    relatives.discard(None)
    if not relatives:  # outside both: match the path as given
        relatives.add(path.as_posix().lstrip("/") + "/")
    return any(excludes.match_file(rel.rstrip("/")) for rel in relatives if rel)


def _dedupe(candidates: Iterable[tuple[Path, str]]) -> tuple[Path, ...]:
    seen: set[str] = set()
    out: list[Path] = []
    for path, real in sorted(candidates, key=lambda c: c[0]):
        if real in seen:
            continue
        seen.add(real)
        out.append(path)
    return tuple(out)


def _sorted_errors(errors: Iterable[tuple[Path, str]]) -> tuple[tuple[Path, str], ...]:
    return tuple(sorted(dict.fromkeys(errors), key=lambda e: (e[0], e[1])))


# --------------------------------------------------------------------------------------------
# bytes <-> text


@dataclass(frozen=True)
class SourceText:
    """Decoded source: *text* without the BOM, the codec used and whether a BOM was present."""

    text: str
    encoding: str
    bom: bool


_UTF8_BOM = b"\xef\xbb\xbf"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def read_source(data: bytes) -> SourceText:
    """Decode *data* the way Python does, keeping line endings and remembering a BOM.

    Raises :class:`~ssot_codemod.types.EngineError` (one-line message) for binary files,
    bad encoding declarations and undecodable bytes.
    """
    if b"\x00" in data:
        raise EngineError("binary file (contains NUL bytes)")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        reason = _one_line(str(exc.msg if exc.msg else exc))
        if reason.startswith("invalid or missing encoding declaration"):
            # No cookie and the first lines are not UTF-8: say what is wrong with the bytes.
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as dec:
                raise EngineError(_decode_reason("utf-8", data, dec)) from None
        raise EngineError(f"bad encoding declaration: {reason}") from None

    bom = encoding == "utf-8-sig"
    if bom:
        encoding = "utf-8"
        body = data[len(_UTF8_BOM) :]
    else:
        body = data
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError as exc:
        raise EngineError(_decode_reason(encoding, body, exc)) from None
    except LookupError as exc:  # e.g. a cookie naming a codec that is not a text encoding
        raise EngineError(f"cannot decode as {encoding}: {_one_line(str(exc))}") from None
    if encoding != "utf-8":
        # Some codecs are not bijective; never hand out text that would not write back exactly.
        try:
            same = text.encode(encoding) == body
        except (UnicodeError, LookupError):
            same = False
        if not same:
            raise EngineError(f"cannot decode as {encoding}: bytes do not round-trip")
    return SourceText(text=text, encoding=encoding, bom=bom)


def _decode_reason(encoding: str, data: bytes, exc: UnicodeDecodeError) -> str:
    line = data.count(b"\n", 0, exc.start) + 1
    bad = data[exc.start : exc.start + 1].hex()
    return f"cannot decode as {encoding}: {exc.reason} (byte 0x{bad} on line {line})"


def encode_source(text: str, like: SourceText) -> bytes:
    """Encode *text* with the encoding (and BOM) of *like*; the inverse of :func:`read_source`.

    Raises :class:`~ssot_codemod.types.EngineError` if *text* has characters the encoding cannot
    represent.
    """
    try:
        data = text.encode(like.encoding)
    except UnicodeEncodeError as exc:
        char = exc.object[exc.start : exc.start + 1]
        raise EngineError(f"cannot encode {char!r} as {like.encoding}") from None
    except LookupError as exc:
        raise EngineError(f"cannot encode as {like.encoding}: {_one_line(str(exc))}") from None
    return _UTF8_BOM + data if like.bom else data
