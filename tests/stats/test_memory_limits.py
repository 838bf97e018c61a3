"""The adjusted model's memory check sees a container's limit: MemAvailable counts the host's free memory, so a
cgroup's own limit (cgroup v2 memory.max/current, v1 memory.limit_in_bytes/usage_in_bytes) must bound it too."""

from __future__ import annotations

from pathlib import Path

from engagement_lab.stats.fixed_effects import available_memory

GiB = 2**30


def _cgroup(root: Path, files: dict[str, str]) -> str:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text + "\n")
    return str(root)


def test_a_cgroup_v2_limit_bounds_what_is_free(tmp_path: Path) -> None:
    host = available_memory(str(tmp_path / "none"))
    assert host > 0
    limited = _cgroup(tmp_path / "v2", {"memory.max": str(GiB), "memory.current": str(GiB // 4)})
    assert available_memory(limited) == min(host, GiB - GiB // 4)
    over = _cgroup(tmp_path / "over", {"memory.max": str(GiB), "memory.current": str(2 * GiB)})
    assert available_memory(over) == 0


def test_no_limit_leaves_the_hosts_free_memory(tmp_path: Path) -> None:
    host = available_memory(str(tmp_path / "none"))
    unlimited = _cgroup(tmp_path / "max", {"memory.max": "max", "memory.current": str(GiB)})
    v1_unlimited = _cgroup(tmp_path / "v1", {"memory/memory.limit_in_bytes": str(2**63 - 4096),
                                              "memory/memory.usage_in_bytes": str(GiB)})  # fmt: skip
    assert abs(available_memory(unlimited) - host) < 256 * 2**20  # the host's free memory moves a little
    assert abs(available_memory(v1_unlimited) - host) < 256 * 2**20


def test_a_cgroup_v1_limit_bounds_what_is_free(tmp_path: Path) -> None:
    limited = _cgroup(tmp_path / "v1", {"memory/memory.limit_in_bytes": str(GiB),
                                        "memory/memory.usage_in_bytes": str(GiB // 2)})  # fmt: skip
    assert available_memory(limited) <= GiB // 2
