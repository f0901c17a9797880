"""Cost of each rule's prefilter (``Rule.could_match``) per MB of real Python.

Reads every ``*.py`` under DIR (default: this interpreter's standard library, without
site-packages) into memory, then times each selected rule's ``could_match`` over all of them,
best of ``--repeat`` runs, and prints seconds per MB for every gate and for all of them together
(what ``check`` pays before it parses anything). A benchmark, not a test: nothing is asserted.

    python scripts/bench_gates.py                      # the stdlib
    python scripts/bench_gates.py path/to/tests --repeat 5
"""

from __future__ import annotations

import argparse
import sys
import sysconfig
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from ssot_codemod.rules import ALL_RULES  # noqa: E402


def _files(directory: Path) -> list[bytes]:
    out: list[bytes] = []
    for path in sorted(directory.rglob("*.py")):
        parts = path.relative_to(directory).parts
        if "site-packages" in parts or "__pycache__" in parts:
            continue
        try:
            out.append(path.read_bytes())
        except OSError:
            continue
    return out


def _time(gate: Callable[[bytes], object], blobs: list[bytes], repeat: int) -> tuple[float, int]:
    best = float("inf")
    passed = 0
    for _ in range(repeat):
        started = time.perf_counter()
        passed = sum(1 for data in blobs if gate(data))
        best = min(best, time.perf_counter() - started)
    return best, passed


def gate_costs(directory: Path, repeat: int = 3) -> tuple[int, float, list[tuple[str, float, int]]]:
    """Files read, their MB, and per rule: (code, best seconds over all files, files passed).

    ``scripts/bench.py`` calls this for its gate section; ``main`` prints it.
    """
    blobs = _files(directory)
    megabytes = sum(len(b) for b in blobs) / 1e6
    rows = []
    for rule in ALL_RULES:
        seconds, passed = _time(rule.could_match, blobs, repeat)
        rows.append((rule.code, seconds, passed))
    return len(blobs), megabytes, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    parser.add_argument("directory", nargs="?", type=Path, default=stdlib)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs (default 3)")
    args = parser.parse_args()
    nfiles, megabytes, rows = gate_costs(args.directory, args.repeat)
    print(f"{nfiles} files, {megabytes:.1f} MB under {args.directory}")
    print(f"{'gate':<8} {'s/MB':>10} {'total s':>9} {'passed':>7}")
    total = 0.0
    for code, seconds, passed in rows:
        total += seconds
        print(f"{code:<8} {seconds / megabytes:>10.5f} {seconds:>9.3f} {passed:>7}")
    print(f"{'all':<8} {total / megabytes:>10.5f} {total:>9.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
