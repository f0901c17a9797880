"""The default ``-j``: the CPUs this process may use (affinity, capped by a cgroup CPU quota).

Each test builds the files Linux shows a process (``proc/self/cgroup``, ``proc/self/mountinfo``
and the cgroup mounts) under a directory of its own and reads them as the real ones are read.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ssot_codemod import parallel
from ssot_codemod.cpus import available_cpus, cgroup_cpu_limit

V2_MOUNT = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"


def host(tmp_path: Path, cgroup: str, mountinfo: str, files: dict[str, str]) -> Path:
    (tmp_path / "proc/self").mkdir(parents=True)
    (tmp_path / "proc/self/cgroup").write_text(cgroup)
    (tmp_path / "proc/self/mountinfo").write_text(
        "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n" + mountinfo
    )
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def affinity() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def test_a_container_sees_its_own_v2_quota_at_the_mount_root(tmp_path: Path) -> None:
    root = host(tmp_path, "0::/\n", V2_MOUNT, {"sys/fs/cgroup/cpu.max": "150000 100000\n"})
    assert cgroup_cpu_limit(root) == 1.5
    assert available_cpus(root) == min(affinity(), 2)  # rounded up


def test_the_smallest_quota_from_the_own_cgroup_up_to_the_root_wins(tmp_path: Path) -> None:
    root = host(
        tmp_path,
        "0::/ci/job/step\n",
        V2_MOUNT,
        {
            "sys/fs/cgroup/cpu.max": "max 100000\n",
            "sys/fs/cgroup/ci/cpu.max": "400000 100000\n",
            "sys/fs/cgroup/ci/job/cpu.max": "100000 100000\n",  # the parent's: one CPU
            "sys/fs/cgroup/ci/job/step/cpu.max": "max 100000\n",
            "sys/fs/cgroup/other/cpu.max": "50000 100000\n",  # not ours
        },
    )
    assert cgroup_cpu_limit(root) == 1.0
    assert available_cpus(root) == 1


def test_no_quota_means_the_affinity(tmp_path: Path) -> None:
    root = host(tmp_path, "0::/user.slice\n", V2_MOUNT, {
        "sys/fs/cgroup/cpu.max": "max 100000\n",
        "sys/fs/cgroup/user.slice/cpu.max": "max 100000\n",
    })  # fmt: skip
    assert cgroup_cpu_limit(root) is None
    assert available_cpus(root) == affinity()


def test_cgroup_v1_cpu_controller_mounted_with_a_container_root(tmp_path: Path) -> None:
    # Docker on cgroup v1: the process's path is the container's, the mount shows it as "/".
    root = host(
        tmp_path,
        "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n1:name=systemd:/docker/abc\n",
        "40 31 0:37 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro,nosuid - cgroup cgroup "
        "rw,cpu,cpuacct\n"
        "41 31 0:38 /docker/abc /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n",
        {
            "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": "250000\n",
            "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000\n",
        },
    )
    assert cgroup_cpu_limit(root) == 2.5
    assert available_cpus(root) == min(affinity(), 3)


def test_cgroup_v1_without_a_quota(tmp_path: Path) -> None:
    root = host(
        tmp_path,
        "1:cpu:/\n0::/\n",
        "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
        "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n",
        {
            "sys/fs/cgroup/cpu/cpu.cfs_quota_us": "-1\n",
            "sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n",
        },
    )
    assert cgroup_cpu_limit(root) is None


def test_both_hierarchies_capped_the_smaller_wins(tmp_path: Path) -> None:
    root = host(
        tmp_path,
        "1:cpu:/\n0::/\n",
        "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
        "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n",
        {
            "sys/fs/cgroup/cpu/cpu.cfs_quota_us": "150000\n",
            "sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n",
            "sys/fs/cgroup/unified/cpu.max": "200000 100000\n",
        },
    )
    assert cgroup_cpu_limit(root) == 1.5


def test_an_escaped_mount_point_is_read_where_it_is(tmp_path: Path) -> None:
    root = host(
        tmp_path,
        "0::/\n",
        "30 23 0:26 / /sys/fs/my\\040cgroups rw - cgroup2 cgroup2 rw\n",
        {"sys/fs/my cgroups/cpu.max": "50000 100000\n"},
    )
    assert cgroup_cpu_limit(root) == 0.5
    assert available_cpus(root) == 1  # never less than one


@pytest.mark.parametrize(
    "content",
    ["", "max\n", "fifty 100000\n", "150000 0\n", "-5 100000\n", "\xff\xfe\n"],
    ids=["empty", "no-period", "not-a-number", "zero-period", "negative", "not-ascii"],
)
def test_an_unreadable_quota_is_no_limit(tmp_path: Path, content: str) -> None:
    root = host(tmp_path, "0::/\n", V2_MOUNT, {"sys/fs/cgroup/cpu.max": content})
    assert cgroup_cpu_limit(root) is None
    assert available_cpus(root) == affinity()


def test_no_proc_or_no_cgroup_mount_is_no_limit(tmp_path: Path) -> None:
    assert cgroup_cpu_limit(tmp_path) is None  # no proc at all (macOS, Windows)
    root = host(tmp_path, "0::/\n", "", {"sys/fs/cgroup/cpu.max": "100000 100000\n"})
    assert cgroup_cpu_limit(root) is None  # the quota is there, but no cgroup2 is mounted
    assert available_cpus(root) == affinity()


def test_this_machine_and_the_default_jobs_agree() -> None:
    here = available_cpus()
    assert 1 <= here <= affinity()
    assert parallel.effective_jobs(None) == here == parallel.usable_cpus()
    assert parallel.effective_jobs(3) == 3


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity here")
def test_the_default_jobs_follow_the_affinity() -> None:
    cpus = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cpus)})
    try:
        assert parallel.effective_jobs(None) == 1
    finally:
        os.sched_setaffinity(0, cpus)
