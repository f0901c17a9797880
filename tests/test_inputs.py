"""Hostile inputs, one test each, always run beside a good file that must still be fixed.

For every case: the exit code and stderr follow cli.md (2 and one ``error: <file>: reason`` line
for a file that cannot be processed), the odd file is byte-for-byte unchanged unless it had a
finding, and ``good.py`` in the same run is rewritten exactly as :func:`fix_source` says.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tokenize
from collections.abc import Iterator
from pathlib import Path

import pytest
from clirunner import separate_stderr_runner
from samples import SAMPLE

from ssot_codemod.cli import cli
from ssot_codemod.engine import could_match, fix_source

GOOD_REWRITE = fix_source(SAMPLE).code.encode("utf-8")
BRIDGE_OLD = "loop.run_until_complete(self.asyncSetUp())"
BRIDGE_NEW = "run_coroutine_sync(self.asyncSetUp(), loop)"
# Passes the byte prefilter (so it is parsed and analysed) but has no finding.
NEAR_MISS = """\
import asyncio


async def main(test):
    await asyncio.wait_for(test.asyncSetUp(), 1)
"""


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "good.py").write_bytes(SAMPLE.encode())
    monkeypatch.chdir(tree)
    return tree


def apply(*paths: str) -> tuple[int, str, str]:
    result = separate_stderr_runner().invoke(
        cli, ["apply", "-j", "1", *paths], catch_exceptions=False
    )
    return result.exit_code, result.stdout, result.stderr


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def assert_good_fixed(root: Path) -> None:
    assert (root / "good.py").read_bytes() == GOOD_REWRITE
    assert (root / "good.py.backup").read_bytes() == SAMPLE.encode()


def assert_fails_alone(root: Path, name: str, data: bytes, reason: str) -> None:
    """apply exits 2 with one error line naming *name*; it is untouched; good.py is fixed."""
    code, _, stderr = apply(".")
    assert code == 2, stderr
    assert len(errors(stderr)) == 1, stderr
    assert errors(stderr)[0].startswith(f"error: {name}: "), stderr
    assert reason in errors(stderr)[0], stderr
    assert "Traceback" not in stderr
    assert (root / name).read_bytes() == data
    assert not (root / (name + ".backup")).exists()
    assert_good_fixed(root)


def assert_ok_run(root: Path) -> str:
    code, _, stderr = apply(".")
    assert code == 0, stderr
    assert errors(stderr) == [], stderr
    assert_good_fixed(root)
    return stderr


def indents(data: bytes) -> set[str]:
    return {
        tok.string
        for tok in tokenize.tokenize(io.BytesIO(data).readline)
        if tok.type == tokenize.INDENT
    }


# -------------------------------------------------------------------------------------------
# files that cannot be processed


@pytest.mark.parametrize(
    "tail",
    [
        pytest.param('print "x"\n', id="python2-print"),
        pytest.param("async = 1\n", id="async-as-name"),
        pytest.param('exec "code"\n', id="exec-statement"),
    ],
)
def test_syntax_error_is_reported_and_untouched(root: Path, tail: str) -> None:
    data = (SAMPLE + "\n" + tail).encode()
    (root / "old.py").write_bytes(data)
    assert_fails_alone(root, "old.py", data, "cannot parse")


def test_undecodable_bytes_are_reported_and_untouched(root: Path) -> None:
    data = SAMPLE.encode() + b"# \xff\xfe not utf-8\n"
    (root / "bytes.py").write_bytes(data)
    assert_fails_alone(root, "bytes.py", data, "cannot decode as utf-8")


def test_binary_file_named_py_is_reported_and_untouched(root: Path) -> None:
    data = SAMPLE.encode() + b"\x00\x01\x02\xff"
    (root / "blob.py").write_bytes(data)
    assert_fails_alone(root, "blob.py", data, "binary")


@pytest.mark.parametrize(
    "expression",
    [
        pytest.param("+".join(["1"] * 3000), id="3000-term-sum"),
        pytest.param(
            "(\n" + "".join(f'    "part {i}"\n' for i in range(1000)) + ")", id="1000-strings"
        ),
    ],
)
def test_deeply_nested_expression_is_a_per_file_error(root: Path, expression: str) -> None:
    # In the class the rule rewrites: its code must be generated, and LibCST cannot.
    data = (SAMPLE + "\n    x = " + expression + "\n").encode()
    if expression.startswith("("):
        compile(data, "deep.py", "exec")  # valid Python: LibCST is the one that gives up
    (root / "deep.py").write_bytes(data)
    assert_fails_alone(root, "deep.py", data, "nested")


def test_a_deep_expression_no_rule_reads_is_kept_and_the_file_fixed(root: Path) -> None:
    """LibCST parses it but cannot generate its code; outside the classes the rules read, its
    statement is never generated: written back as it was, beside the rewritten class."""
    deep = "x = (\n" + "".join(f'    "part {i}"\n' for i in range(1000)) + ")\n"
    (root / "deep.py").write_bytes((SAMPLE + "\n" + deep).encode())
    code, _, stderr = apply(".")
    assert code == 0, stderr
    assert (root / "deep.py").read_bytes() == GOOD_REWRITE + b"\n" + deep.encode()
    assert_good_fixed(root)


def test_class_base_too_deep_to_summarise_does_not_stop_the_run(root: Path) -> None:
    """``ast`` parses a 600-term base expression, but turning it back into text recurses too
    deep: the project index treats that module as one it cannot read (the run used to crash)."""
    terms = " + ".join(["Mixin"] * 600)
    data = (
        "import unittest\n\n\nclass Mixin:\n    pass\n\n\n"
        f"class Deep({terms}, unittest.TestCase):\n    async def test_x(self):\n        pass\n"
    ).encode()
    (root / "deep_base.py").write_bytes(data)
    sub = b"from deep_base import Deep\n\n\nclass Sub(Deep):\n    async def test_y(self):\n"
    sub += b"        pass\n"
    (root / "sub.py").write_bytes(sub)
    check = separate_stderr_runner().invoke(cli, ["check", "--no-cache", "-j", "1", "."])
    assert "Traceback" not in check.stderr
    assert check.exception is None or isinstance(check.exception, SystemExit), check.exception
    assert "good.py" in check.stdout
    assert_ok_run(root)
    assert (root / "deep_base.py").read_bytes() == data
    assert (root / "sub.py").read_bytes() == sub


def test_long_implicit_string_concatenation_is_a_per_file_error(root: Path) -> None:
    parts = "".join(f'    "part {i}"\n' for i in range(5000))
    data = (SAMPLE + "\nTOPICS = (\n" + parts + ")\n").encode()
    compile(data, "concat.py", "exec")  # valid Python: LibCST is the one that gives up
    (root / "concat.py").write_bytes(data)
    assert_fails_alone(root, "concat.py", data, "cannot parse")


def _one_cpu() -> None:
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:1])


@pytest.mark.parametrize(
    "jobs",
    [
        "1",
        "2",
        # One CPU: -j 1 computes in the process itself, with no worker to lose.
        pytest.param(
            "pinned",
            marks=pytest.mark.skipif(
                not hasattr(os, "sched_setaffinity"), reason="no CPU affinity here"
            ),
        ),
    ],
)
@pytest.mark.parametrize(
    "expression",
    [
        pytest.param("-" * 100_000 + "1", id="unary-minus"),
        # 700 lambdas in each other's defaults: 1,400 ast levels, inside the general limit
        pytest.param("lambda a=" * 700 + "1" + ":1" * 700, id="lambda-defaults"),
    ],
)
def test_file_that_crashes_libcsts_native_parser_is_a_per_file_error(
    tmp_path: Path, jobs: str, expression: str
) -> None:
    """libcst 1.9's native parser segfaults on these: one file fails, not the run."""
    tree = tmp_path / "tree"
    tree.mkdir()
    goods = [f"good{i}.py" for i in range(9)]  # enough candidates for the process pool
    for name in goods:
        (tree / name).write_bytes(SAMPLE.encode())
    data = (SAMPLE + "\nx = " + expression + "\n").encode()
    (tree / "segv.py").write_bytes(data)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ssot_codemod",
            "apply",
            "-j",
            "1" if jobs == "pinned" else jobs,
            ".",
        ],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_one_cpu if jobs == "pinned" else None,
    )
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert errors(proc.stderr) and errors(proc.stderr)[0].startswith("error: segv.py: ")
    assert (tree / "segv.py").read_bytes() == data
    for name in goods:
        assert (tree / name).read_bytes() == GOOD_REWRITE


