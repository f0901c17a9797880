"""Discovery (gitignore, excludes, symlinks) and byte-exact decoding of sources."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ssot_codemod.files import (
    DEFAULT_EXCLUDES,
    Discovery,
    SourceText,
    discover,
    encode_source,
    read_source,
)
from ssot_codemod.types import EngineError

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def touch(path: Path, data: bytes = b"x = 1\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def rel(result: Discovery, root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in result.files]


# --------------------------------------------------------------------------------------------
# discovery


def test_walks_py_files_sorted(tmp_path: Path) -> None:
    for name in ["b.py", "a.py", "pkg/z.py", "pkg/sub/y.py", "notes.txt", "pkg/data.json"]:
        touch(tmp_path / name)
    result = discover([tmp_path])
    assert rel(result, tmp_path) == ["a.py", "b.py", "pkg/sub/y.py", "pkg/z.py"]
    assert result.errors == ()
    assert list(result.files) == sorted(result.files)


def test_default_excludes(tmp_path: Path) -> None:
    assert "*.backup" in DEFAULT_EXCLUDES and ".venv/" in DEFAULT_EXCLUDES
    touch(tmp_path / "keep.py")
    for junk in [
        ".git/hooks/x.py",
        ".venv/lib/site.py",
        "venv/lib/site.py",
        "node_modules/pkg/x.py",
        "pkg/__pycache__/m.py",
        "build/lib/m.py",
        "dist/m.py",
        ".tox/py/m.py",
        ".ssot-codemod/m.py",
        "deep/er/build/m.py",
    ]:
        touch(tmp_path / junk)
    touch(tmp_path / "m.py.backup")
    assert rel(discover([tmp_path]), tmp_path) == ["keep.py"]
    # without the defaults, the junk is walked
    everything = rel(discover([tmp_path], extend_default_excludes=False), tmp_path)
    assert ".venv/lib/site.py" in everything and "build/lib/m.py" in everything


def test_exclude_globs(tmp_path: Path) -> None:
    for name in ["a.py", "gen/x_pb2.py", "tests/fixtures/bad.py", "tests/test_a.py", "b_pb2.py"]:
        touch(tmp_path / name)
    result = discover([tmp_path], exclude=["*_pb2.py", "tests/fixtures/"])
    assert rel(result, tmp_path) == ["a.py", "tests/test_a.py"]


# Patterns for the property test below: folder-only ones (which a walked file is no longer
# matched against: files._for_files) and others, anchored or not, with wildcards.
_PATTERN_POOL = (
    "gen/", "/gen/", "a/gen/", "g*/", "**/b/", "/a/", "b/c/", "*x/", "deep/**/", "a/**/gen/",
    "*.gen.py", "x_*.py", "/top.py", "a/*.py", "b/**", "gen", "c", "**/c/x_1.py", "a/b",
)  # fmt: skip


@pytest.mark.parametrize("seed", range(25))
def test_walked_files_are_excluded_as_the_whole_spec_says(tmp_path: Path, seed: int) -> None:
    """Every walked file is kept exactly when neither it nor one of its folders (relative to
    the walked root, and to the exclude base) matches the excludes: folder-only patterns
    decide through the folders, and the rest through the file too."""
    import random

    import pathspec

    rng = random.Random(seed)
    words = ["a", "b", "c", "gen", "gx", "deep", "keep"]
    files = set()
    for _ in range(40):
        folders = [rng.choice(words) for _ in range(rng.randint(0, 4))]
        name = rng.choice(["top.py", "x_1.py", "m.gen.py", "plain.py", "b.py"])
        files.add("/".join(["proj", "src", *folders, name]))
    for name in files:
        touch(tmp_path / name)
    exclude = rng.sample(_PATTERN_POOL, k=rng.randint(0, 5))
    base = tmp_path / "proj"
    root = base / "src"
    spec = pathspec.GitIgnoreSpec.from_lines([*DEFAULT_EXCLUDES, *exclude])
    base_rel = "src/" if not spec.match_file("src/") else None

    def excluded(path: str) -> bool:
        return spec.match_file(path) or (base_rel is not None and spec.match_file(base_rel + path))

    expected = []
    for name in sorted(files):
        relative = name[len("proj/src/") :]
        parts = relative.split("/")
        folders = ["/".join(parts[:depth]) + "/" for depth in range(1, len(parts))]
        if not any(excluded(path) for path in [*folders, relative]):
            expected.append(name[len("proj/") :])
    result = discover([root], exclude=exclude, exclude_base=base)
    assert sorted(rel(result, base)) == sorted(expected), exclude


def test_exclude_relative_to_exclude_base(tmp_path: Path) -> None:
    touch(tmp_path / "tests/fixtures/bad.py")
    touch(tmp_path / "tests/test_a.py")
    result = discover([tmp_path / "tests"], exclude=["/tests/fixtures/"], exclude_base=tmp_path)
    assert rel(result, tmp_path) == ["tests/test_a.py"]


def test_nested_gitignore_applies_to_its_subtree(tmp_path: Path) -> None:
    touch(tmp_path / ".gitignore", b"generated.py\n")
    touch(tmp_path / "generated.py")
    touch(tmp_path / "a.py")
    touch(tmp_path / "sub/.gitignore", b"local_*.py\n!generated.py\nskipdir/\n")
    touch(tmp_path / "sub/local_x.py")
    touch(tmp_path / "sub/generated.py")  # re-included by the deeper .gitignore
    touch(tmp_path / "sub/kept.py")
    touch(tmp_path / "sub/skipdir/x.py")
    touch(tmp_path / "other/local_y.py")  # sub/.gitignore does not apply here
    result = discover([tmp_path])
    assert rel(result, tmp_path) == [
        "a.py",
        "other/local_y.py",
        "sub/generated.py",
        "sub/kept.py",
    ]


def test_ancestor_gitignore_up_to_repo_root(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    touch(repo / ".gitignore", b"secret_*.py\n/src/pkg/anchored.py\n")
    touch(repo / "src/pkg/secret_a.py")
    touch(repo / "src/pkg/anchored.py")
    touch(repo / "src/pkg/ok.py")
    # a .gitignore above the repository root does not apply
    touch(tmp_path / ".gitignore", b"ok.py\n")
    result = discover([repo / "src" / "pkg"])
    assert rel(result, repo) == ["src/pkg/ok.py"]


def test_explicit_directory_walked_even_if_ancestor_ignores_it(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    touch(tmp_path / ".gitignore", b"vendored/\n")
    touch(tmp_path / "vendored/lib.py")
    assert rel(discover([tmp_path]), tmp_path) == []
    assert rel(discover([tmp_path / "vendored"]), tmp_path) == ["vendored/lib.py"]


def test_explicit_files_always_included(tmp_path: Path) -> None:
    touch(tmp_path / ".gitignore", b"ignored.py\n")
    ignored = touch(tmp_path / "ignored.py")
    backup = touch(tmp_path / "x.py.backup")
    script = touch(tmp_path / "script", b"#!/usr/bin/env python\n")
    venv_file = touch(tmp_path / ".venv/mod.py")
    result = discover([script, ignored, venv_file, backup, tmp_path])
    assert set(result.files) == {ignored, backup, script, venv_file}
    assert list(result.files) == sorted(result.files)


def test_no_duplicates(tmp_path: Path) -> None:
    a = touch(tmp_path / "a.py")
    result = discover([tmp_path, a, tmp_path, Path(str(a))])
    assert result.files == (a,)


def test_relative_paths_stay_relative(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    touch(tmp_path / "src/a.py")
    monkeypatch.chdir(tmp_path)
    assert discover([Path("src")]).files == (Path("src/a.py"),)
    assert discover([Path(".")]).files == (Path("src/a.py"),)


def test_symlink_inside_tree_processed_once(tmp_path: Path) -> None:
    real = touch(tmp_path / "pkg/real.py")
    (tmp_path / "pkg/alias.py").symlink_to(real)
    (tmp_path / "zlink.py").symlink_to(real)
    result = discover([tmp_path])
    # deduplicated by resolved path; the first path in sorted order is kept
    assert rel(result, tmp_path) == ["pkg/alias.py"]


def test_symlink_to_outside_skipped(tmp_path: Path) -> None:
    outside = touch(tmp_path / "outside/evil.py")
    root = tmp_path / "root"
    touch(root / "a.py")
    (root / "link.py").symlink_to(outside)
    (root / "broken.py").symlink_to(tmp_path / "nowhere.py")
    assert rel(discover([root]), root) == ["a.py"]


def test_symlinked_directory_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "root"
    touch(root / "pkg/a.py")
    touch(tmp_path / "elsewhere/b.py")
    (root / "linkdir").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (root / "loop").symlink_to(root, target_is_directory=True)
    assert rel(discover([root]), root) == ["pkg/a.py"]


def test_nonexistent_path_is_an_error(tmp_path: Path) -> None:
    touch(tmp_path / "a.py")
    missing = tmp_path / "missing.py"
    result = discover([missing, tmp_path])
    assert rel(result, tmp_path) == ["a.py"]
    assert result.errors == ((missing, "path does not exist"),)


@pytest.mark.skipif(IS_ROOT, reason="root ignores directory permissions")
def test_unreadable_directory_is_an_error_and_walk_goes_on(tmp_path: Path) -> None:
    touch(tmp_path / "a.py")
    locked = tmp_path / "locked"
    touch(locked / "hidden.py")
    touch(tmp_path / "z/b.py")
    locked.chmod(0)
    try:
        result = discover([tmp_path])
    finally:
        locked.chmod(0o755)
    assert rel(result, tmp_path) == ["a.py", "z/b.py"]
    assert len(result.errors) == 1
    path, message = result.errors[0]
    assert path == locked
    assert "ermission" in message and "\n" not in message


def test_custom_suffix(tmp_path: Path) -> None:
    touch(tmp_path / "a.py")
    touch(tmp_path / "b.pyi")
    assert rel(discover([tmp_path], suffix=".pyi"), tmp_path) == ["b.pyi"]


def test_many_files_is_fast(tmp_path: Path) -> None:
    import time

    for d in range(50):
        directory = tmp_path / f"d{d:02}"
        directory.mkdir()
        for f in range(100):
            (directory / f"m{f:03}.py").write_bytes(b"")
    touch(tmp_path / ".gitignore", b"*_skip.py\nbuild/\n")
    start = time.perf_counter()
    result = discover([tmp_path])
    elapsed = time.perf_counter() - start
    assert len(result.files) == 5000
    assert elapsed < 5.0


# --------------------------------------------------------------------------------------------
# bytes <-> text

SAMPLES: dict[str, bytes] = {
    "empty": b"",
    "lf": b"import os\n\nx = 1\n",
    "crlf": b"import os\r\n\r\nclass A:\r\n    pass\r\n",
    "mixed": b"a = 1\r\nb = 2\nc = 3\rd = 4\r\n",
    "bom": b"\xef\xbb\xbfx = '\xc3\xa9'\r\n",
    "bom_with_cookie": b"\xef\xbb\xbf# -*- coding: utf-8 -*-\nx = 1\n",
    "latin1_cookie": b"# -*- coding: latin-1 -*-\ns = '\xe9t\xe9'\n",
    "cp1252_cookie": b"#!/usr/bin/env python\n# vim: set fileencoding=cp1252 :\ns = '\x80'\n",
    "tabs": b"if x:\n\tif y:\n\t\tpass\t# tab\n",
    "no_final_newline_trailing_space": b"x = 1\ny = 2   ",
    "unicode": "s = '漢字 café ñ ─┼─ ═╬═ 🐍'\n".encode(),
    "only_newlines": b"\n\r\n\r",
    "form_feed": b"x = 1\n\x0c\ndef f():\n    pass\n",
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_round_trip_is_byte_exact(name: str) -> None:
    data = SAMPLES[name]
    source = read_source(data)
    assert encode_source(source.text, source) == data


def test_bom_is_stripped_and_remembered() -> None:
    source = read_source(SAMPLES["bom"])
    assert source == SourceText(text="x = 'é'\r\n", encoding="utf-8", bom=True)
    assert encode_source("y = 2\n", source) == b"\xef\xbb\xbfy = 2\n"


def test_line_endings_not_normalised() -> None:
    assert read_source(SAMPLES["mixed"]).text == "a = 1\r\nb = 2\nc = 3\rd = 4\r\n"


def test_latin1_cookie_decodes_accents() -> None:
    source = read_source(SAMPLES["latin1_cookie"])
    assert "'été'" in source.text
    assert source.bom is False
    assert encode_source(source.text.replace("été", "ça"), source) == (
        b"# -*- coding: latin-1 -*-\ns = '\xe7a'\n"
    )


def test_plain_utf8() -> None:
    assert read_source(b"x = 1\n") == SourceText("x = 1\n", "utf-8", False)


def test_nul_bytes_are_binary() -> None:
    with pytest.raises(EngineError, match=r"^binary file \(contains NUL bytes\)$"):
        read_source(b"x = 1\n\x00\x01\x02")


@pytest.mark.parametrize(
    "data",
    [
        b"x = 1\ny = 2\nz = '\xff\xfe'\n",  # beyond the lines detect_encoding looks at
        b"x = '\xe9'\n",  # in the first line: detect_encoding itself fails
    ],
)
def test_undecodable_bytes(data: bytes) -> None:
    with pytest.raises(EngineError, match=r"^cannot decode as utf-8: ") as info:
        read_source(data)
    assert "\n" not in str(info.value)


def test_bad_cookie() -> None:
    with pytest.raises(EngineError) as info:
        read_source(b"# -*- coding: no-such-codec -*-\nx = 1\n")
    message = str(info.value)
    assert "no-such-codec" in message and "\n" not in message


def test_bom_conflicting_with_cookie() -> None:
    with pytest.raises(EngineError) as info:
        read_source(b"\xef\xbb\xbf# coding: latin-1\nx = 1\n")
    assert "\n" not in str(info.value)


def test_encode_unrepresentable_character() -> None:
    source = read_source(SAMPLES["latin1_cookie"])
    with pytest.raises(EngineError, match="cannot encode"):
        encode_source("s = '漢'\n", source)


def test_absolute_paths_are_abspath_with_one_working_directory_lookup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ssot_codemod.files import absolute_paths

    monkeypatch.chdir(tmp_path)
    paths: list[str | Path] = [
        "a.py",
        "pkg/../b.py",
        "./c/d.py",
        "c//e.py",
        ".",
        "..",
        "x/",
        str(tmp_path / "abs" / ".." / "f.py"),
        "/",
        Path("pkg") / "g.py",
    ]
    assert absolute_paths(paths) == [os.path.abspath(p) for p in paths]
