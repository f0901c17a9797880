"""How many CPUs this process may really use: the default for ``-j``.

``os.cpu_count()`` is the machine's count. A process pinned to fewer CPUs (``taskset``, a
CPU set) or in a container whose cgroup caps its CPU time (``docker --cpus 2``, a Kubernetes
CPU limit: a CI runner on a 64-core host) can use fewer, and a worker per host CPU would only
take turns on them, each with its own copy of LibCST in memory. Like Rust's
``std::thread::available_parallelism`` (what ruff's default thread count comes from): the
affinity mask, capped by the CPU quota of every cgroup (v2 ``cpu.max``, v1
``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``) from this process's own up to its hierarchy's
root, rounded up. Only files are read; anything missing or unreadable means no cap.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path

__all__ = ["available_cpus", "cgroup_cpu_limit"]


def available_cpus(root: Path = Path("/")) -> int:
    """The CPUs this process may run on, capped by its cgroups' CPU quota; at least 1."""
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on macOS and Windows
        count = os.cpu_count() or 1
    limit = cgroup_cpu_limit(root)
    if limit is not None:
        count = min(count, max(1, math.ceil(limit)))
    return max(1, count)


def cgroup_cpu_limit(root: Path = Path("/")) -> float | None:
    """The CPU time this process's cgroups allow, in CPUs (1.5: one and a half), or None for
    no limit. *root* is where ``proc`` and the cgroup mounts are found (tests give a tree of
    their own)."""
    try:
        memberships = (root / "proc/self/cgroup").read_text(encoding="utf-8", errors="replace")
        mounts = (root / "proc/self/mountinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:  # not Linux, or no /proc
        return None
    limits = [
        limit
        for directory, top, quota in _cgroup_directories(root, memberships, mounts)
        if (limit := _limit_upwards(directory, top, quota)) is not None
    ]
    return min(limits) if limits else None


_Quota = Callable[[Path], "float | None"]


def _cgroup_directories(
    root: Path, memberships: str, mounts: str
) -> list[tuple[Path, Path, _Quota]]:
    """(this process's cgroup directory, its hierarchy's mount point, the reader of a cgroup's
    quota there) for the cgroup v2 hierarchy and the v1 hierarchy with the ``cpu`` controller,
    where each is mounted."""
    paths: dict[int, str] = {}  # hierarchy version -> this process's cgroup path in it
    for line in memberships.splitlines():
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy == "0" and controllers == "":
            paths.setdefault(2, path)
        elif "cpu" in controllers.split(","):
            paths.setdefault(1, path)
    found: dict[int, tuple[Path, Path]] = {}  # by hierarchy version
    for line in mounts.splitlines():
        # "<id> <parent> <dev> <root> <mount point> <options> [optional...] - <type> <source>
        # <super options>"
        before, separator, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if not separator or len(fields) < 5 or not tail:
            continue
        if tail[0] == "cgroup2":
            version = 2
        elif tail[0] == "cgroup" and len(tail) > 2 and "cpu" in tail[2].split(","):
            version = 1
        else:
            continue
        own = paths.get(version)
        if own is None or version in found:
            continue
        mount_root, mount_point = _unescape(fields[3]), _unescape(fields[4])
        point = root / mount_point.lstrip("/")
        # The process's path is from its hierarchy's root; the mount shows what is below
        # *mount_root* (a container sees its own cgroup as "/", its path may lie outside).
        inside = mount_root.rstrip("/")
        if own == inside or own.startswith(inside + "/"):
            directory = point / own[len(inside) :].lstrip("/")
        else:
            directory = point
        found[version] = (directory, point)
    return [
        (directory, point, _quota_v2 if version == 2 else _quota_v1)
        for version, (directory, point) in found.items()
    ]


def _limit_upwards(directory: Path, top: Path, quota: _Quota) -> float | None:
    """The smallest CPU quota set on *directory* and its parents up to *top* (inclusive)."""
    limits = []
    current = directory
    while True:
        limit = quota(current)
        if limit is not None:
            limits.append(limit)
        if current == top or current.parent == current:
            break
        current = current.parent
    return min(limits) if limits else None


def _quota_v2(directory: Path) -> float | None:
    """``cpu.max``: "<quota> <period>" in microseconds, or "max <period>" for no limit."""
    try:
        quota, period = (directory / "cpu.max").read_text(encoding="ascii").split()[:2]
        return _ratio(quota, period)
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def _quota_v1(directory: Path) -> float | None:
    """``cpu.cfs_quota_us`` (-1: no limit) over ``cpu.cfs_period_us``."""
    try:
        quota = (directory / "cpu.cfs_quota_us").read_text(encoding="ascii").strip()
        period = (directory / "cpu.cfs_period_us").read_text(encoding="ascii").strip()
        return _ratio(quota, period)
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def _ratio(quota: str, period: str) -> float | None:
    if quota == "max" or int(quota) <= 0 or int(period) <= 0:
        return None
    return int(quota) / int(period)


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash in paths as octal escapes."""
    for escaped, plain in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(escaped, plain)
    return field