def test_quarantine_markers_refuse_what_would_crash_libcsts_parser() -> None:
    """The quarantine's LibCST path parses test files too: behind the same guard."""
    script = (
        "from ssot_codemod.quarantine_cst import add_markers_cst, remove_markers_cst\n"
        "from ssot_codemod.types import EngineError\n"
        "source = 'import unittest\\nx = ' + 'lambda a=' * 700 + '1' + ':1' * 700 + '\\n'\n"
        "for edit in (lambda: add_markers_cst(source, {'T.test_a': 'why'}),\n"
        "             lambda: remove_markers_cst(source, ['T.test_a'])):\n"
        "    try:\n"
        "        edit()\n"
        "    except EngineError as exc:\n"
        "        print(exc)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    assert proc.stdout.count("crashes LibCST's parser") == 2, proc.stdout


def test_nonexistent_path_is_reported_and_the_rest_processed(root: Path) -> None:
    code, _, stderr = apply("good.py", "missing.py")
    assert code == 2, stderr
    assert errors(stderr) == ["error: missing.py: path does not exist"], stderr
    assert not Path("missing.py").exists()
    assert_good_fixed(root)


# -------------------------------------------------------------------------------------------
# encodings and line endings: rewritten in the file's own terms


def test_latin1_cookie_file_is_rewritten_and_stays_latin1(root: Path) -> None:
    text = "# -*- coding: latin-1 -*-\n" + SAMPLE + '\nNAME = "café"  # é\n'
    (root / "latin.py").write_bytes(text.encode("latin-1"))
    assert_ok_run(root)
    after = (root / "latin.py").read_bytes()
    assert after == fix_source(text).code.encode("latin-1")
    assert BRIDGE_NEW.encode() in after
    assert after.count(b"caf\xe9") == 1 and after.count(b"# \xe9") == 1
    with pytest.raises(UnicodeDecodeError):
        after.decode("utf-8")  # still latin-1 on disk, not silently converted


def test_utf8_bom_is_kept(root: Path) -> None:
    data = b"\xef\xbb\xbf" + SAMPLE.encode()
    (root / "bom.py").write_bytes(data)
    assert_ok_run(root)
    after = (root / "bom.py").read_bytes()
    assert after.startswith(b"\xef\xbb\xbf") and after.count(b"\xef\xbb\xbf") == 1
    assert after[3:] == GOOD_REWRITE


def test_crlf_file_stays_crlf_including_the_helper(root: Path) -> None:
    data = SAMPLE.replace("\n", "\r\n").encode()
    (root / "crlf.py").write_bytes(data)
    assert_ok_run(root)
    after = (root / "crlf.py").read_bytes()
    assert after.replace(b"\r\n", b"").count(b"\n") == 0, "a bare LF was written"
    assert after.count(b"\r") == after.count(b"\r\n")
    assert after == GOOD_REWRITE.replace(b"\n", b"\r\n")
    compile(after, "crlf.py", "exec")


def test_mixed_line_endings_keep_every_original_ending(root: Path) -> None:
    text = SAMPLE.replace("import unittest\n", "import unittest\r\n").replace(
        "        pass\n", "        pass\r\n"
    )
    (root / "mixed.py").write_bytes(text.encode())
    assert_ok_run(root)
    after = (root / "mixed.py").read_bytes()
    assert b"import unittest\r\n" in after
    assert after.endswith(b"        pass\r\n")
    assert after.count(b"\r\n") == 2  # the inserted helper follows the first line: LF
    assert after.replace(b"\r\n", b"\n") == GOOD_REWRITE
    compile(after, "mixed.py", "exec")


def test_old_mac_cr_only_line_endings_are_kept(root: Path) -> None:
    data = SAMPLE.replace("\n", "\r").encode()
    (root / "cr.py").write_bytes(data)
    assert_ok_run(root)
    after = (root / "cr.py").read_bytes()
    assert b"\n" not in after
    assert after == GOOD_REWRITE.replace(b"\n", b"\r")


@pytest.mark.parametrize("unit", ["\t", "  "], ids=["tabs", "two-spaces"])
def test_inserted_helper_follows_the_file_indentation(root: Path, unit: str) -> None:
    data = SAMPLE.replace("    ", unit).encode()
    (root / "indent.py").write_bytes(data)
    assert_ok_run(root)
    after = (root / "indent.py").read_bytes()
    assert BRIDGE_NEW.encode() in after and b"def run_coroutine_sync(" in after
    compile(after, "indent.py", "exec")
    found = indents(after)
    assert len(found) >= 4  # the helper nests several levels deep
    assert all(level == unit * (len(level) // len(unit)) for level in found), found


def test_no_final_newline_and_trailing_space_are_kept(root: Path) -> None:
    data = (SAMPLE.rstrip("\n") + "   ").encode()
    (root / "tail.py").write_bytes(data)
    assert_ok_run(root)
    after = (root / "tail.py").read_bytes()
    assert after.endswith(b"\n        pass   ")
    assert after == GOOD_REWRITE.rstrip(b"\n") + b"   "


def test_non_ascii_identifiers_strings_and_comments(root: Path) -> None:
    text = "# Ünïcödé — комментарий 日本語\n" + SAMPLE.replace("Base", "Basé").replace(
        "pass", 'переменная = "日本語 ✓"  # 注释'
    )
    (root / "uni.py").write_bytes(text.encode())
    assert_ok_run(root)
    after = (root / "uni.py").read_bytes().decode("utf-8")
    assert after == fix_source(text).code
    assert BRIDGE_NEW in after
    for kept in (
        "# Ünïcödé — комментарий 日本語\n",
        "class Basé(",
        'переменная = "日本語 ✓"  # 注释',
    ):
        assert kept in after


def test_empty_file_is_unchanged(root: Path) -> None:
    (root / "empty.py").write_bytes(b"")
    assert_ok_run(root)
    assert (root / "empty.py").read_bytes() == b""
    assert not (root / "empty.py.backup").exists()


def _big_module(header: str, size: int) -> str:
    chunks = [header]
    i = 0
    total = len(header)
    while total < size:
        chunk = f"def f{i}(a, b):\n    return a + b * {i}\n\n\n"
        chunks.append(chunk)
        total += len(chunk)
        i += 1
    return "".join(chunks)


def test_big_file_without_finding_is_unchanged(root: Path) -> None:
    text = _big_module(NEAR_MISS, 1 << 20)
    assert could_match(text.encode()) and not fix_source(NEAR_MISS).findings
    (root / "big.py").write_bytes(text.encode())
    assert (root / "big.py").stat().st_size > 1 << 20
    mtime = (root / "big.py").stat().st_mtime_ns
    assert_ok_run(root)
    assert (root / "big.py").read_bytes() == text.encode()
    assert (root / "big.py").stat().st_mtime_ns == mtime
    assert not (root / "big.py.backup").exists()


def test_big_file_with_finding_is_rewritten(root: Path) -> None:
    text = _big_module(SAMPLE, 1 << 20)
    (root / "big.py").write_bytes(text.encode())
    assert (root / "big.py").stat().st_size > 1 << 20
    assert_ok_run(root)
    after = (root / "big.py").read_bytes().decode()
    assert after == GOOD_REWRITE.decode() + text[len(SAMPLE) :]
    assert (root / "big.py.backup").read_bytes() == text.encode()


# -------------------------------------------------------------------------------------------
# LibCST round trips that are not byte-exact


EXCEPT_SPACE = "try:\n    pass\nexcept ValueError :\n    pass\n"


def test_inexact_round_trip_is_real() -> None:
    """The premise of the next two tests: LibCST 1.9 drops the space in ``except A :``."""
    import libcst

    assert libcst.parse_module(EXCEPT_SPACE).code != EXCEPT_SPACE


def test_inexact_round_trip_without_finding_is_never_written(root: Path) -> None:
    data = (NEAR_MISS + EXCEPT_SPACE).encode()
    assert could_match(data)  # parsed, analysed, and still not written
    (root / "exc.py").write_bytes(data)
    assert_ok_run(root)
    assert (root / "exc.py").read_bytes() == data
    assert not (root / "exc.py.backup").exists()


def test_inexact_round_trip_with_finding_keeps_untouched_parts(root: Path) -> None:
    text = SAMPLE + "\n" + EXCEPT_SPACE
    (root / "exc.py").write_bytes(text.encode())
    code, _, stderr = apply(".")
    after = (root / "exc.py").read_bytes().decode()
    if code == 2:  # refusing is acceptable; writing LibCST's normalised text is not
        assert errors(stderr) == [e for e in errors(stderr) if e.startswith("error: exc.py: ")]
        assert after == text
    else:
        assert code == 0, stderr
        assert after == GOOD_REWRITE.decode() + "\n" + EXCEPT_SPACE
    assert_good_fixed(root)


# -------------------------------------------------------------------------------------------
# symlinks, permissions


def test_symlink_inside_the_tree_is_processed_once(root: Path) -> None:
    (root / "alias.py").symlink_to("good.py")
    code, _, stderr = apply(".")
    assert code == 0, stderr
    assert "1 changed" in stderr, stderr
    assert (root / "alias.py").is_symlink()
    assert os.readlink(root / "alias.py") == "good.py"
    assert_good_fixed(root)
    assert sorted(p.name for p in root.glob("*.backup")) == ["good.py.backup"]


def test_symlink_pointing_outside_the_tree_is_skipped(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.py"
    outside.write_bytes(SAMPLE.encode())
    (root / "link.py").symlink_to(outside)
    assert_ok_run(root)
    assert outside.read_bytes() == SAMPLE.encode()
    assert (root / "link.py").is_symlink()
    assert list(tmp_path.glob("*.backup")) == []
    assert sorted(p.name for p in root.glob("*.backup")) == ["good.py.backup"]


def test_read_only_mode_bits_are_kept(root: Path) -> None:
    (root / "ro.py").write_bytes(SAMPLE.encode())
    (root / "ro.py").chmod(0o444)
    assert_ok_run(root)
    assert (root / "ro.py").read_bytes() == GOOD_REWRITE
    assert (root / "ro.py").stat().st_mode & 0o777 == 0o444


def _chattr(flag: str, path: Path) -> None:
    proc = subprocess.run(["chattr", flag, str(path)], capture_output=True, timeout=10)
    if proc.returncode != 0:
        pytest.skip(f"chattr {flag} not possible here: {proc.stderr.decode().strip()}")


@pytest.fixture
def immutable() -> Iterator[list[Path]]:
    """Paths made immutable with ``chattr +i`` (root ignores mode bits); undone afterwards."""
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not available (root ignores permission bits)")
    made: list[Path] = []
    yield made
    for path in reversed(made):
        subprocess.run(["chattr", "-i", str(path)], capture_output=True, timeout=10)


def test_unwritable_file_is_reported_and_untouched(root: Path, immutable: list[Path]) -> None:
    data = SAMPLE.replace("Base", "Locked").encode()
    (root / "locked.py").write_bytes(data)
    _chattr("+i", root / "locked.py")
    immutable.append(root / "locked.py")
    # An immutable file cannot be renamed over: the backup is made, the replace fails.
    assert_fails_alone(root, "locked.py", data, "")
    assert not (root / "locked.py.backup").exists()


def test_unwritable_directory_is_reported_and_untouched(root: Path, immutable: list[Path]) -> None:
    (root / "ro").mkdir()
    data = SAMPLE.replace("Base", "Locked").encode()
    (root / "ro" / "locked.py").write_bytes(data)
    _chattr("+i", root / "ro")
    immutable.append(root / "ro")
    code, _, stderr = apply(".")
    assert code == 2, stderr
    assert len(errors(stderr)) == 1 and errors(stderr)[0].startswith("error: ro/locked.py: ")
    assert sorted(os.listdir(root / "ro")) == ["locked.py"]
    assert (root / "ro" / "locked.py").read_bytes() == data
    assert_good_fixed(root)
