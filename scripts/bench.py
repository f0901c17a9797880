"""Speed and memory of ssot-codemod against ruff and bare LibCST (issue 11's targets).

    python scripts/bench.py [--write BENCHMARKS.md] [--quick] [--runs N] [--only WORKLOAD]

Every measured command runs in a fresh subprocess under a tiny wrapper (this script with
``--_measure``) that times it and reports ``getrusage(RUSAGE_CHILDREN).ru_maxrss``: the peak RSS
of the largest single process in the command's process tree (a pool worker counts on its own; the
RSS of parallel workers is not summed).

Workloads:
  A. the running interpreter's standard library (``sysconfig`` stdlib, without site-packages):
     cold ``check --no-cache``, warm ``check`` (second run, results cache), ruff, grep;
  B. a generated monorepo (``scripts/gen_monorepo.py --ssot``, SSOT-shaped) at
     5k/10k/20k files: cold and warm ``check`` against cold ruff at every size;
  C. ``apply`` on 500 generated files that all contain patterns, copied afresh for every run,
     against bare LibCST parse + codegen with the same number of processes;
  D. the cache's storage format: one packed JSON file against one small file per entry;
  E. each rule's prefilter (``scripts/bench_gates.py``): seconds per MB on the stdlib and on one
     part of the generated monorepo;
  F. ``quarantine`` (issue 15) on ``scripts/gen_quarantine_project.py``'s project after
     ``apply --unsafe-fixes`` (1,000+ async tests start running, ~10% fail): reading the JUnit
     results, locating and marking, against ``check`` on the same tree.
``--quick`` shrinks everything (for the test suite): a stdlib slice, 50-200 files, one run;
``--part-files N`` sets the monorepo sizes to N, 2N and 4N files.
The LibCST codemod CLI anchor (~3 min on the stdlib) is no longer run; anchors.md has its numbers.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import bench_gates  # noqa: E402
import gen_monorepo  # noqa: E402
import gen_quarantine_project  # noqa: E402

from ssot_codemod.cpus import available_cpus  # noqa: E402

PY = sys.executable
BIN = Path(PY).parent
GREP_PATTERN = "run_until_complete|asyncSetUp"
WORKLOADS = ("stdlib", "monorepo", "apply", "cache", "gates", "quarantine")

# Bare LibCST parse + codegen of the given files, in one process or split over -j processes.
BARE_PARSE = """\
import subprocess, sys
jobs, files = int(sys.argv[1]), sys.argv[2:]
if jobs > 1:
    procs = [subprocess.Popen([sys.executable, "-c", __doc__, "1", *files[i::jobs]])
             for i in range(jobs)]
    sys.exit(max(p.wait() for p in procs))
import libcst
for path in files:
    with open(path, "rb") as fh:
        data = fh.read()
    try:
        libcst.parse_module(data).code
    except Exception:
        pass
