"""The adjusted model's memory check sees a container's limit: MemAvailable counts the host's free memory, so the
limits of the process's own cgroup and of every ancestor (cgroup v2 memory.max/current, v1
memory.limit_in_bytes/usage_in_bytes) bound it too, with reclaimable page cache counted as free."""

from __future__ import annotations

from pathlib import Path

from engagement_lab.stats.fixed_effects import _cgroup_headroom, available_memory

GiB = 2**30


def _files(root: Path, files: dict[str, str]) -> str:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text + "\n")
    return str(root)


def _membership(tmp_path: Path, text: str) -> str:
    path = tmp_path / "cgroup"
    path.write_text(text)
    return str(path)


def test_v2_the_least_headroom_from_the_own_cgroup_up_counts(tmp_path: Path) -> None:
    root = _files(tmp_path / "fs", {
        "memory.max": "max", "memory.current": str(5 * GiB),  # the root: no limit
        "slice/memory.max": str(4 * GiB), "slice/memory.current": str(3 * GiB),  # 1 GiB left in the slice
        "slice/job/memory.max": str(2 * GiB), "slice/job/memory.current": str(GiB // 2),  # 1.5 GiB in the job
        "slice/job/memory.stat": "anon 1\ninactive_file 0",
    })  # fmt: skip
    membership = _membership(tmp_path, "0::/slice/job\n")
    assert _cgroup_headroom(root, membership) == GiB
    assert available_memory(root, membership) <= GiB


def test_v2_page_cache_counts_as_free(tmp_path: Path) -> None:
    root = _files(tmp_path / "fs", {"job/memory.max": str(4 * GiB), "job/memory.current": str(3 * GiB + GiB // 2),
                                    "job/memory.stat": f"anon {GiB}\ninactive_file {3 * GiB}"})  # fmt: skip
    assert _cgroup_headroom(root, _membership(tmp_path, "0::/job\n")) == 4 * GiB - GiB // 2


def test_v1_memory_controller_line(tmp_path: Path) -> None:
    root = _files(tmp_path / "fs", {"memory/box/memory.limit_in_bytes": str(GiB),
                                    "memory/box/memory.usage_in_bytes": str(GiB // 2),
                                    "memory/box/memory.stat": f"cache 5\ntotal_inactive_file {GiB // 4}",
                                    "memory/memory.limit_in_bytes": str(2**63 - 4096),  # the root: unlimited
                                    "memory/memory.usage_in_bytes": str(8 * GiB)})  # fmt: skip
    membership = _membership(tmp_path, "5:cpu:/\n4:memory:/box\n0::/\n")
    assert _cgroup_headroom(root, membership) == GiB - (GiB // 2 - GiB // 4)


def test_no_limit_leaves_the_hosts_free_memory(tmp_path: Path) -> None:
    root = _files(tmp_path / "fs", {"memory.max": "max", "memory.current": str(GiB)})
    assert _cgroup_headroom(root, _membership(tmp_path, "0::/\n")) is None
    assert _cgroup_headroom(root, str(tmp_path / "no such file")) is None
    over = _files(tmp_path / "over", {"job/memory.max": str(GiB), "job/memory.current": str(2 * GiB)})
    assert _cgroup_headroom(over, _membership(tmp_path, "0::/job\n")) == 0
    assert available_memory(over, _membership(tmp_path, "0::/job\n")) == 0