"""
BARE_PARSE = f'"""{BARE_PARSE}"""\n' + BARE_PARSE  # the script passes itself to its children


# ------------------------------------------------------------------------------------------
# measuring


def _measure_main(argv: list[str]) -> None:
    """Wrapper mode: run argv, print {"wall": s, "cpu": s, "rc": n, "maxrss_kb": n} as JSON."""
    cwd = os.environ.pop("BENCH_CWD", None)
    cpus = int(os.environ.pop("BENCH_CPUS", "0"))
    if cpus:  # the command and every process it starts inherit the affinity
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:cpus])
    started = time.perf_counter()
    proc = subprocess.run(
        argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    rss = usage.ru_maxrss  # KiB on Linux
    cpu = usage.ru_utime + usage.ru_stime  # of every process the command ran
    tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] if proc.stderr else []
    print(
        json.dumps(
            {"wall": wall, "cpu": cpu, "rc": proc.returncode, "maxrss_kb": rss, "stderr": tail}
        )
    )


@dataclass
class Sample:
    label: str
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    rss_kb: list[int] = field(default_factory=list)
    rcs: list[int] = field(default_factory=list)
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.walls)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpus)

    @property
    def rss_mb(self) -> float:
        return max(self.rss_kb) / 1024


@dataclass(frozen=True)
class Command:
    """One measured command and how to run it."""

    label: str
    cmd: Sequence[str]
    cwd: Path
    env: dict[str, str] | None = None
    before: Callable[[], None] | None = None  # not timed, before every run
    ok_rcs: tuple[int, ...] = (0, 1, 2)
    cpus: int | None = None  # the CPUs it may use (None: all)


def measure(
    label: str,
    cmd: Sequence[str],
    *,
    runs: int,
    cwd: Path,
    env: dict[str, str] | None = None,
    before: Callable[[], None] | None = None,
    ok_rcs: tuple[int, ...] = (0, 1, 2),
    cpus: int | None = None,
) -> Sample:
    (sample,) = measure_together([Command(label, cmd, cwd, env, before, ok_rcs, cpus)], runs=runs)
    return sample


def measure_together(commands: Sequence[Command], *, runs: int) -> list[Sample]:
    """Each command *runs* times, taking turns (a, b, then b, a, ...): a ratio between them is
    then measured over the same stretch of time, so a slow spell of a shared machine (the
    samples of one command in a row moved a ratio by up to 60 %) slows both sides."""
    samples = [Sample(command.label) for command in commands]
    for turn in range(runs):
        order = list(zip(commands, samples))
        for command, sample in order if turn % 2 == 0 else reversed(order):
            _run_once(command, sample)
    return samples


def _run_once(command: Command, sample: Sample) -> None:
    if command.before is not None:
        command.before()
    full_env = dict(os.environ if command.env is None else command.env)
    full_env["BENCH_CWD"] = str(command.cwd)
    if command.cpus:
        full_env["BENCH_CPUS"] = str(command.cpus)
    out = subprocess.run(
        [PY, str(Path(__file__).resolve()), "--_measure", "--", *command.cmd],
        env=full_env,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout)
    if result["rc"] not in command.ok_rcs:
        raise RuntimeError(f"{command.label}: exit {result['rc']}: {result['stderr']}")
    sample.walls.append(result["wall"])
    sample.cpus.append(result["cpu"])
    sample.rss_kb.append(result["maxrss_kb"])
    sample.rcs.append(result["rc"])
    rss_mb = result["maxrss_kb"] / 1024
    print(f"  {command.label}: {result['wall']:.2f} s, {rss_mb:.0f} MB", file=sys.stderr)


# ------------------------------------------------------------------------------------------
# commands


def settle_writes() -> None:
    """Write the page cache back before a measured command that writes files: apply and
    quarantine fsync what they write, and on a journalling file system (ext4's ordered mode)
    an fsync also waits for other dirty data, such as the copy of the tree just made for the
    run (not timed), which would then be counted as theirs."""
    if hasattr(os, "sync"):
        os.sync()


def fresh_copy(source: Path, target: Path) -> None:
    """*target* as a new copy of *source*, on disk. The copy an earlier run used is moved aside,
    not deleted (the temporary work directory goes at the end): a file system without a
    journal (ext4 as this VM mounts it) skips the inodes freed in the last minute whenever
    it allocates one, so a thousand deletions just before a run would make each file the
    measured command creates pay for the bench's own cleanup."""
    if target.exists():
        spent = target.parent / "spent"
        spent.mkdir(exist_ok=True)
        target.rename(spent / f"{target.name}-{len(list(spent.iterdir()))}")
    shutil.copytree(source, target)
    settle_writes()


def ssot(*args: str) -> list[str]:
    return [PY, "-m", "ssot_codemod", *args]


def ruff(paths: Sequence[str]) -> list[str]:
    exe = shutil.which("ruff", path=str(BIN)) or "ruff"
    return [exe, "check", "--isolated", "--select", "ASYNC", "--no-cache", "--exit-zero", *paths]


def grep(paths: Sequence[str]) -> list[str]:
    return ["grep", "-rlE", "--include=*.py", GREP_PATTERN, *paths]


def py_files(paths: Sequence[str]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_file():
            if path.suffix == ".py":
                out.append(path)
        else:
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
                out.extend(Path(dirpath, f) for f in sorted(filenames) if f.endswith(".py"))
    return out


def tree_size(paths: Sequence[str]) -> tuple[int, int]:
    files = py_files(paths)
    return len(files), sum(f.stat().st_size for f in files)


# ------------------------------------------------------------------------------------------
# the report


def fmt_s(seconds: float) -> str:
    return f"{seconds:.3f} s" if seconds < 10 else f"{seconds:.1f} s"


def verdict(ok: bool) -> str:
    return "**PASS**" if ok else "**MISS**"


class Report:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.targets: list[tuple[str, str, str]] = []

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)

    def table(self, base: Sample, rows: Sequence[Sample], *, base_name: str) -> None:
        self.add(
            f"| command | runs | median | CPU (user + sys) | peak RSS | time ÷ {base_name}'s |",
            "|---|---|---|---|---|---|",
        )
        for row in rows:
            ratio = row.median / base.median if row is not base else 1.0
            note = f" ({row.note})" if row.note else ""
            speed = "1" if row is base else f"{ratio:.1f}" if ratio >= 1 else f"{ratio:.3f}"
            self.add(
                f"| {row.label}{note} | {len(row.walls)} | {fmt_s(row.median)} | "
                f"{fmt_s(row.cpu_median) if row.cpus else '–'} | {row.rss_mb:.0f} MB | {speed} |"
            )
        self.add("")

    def target(self, what: str, measured: str, ok: bool) -> None:
        self.targets.append((what, measured, verdict(ok)))


# ------------------------------------------------------------------------------------------
# workloads


def stdlib_paths(quick: bool) -> list[str]:
    std = Path(sysconfig.get_paths()["stdlib"])
    if quick:
        return [str(std / "json"), str(std / "unittest" / "async_case.py")]
    return sorted(str(p) for p in std.iterdir() if p.name not in ("site-packages", "__pycache__"))


def ratio_target(report: Report, what: str, ours: Sample, base: Sample, limit: float) -> None:
    """A target "ours <= limit x base": the measured ratio, PASS/MISS and what would pass."""
    ratio = ours.median / base.median
    measured = f"{ratio:.2f}× ({fmt_s(ours.median)} vs {fmt_s(base.median)})"
    if ratio > limit:
        measured += f"; needs ≤ {fmt_s(base.median * limit)}, {ratio / limit:.1f}× over"
    report.target(what, measured, ratio <= limit)


def cold_and_warm(
    label: str, paths: Sequence[str], *, runs: int, cwd: Path
) -> tuple[Sample, Sample, Sample, Sample]:
    """Cold runs (``--no-cache``) taking turns with ruff's, one run that fills the cache, then
    warm runs (cache hits); the last sample is ruff's.

    The cache lives in ``cwd/.ssot_codemod_cache`` (no configuration file in the bench trees).
    """
    cold, rf = measure_together(
        [
            Command(f"`ssot-codemod check --no-cache`{label}",
                    ssot("check", "--quiet", "--no-cache", *paths), cwd),
            Command(f"`ruff check --select ASYNC --no-cache`{label}", ruff(paths), cwd),
        ],
        runs=runs,
    )  # fmt: skip
    fill = measure(f"`ssot-codemod check`, first run (fills the cache){label}",
                   ssot("check", "--quiet", *paths), runs=1, cwd=cwd)  # fmt: skip
    warm = measure(f"`ssot-codemod check`, warm (unchanged tree){label}",
                   ssot("check", "--quiet", *paths), runs=runs, cwd=cwd)  # fmt: skip
    return cold, fill, warm, rf


def bench_stdlib(report: Report, work: Path, runs: int, quick: bool) -> None:
    paths = stdlib_paths(quick)
    nfiles, nbytes = tree_size(paths)
    print(f"A. stdlib: {nfiles} files, {nbytes / 1e6:.1f} MB", file=sys.stderr)
    cwd = work / "stdlib-cwd"
    cwd.mkdir()
    cold, fill, warm, rf = cold_and_warm("", paths, runs=runs, cwd=cwd)
    rows = [cold]
    if not quick:
        rows.append(measure(
            "`ssot-codemod check --no-cache -j 1`",
            ssot("check", "--quiet", "--no-cache", "-j", "1", *paths), runs=1, cwd=cwd,
        ))  # fmt: skip
    gr = measure(f"`grep -rlE '{GREP_PATTERN}'` (floor)", grep(paths), runs=runs, cwd=cwd)
    report.add(
        f"## A. Standard library ({nfiles:,} files, {nbytes / 1e6:.1f} MB)",
        "",
        f"`{sysconfig.get_paths()['stdlib']}` without `site-packages/`"
        + (" — quick mode: only `json/` and `unittest/async_case.py`" if quick else "")
        + ". Every top-level entry is passed as a PATH (the same list for every tool); grep is "
        "limited to `*.py`. The LibCST codemod CLI is no longer run here (it took ~3 min: "
        "179-188 s, ~95× our cold check; see `/work/shared/spec/anchors.md`).",
        "",
    )
    report.table(rf, [*rows, fill, warm, rf, gr], base_name="ruff")
    ratio_target(report, "`check` on the stdlib ≤ 3× ruff (cold, `--no-cache`)", cold, rf, 3)
    ratio_target(report, "warm `check` on the stdlib ≤ 1× ruff cold", warm, rf, 1)


def bench_profile(report: Report, work: Path, quick: bool) -> None:
    """Where a cold ``check -j 1`` on the stdlib spends its time (cProfile, cumulative)."""
    import pstats

    paths = stdlib_paths(quick)
    out = work / "check.prof"
    cmd = [PY, "-m", "cProfile", "-o", str(out), "-m", "ssot_codemod",
           "check", "--quiet", "--no-cache", "-j", "1", *paths]  # fmt: skip
    subprocess.run(cmd, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    stats = pstats.Stats(str(out))
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, object]]
    raw = stats.stats  # type: ignore[attr-defined]
    total = max(ct for _, _, _, ct, _ in raw.values())
    ours: list[tuple[float, int, str]] = []
    libcst_import = 0.0
    for (filename, line, name), (_, calls, _, cumtime, _) in raw.items():
        posix = filename.replace(os.sep, "/")
        if posix.endswith("/libcst/__init__.py") and name == "<module>":
            libcst_import = cumtime
        elif "/ssot_codemod/" in posix and not posix.endswith(("/cli.py", "/__main__.py")):
            where = posix.split("/ssot_codemod/", 1)[1]
            ours.append((cumtime, calls, f"`{where}:{line}({name})`"))
    ours.sort(reverse=True)
    report.add(
        "### Where the time goes (cold `check --no-cache -j 1`, cProfile)",
        "",
        f"Profiled total {total:.2f} s (profiling slows Python code down; the shares matter). "
        f"`import libcst` alone: {libcst_import:.2f} s. Our functions by cumulative time (nested "
        "calls are counted in their callers too):",
        "",
        "| function | calls | cumulative | share |",
        "|---|---|---|---|",
        *(
            f"| {name} | {calls:,} | {ct:.2f} s | {ct / total:.0%} |"
            for ct, calls, name in ours[:18]
        ),
        "",
    )


def generate_tree(
    out: Path, files: int, seed: int, share: float = gen_monorepo.SSOT_MEASURED_ORDINARY_SHARE
) -> None:
    """One generated SSOT-shaped monorepo part (``gen_monorepo.py --ssot``), by default with
    the measured SSOT repository's proportions (~12 % of files subclass the framework)."""
    script = HERE / "gen_monorepo.py"
    cmd = [PY, str(script), str(out), "--files", str(files), "--seed", str(seed), "--ssot",
           "--ordinary-share", str(share)]  # fmt: skip
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def bench_monorepo(
    report: Report, work: Path, runs: int, quick: bool, part_files: int | None = None
) -> None:
    part = part_files or (50 if quick else 5_000)
    repo = work / "monorepo"
    started = time.perf_counter()
    for i in range(4):
        generate_tree(repo / f"part{i}", part, seed=1000 + i)
    elapsed = time.perf_counter() - started
    shape = "SSOT-shaped"
    print(f"B. generated {4 * part} files ({shape}) in {elapsed:.1f} s", file=sys.stderr)
    cwd = work / "monorepo-cwd"
    cwd.mkdir()
    rows: list[tuple[int, int, Sample, Sample, Sample, Sample]] = []
    for n in (part, 2 * part, 4 * part):
        paths = [str(repo / f"part{i}") for i in range(n // part)]
        _, nbytes = tree_size(paths)
        label = f", {n:,} files"
        cold, fill, warm, rf = cold_and_warm(label, paths, runs=runs, cwd=cwd)
        rows.append((n, nbytes, cold, fill, warm, rf))

    report.add(
        f"## B. Generated monorepo, {shape} (5,000 / 10,000 / 20,000 files)"
        if part == 5_000
        else f"## B. Generated monorepo, {shape} ({part}/{2 * part}/{4 * part} files)",
        "",
        "`scripts/gen_monorepo.py --ssot --ordinary-share "
        f"{gen_monorepo.SSOT_MEASURED_ORDINARY_SHARE}` (the measured SSOT repository's "
        "proportions: ~12 % of files subclass the framework, ~5 never-run async tests each), "
        f"four parts of {part:,} files (seeds 1000-1003); each size is a prefix of the parts. "
        "Cold = `--no-cache`; warm = a second `check` over the unchanged tree, after one run "
        "that filled the cache. ruff is always cold (`--no-cache`).",
        "",
        "| files | MB | cold | first run (fills cache) | warm | ruff cold | cold ÷ ruff | "
        "warm ÷ ruff | peak RSS cold / warm |",
        "|---|---|---|---|---|---|---|---|---|",
    )
    for n, nbytes, cold, fill, warm, rf in rows:
        report.add(
            f"| {n:,} | {nbytes / 1e6:.1f} | {fmt_s(cold.median)} | {fmt_s(fill.median)} | "
            f"{fmt_s(warm.median)} | {fmt_s(rf.median)} | {cold.median / rf.median:.2f} | "
            f"{warm.median / rf.median:.2f} | {cold.rss_mb:.0f} / {warm.rss_mb:.0f} MB |"
        )
    report.add("")
    dense_files = 2 * part
    dense = work / "monorepo-dense"
    generate_tree(dense, dense_files, seed=2000, share=gen_monorepo.ORDINARY_SHARE)
    dense_cold = measure(f"`ssot-codemod check --no-cache`, dense, {dense_files:,} files",
                         ssot("check", "--quiet", "--no-cache", str(dense)), runs=1,
                         cwd=cwd)  # fmt: skip
    dense_rf = measure(f"`ruff check --select ASYNC --no-cache`, dense, {dense_files:,} files",
                       ruff([str(dense)]), runs=1, cwd=cwd)  # fmt: skip
    report.add(
        f"Dense variant (no target; the default `--ordinary-share {gen_monorepo.ORDINARY_SHARE}`"
        f": ~84 % of {dense_files:,} files subclass the framework, every one with findings to "
        "report):",
        "",
    )
    report.table(dense_rf, [dense_cold, dense_rf], base_name="ruff")
    n, _, cold, _, warm, rf = rows[1]
    ratio_target(report, f"`check` on the generated monorepo, {n:,} files, ≤ 4× ruff (cold)",
                 cold, rf, 4)  # fmt: skip
    ratio_target(report, f"warm `check` on the monorepo, {n:,} files, ≤ 1× ruff cold",
                 warm, rf, 1)  # fmt: skip
    n, _, cold, fill, warm, _ = rows[2]
    peak = max(cold.rss_mb, fill.rss_mb, warm.rss_mb)
    report.target(
        f"peak memory < 300 MB on {n:,} files",
        f"{peak:.0f} MB (largest single process, cold/fill/warm)",
        peak < 300,
    )


def bench_apply(report: Report, work: Path, runs: int, quick: bool) -> None:
    count = 5 if quick else 500
    import random

    rng = random.Random(4242)
    source = work / "apply-src"
    source.mkdir()
    for i in range(count):
        (source / f"test_case_{i:04d}.py").write_text(gen_monorepo._pattern_module(rng))
    files = sorted(source.glob("*.py"))
    nbytes = sum(f.stat().st_size for f in files)
    target = work / "apply-tree"

    def fresh() -> None:
        fresh_copy(source, target)

    jobs = available_cpus()  # what apply's default -j is
    targets = [str(target / f.name) for f in files]
    pairs: list[tuple[str, Sample, Sample]] = []
    # (jobs, flags, what, CPUs both sides may use: None for all). As many runs as the other
    # targets: one run of each side moved the ratio by ±15 %.
    variants: list[tuple[int, list[str], str, int | None]] = [
        (jobs, [], f"default `-j` ({jobs})", None),
        (1, ["-j", "1"], "`-j 1`, like for like: one engine process each", None),
    ]
    if hasattr(os, "sched_setaffinity") and jobs > 1:
        variants.append((1, ["-j", "1"], "`-j 1`, both pinned to one CPU", 1))
    for j, flag, what, cpus in variants:
        pinned = " on one CPU" if cpus else ""
        procs = f"{j} process{'es' if j > 1 else ''}"
        ap, bare = measure_together(
            [
                Command(f"`ssot-codemod apply{' -j 1' if flag else ''}`{pinned}",
                        ssot("apply", "--quiet", *flag, str(target)), work, before=fresh,
                        cpus=cpus),
                Command(f"bare `libcst.parse_module(data).code`, {procs}{pinned}",
                        [PY, "-c", BARE_PARSE, str(j), *targets], work, before=fresh,
                        cpus=cpus),
            ],
            runs=runs,
        )  # fmt: skip
        pairs.append((what, ap, bare))
    report.add(
        f"## C. `apply` on {count} matching files ({nbytes / 1e6:.2f} MB)",
        "",
        "Every file has at least one pattern; the tree is copied afresh before each run "
        "(copy not timed, and written back to disk before the run: apply fsyncs what it "
        "writes, and would otherwise wait for the copy's writeback too; the copy of the "
        "run before is moved aside, not deleted, see `fresh_copy`). Both sides include "
        "interpreter start-up and `import libcst`; like for like, the bare parse runs in as "
        "many processes as `apply` gives the engine. The main process of `apply` reads, indexes "
        "and writes besides; with `-j 1` on Linux with a second CPU, its one engine process is "
        "a forked worker while it writes (`parallel.one_job_worker`), so its CPU column counts "
        "both processes; pinned to one CPU (the affinity of both sides), it computes in its "
        "main process.",
        "",
    )
    report.table(pairs[0][2], [s for _, ap, bare in pairs for s in (bare, ap)],
                 base_name="bare LibCST (default `-j`)")  # fmt: skip
    for what, ap, bare in pairs:
        ratio_target(report, f"`apply` ({what}) ≤ 1.5× bare parse + codegen", ap, bare, 1.5)


def bench_cache_format(report: Report, work: Path, quick: bool) -> None:
    """Why the cache packs its entries: one JSON file vs one small file per entry."""
    import marshal

    n = 500 if quick else 10_000
    entry = ["da39a3ee5e6b4b0d3255bfef95601890afd80709", 1234, "", 20000, "unchanged", True, None,
             [["SSC001", "`loop.run_until_complete(self.asyncSetUp())` in Base.setUp fails",
               7, 9, 7, 51, "safe", False]]]  # fmt: skip
    entries = {f"/repo/svc{i % 40:02d}/pkg/mod_{i}.py": entry for i in range(n)}
    per_file = work / "cache-per-file"
    per_file.mkdir()
    for i, key in enumerate(entries):
        (per_file / f"{i:05d}.json").write_text(json.dumps([key, entry]))
    packed = work / "cache-packed.json"
    packed.write_text(json.dumps({"format": 1, "entries": entries}, separators=(",", ":")))
    marshalled = work / "cache-packed.marshal"
    marshalled.write_bytes(marshal.dumps({"format": 1, "entries": entries}))

    def read_per_file() -> object:
        out = {}
        for path in sorted(per_file.iterdir()):
            key, value = json.loads(path.read_bytes())
            out[key] = value
        return out

    def best(fn: object) -> float:
        assert callable(fn)
        times = []
        for _ in range(5):
            started = time.perf_counter()
            fn()
            times.append(time.perf_counter() - started)
        return min(times)

    rows = [
        ("one small JSON file per entry", best(read_per_file), None),
        ("one packed JSON file (the cache's layout)",
         best(lambda: json.loads(packed.read_bytes())), packed.stat().st_size),
        ("one packed `marshal` file", best(lambda: marshal.loads(marshalled.read_bytes())),
         marshalled.stat().st_size),
    ]  # fmt: skip
    report.add(
        f"## D. Results-cache storage: loading {n:,} entries",
        "",
        "In-process, warm page cache, best of 5. `marshal` is faster still but is not meant for "
        "data that may be corrupt; JSON entries are validated field by field and never execute.",
        "",
        "| layout | load time | size |",
        "|---|---|---|",
        *(
            f"| {what} | {t * 1000:.1f} ms | {f'{size / 1e6:.1f} MB' if size else f'{n:,} files'} |"
            for what, t, size in rows
        ),
        "",
    )


def bench_gates_section(report: Report, work: Path, quick: bool) -> None:
    """Each rule's prefilter per MB (``scripts/bench_gates.py``), in this process."""
    std = Path(sysconfig.get_paths()["stdlib"])
    trees = [("standard library", std / "json" if quick else std)]
    part = work / "monorepo" / "part0"
    if part.is_dir():
        trees.append(("generated SSOT-shaped monorepo, one part", part))
    rows: list[tuple[str, int, float, list[tuple[str, float, int]]]] = []
    for name, tree in trees:
        nfiles, mb, costs = bench_gates.gate_costs(tree, repeat=1 if quick else 3)
        print(f"E. gates on {name}: {nfiles} files, {mb:.1f} MB", file=sys.stderr)
        rows.append((name, nfiles, mb, costs))
    codes = [code for code, _, _ in rows[0][3]]
    report.add(
        "## E. Rule prefilters (`Rule.could_match`): cost per MB",
        "",
        "`scripts/bench_gates.py` (`gate_costs`): every `*.py` read into memory first, then each "
        "rule's gate over all of them, best of 3 (1 in quick mode). This is what `check` pays per "
        'file before it parses anything; "passed" = files the gate lets through to parsing.',
        "",
        "| tree | files | MB | "
        + " | ".join(f"{c} ms/MB (passed)" for c in codes)
        + " | all ms/MB |",
        "|---|---|---|" + "---|" * len(codes) + "---|",
    )
    for name, nfiles, mb, costs in rows:
        cells = [f"{1000 * sec / mb:.2f} ({passed:,})" for _, sec, passed in costs]
        total = sum(sec for _, sec, _ in costs)
        report.add(
            f"| {name} | {nfiles:,} | {mb:.1f} | "
            + " | ".join(cells)
            + f" | {1000 * total / mb:.2f} |"
        )
    report.add("")


def bench_quarantine(report: Report, work: Path, runs: int, quick: bool) -> None:
    """quarantine's own work (JUnit results in, markers out) against ``check`` on the same tree."""
    modules = 6 if quick else 60
    project = work / "quarantine-src"
    failing = gen_quarantine_project.generate(project, modules=modules, tests=18, fail_ratio=0.1)
    (project / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    subprocess.run(ssot("apply", "--unsafe-fixes", "--quiet", "tests"), cwd=project, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    results = work / "quarantine-results.xml"
    pytest_cmd = [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o",
                  "junit_family=xunit1", f"--junitxml={results}", "tests"]  # fmt: skip
    tests_run = measure("`pytest` (the suite itself, writes the JUnit XML)", pytest_cmd,
                        runs=1, cwd=project)  # fmt: skip
    nfiles, nbytes = tree_size([str(project / "tests")])
    print(f"F. quarantine: {nfiles} files, {len(failing)} failing tests", file=sys.stderr)
    target = work / "quarantine-tree"

    def fresh() -> None:
        fresh_copy(project, target)

    quarantine = ["quarantine", "--quiet", "--junit-xml", str(results), "tests"]
    q = measure("`ssot-codemod quarantine --junit-xml` (reads, locates, marks)",
                ssot(*quarantine), runs=runs, cwd=target, before=fresh)  # fmt: skip
    own = Sample("quarantine's own work (`tool_seconds`: reading results, locating, editing)")
    for _ in range(runs):
        fresh()
        done = subprocess.run(ssot("quarantine", "--output-format", "json", "--junit-xml",
                                   str(results), "tests"), cwd=target, capture_output=True,
                              text=True, check=False)  # fmt: skip
        summary = json.loads(done.stdout)["summary"]
        if summary["quarantined"] != len(failing) or summary["markers"] != len(failing):
            raise RuntimeError(f"quarantine is not exact: {summary} vs {len(failing)} failing")
        own.walls.append(float(summary["tool_seconds"]))
    fresh()
    check_cmd = ssot("check", "--quiet", "--no-cache", "tests")
    check = measure("`ssot-codemod check --no-cache` (same tree)", check_cmd, runs=runs, cwd=target)
    report.add(
        f"## F. `quarantine` on a generated project ({summary['tests_reported']:,} tests, "
        f"{len(failing)} failing, {nfiles} files, {nbytes / 1e6:.2f} MB)",
        "",
        "`scripts/gen_quarantine_project.py` (as in `tests/test_quarantine.py`), "
        "after `apply --unsafe-fixes`: every async test runs now and ~10% fail. The suite runs "
        "once to write the JUnit XML; then `quarantine --junit-xml` (a fresh copy of the tree for "
        "every run, copy not timed and written back first) against a cold `check` on the "
        "same tree. Whole commands include interpreter start-up and imports. Quarantine is "
        "exact: "
        f"{summary['quarantined']} marked = {len(failing)} failing. Its own work is what the "
        "issue bounds (\"the tool's own work (reading results, locating, editing) stays below "
        'the time of `check` on the same tree"): `tool_seconds` in its JSON, median of '
        f"{runs} runs: {fmt_s(own.median)}.",
        "",
    )
    report.table(check, [tests_run, q, check], base_name="`check`")
    ratio_target(report, "`quarantine`'s own work (reading results, locating, editing) ≤ 1× "
                 "`check` on the same tree", own, check, 1)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--_measure"]:
        _measure_main(argv[2:] if argv[1:2] == ["--"] else argv[1:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="write the markdown report here")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one run (smoke test)")
    parser.add_argument("--runs", type=int, default=None, help="runs per command (default 3)")
    parser.add_argument(
        "--only", choices=WORKLOADS, action="append",
        help="run only these workloads",
    )  # fmt: skip
    parser.add_argument(
        "--part-files", type=int, default=None,
        help="files per monorepo part (sizes: 1x, 2x, 4x; default 5000, 50 with --quick)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    runs = args.runs or (1 if args.quick else 3)
    only = set(args.only or WORKLOADS)
    # Bytecode as an installed package has it: with PYTHONDONTWRITEBYTECODE set (as in some CI
    # images) and sources newer than their .pyc, every measured run would compile them again.
    import ssot_codemod

    subprocess.run([PY, "-m", "compileall", "-q", str(Path(ssot_codemod.__file__).parent)],
                   check=False, stdout=subprocess.DEVNULL)  # fmt: skip

    report = Report()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ssot-bench-") as tmp:
        work = Path(tmp)
        if "stdlib" in only:
            bench_stdlib(report, work, runs, args.quick)
            bench_profile(report, work, args.quick)
        if "monorepo" in only:
            bench_monorepo(report, work, runs, args.quick, args.part_files)
        if "apply" in only:
            bench_apply(report, work, runs, args.quick)
        if "cache" in only:
            bench_cache_format(report, work, args.quick)
        if "gates" in only:
            bench_gates_section(report, work, args.quick)
        if "quarantine" in only:
            bench_quarantine(report, work, runs, args.quick)
    total = time.perf_counter() - started

    load = os.getloadavg()
    head = [
        "# Benchmarks" + (" (quick smoke run — not representative)" if args.quick else ""),
        "",
        f"- Date: {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        f"- Machine: {os.cpu_count()} CPUs, {platform.machine()}, {platform.system()} "
        f"{platform.release()}",
        f"- Python {platform.python_version()} ({PY}); LibCST {_version('libcst')}, "
        f"ruff {_version('ruff')}",
        f"- Load average at the end: {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} "
        "(other work on this machine makes absolute times noisy; ratios are more stable, but "
        "ruff and `apply` use both cores, so on a busy machine their times grow more than those "
        "of single-process runs such as a warm `check`)",
        f"- Reproduce: `make bench` (= `.venv/bin/python scripts/bench.py --write BENCHMARKS.md`)"
        f"; this run took {total:.0f} s",
        f"- Runs per command: {runs} (median reported), except the stdlib's `check -j 1` and the "
        "first `check` that fills the results cache: 1 run each. The two sides of a cold "
        "target (`check` and ruff, `apply` and bare LibCST) take turns run by run "
        "(`measure_together`), so that a slow spell of the machine slows both.",
        "- Peak RSS = `getrusage(RUSAGE_CHILDREN).ru_maxrss` of a fresh wrapper process: the "
        "largest single process of the command's tree (parallel workers are not summed).",
        "",
        "## Targets",
        "",
        "| target | measured | status |",
        "|---|---|---|",
        *(f"| {w} | {m} | {v} |" for w, m, v in report.targets),
        "",
    ]
    text = "\n".join(head + report.lines).rstrip() + "\n"
    print(text)
    if args.write:
        args.write.write_text(text)
    return 0


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
