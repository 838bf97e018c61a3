"""Bounded inflation (issue 30): an archive file made to inflate to a gigabyte is refused while inflating, named,
quarantined by a resume and refetched, and the load's memory stays bounded (checked in a process with an address
space ceiling, where inflating it whole is a ``MemoryError``). The same cap guards ``.gz`` files given to load()."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from engagement_lab import EngagementQuery, load_archive
from engagement_lab.api import Credentials, fetch
from engagement_lab.errors import DataError, InflationLimitError
from engagement_lab.load import load
from engagement_lab.load.archive_format import ArchiveFileBomb, CorruptArchiveFile, encode_envelope, read_envelope
from engagement_lab.load.inflate import MAX_RATIO, file_cap, inflate
from engagement_lab.sandbox import SandboxApp, SandboxTransport, World

from ..api.conftest import BASE, FakeClock

WORLD = World(seed=7)
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
MiB = 2**20
ZEROS = gzip.compress(b"0" * MiB, compresslevel=9)  # one gzip member: 1 MiB in ~1 KB
GIB_OF_ZEROS = ZEROS * 1024  # 1,024 members: ~1 MB of file that inflates to 1 GiB


def bomb(prefix: bytes) -> bytes:
    """``prefix`` then 1 GiB of zeros, gzip-compressed into about 1 MB."""
    return gzip.compress(prefix) + GIB_OF_ZEROS


def header_line(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes()).split(b"\n", 1)[0]


def declaring(size: int):  # type: ignore[no-untyped-def]
    def make(path: Path) -> bytes:
        header = json.loads(header_line(path))
        return bomb(json.dumps({**header, "body_bytes": size}).encode() + b"\n")

    return make


BOMBS: dict[str, Any] = {
    # a format-2 header that tells the truth about its 1 GiB body: refused before inflating anything of it
    "declares 1 GiB": (declaring(2**30), r"its header declares a 1,073,741,824-byte body, more than 300x its size"),
    # the file's own header with its real small size, then a gigabyte: refused one byte past the declared body
    "declares its size, holds 1 GiB": (
        lambda path: bomb(header_line(path) + b"\n"),
        r"it inflates past [\d,]+ bytes \(the size its header declares\)",
    ),
    # no header line (a format-1 document): refused at 300x the file's size
    "format 1, no size": (
        lambda path: bomb(b'{"provenance": {}, "body": "'),
        r"it inflates past [\d,]+ bytes \(at most 300x its [\d,]+ bytes\)",
    ),
}


def go(app: SandboxApp, out: Path, ids: list[str]) -> Any:
    query = EngagementQuery("historical", ids, ["impressions"], "daily", start="2026-03-01", end="2026-05-01")
    return fetch(query, credentials=Credentials.from_mapping(app.info(BASE)), out=out, base_url=BASE,
                 transport=SandboxTransport(app), now=NOW, progress=False, clock=FakeClock(),
                 owners=dict.fromkeys(ids, "acme"))  # fmt: skip


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pl.DataFrame]:
    out = tmp_path_factory.mktemp("clean") / "archive"
    ids = [t.tweet_id for t in reversed(WORLD.tweets) if t.account == "acme" and t.status == "ok"][:30]
    assert go(SandboxApp(WORLD, rate_limit_per_minute=100_000), out, ids).ok
    return out, load_archive(out, backend="polars").drop("retrieved_at").sort(pl.all())


def _copy(archive: Path, to: Path) -> Path:
    subprocess.run(["cp", "-a", str(archive), str(to)], check=True)
    return to


@pytest.mark.parametrize("kind", list(BOMBS))
def test_a_bomb_is_named_then_quarantined_and_refetched(
    archived: tuple[Path, pl.DataFrame], tmp_path: Path, kind: str
) -> None:
    out = _copy(archived[0], tmp_path / "archive")
    make, said = BOMBS[kind]
    victim = sorted((out / "responses").glob("*.json.gz"))[1]
    victim.write_bytes(make(victim))
    assert victim.stat().st_size < 1.2 * MiB
    with pytest.raises(ArchiveFileBomb, match=said) as caught:
        read_envelope(victim)
    assert isinstance(caught.value, InflationLimitError)
    assert isinstance(caught.value, CorruptArchiveFile)
    assert caught.value.limit <= file_cap(victim.stat().st_size)
    with pytest.raises(DataError, match=rf"archive file '{victim}' is unreadable \(.*{said}"):
        load_archive(out)
    app = SandboxApp(WORLD, rate_limit_per_minute=100_000)
    ids = [t.tweet_id for t in reversed(WORLD.tweets) if t.account == "acme" and t.status == "ok"][:30]
    again = go(app, out, ids)
    assert again.ok
    assert len(app.records) == 1  # exactly the bomb's request again
    assert (out / "quarantine" / victim.name).is_file()  # moved aside, never deleted
    after = load_archive(out, backend="polars").drop("retrieved_at").sort(pl.all())
    assert after.equals(archived[1])


_UNDER_A_CEILING = textwrap.dedent(
    """
    import json, resource, sys
    from engagement_lab.load import load_archive
    from engagement_lab.errors import InflationLimitError

    def vm(field):
        line = next(l for l in open("/proc/self/status") if l.startswith(field + ":"))
        return int(line.split()[1]) * 1024

    ceiling = vm("VmSize") + int(sys.argv[2]) * 2**20  # the imports, plus this much address space at most
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))
    rss = vm("VmRSS")
    try:
        load_archive(sys.argv[1], backend="polars")
        said = "loaded"
    except InflationLimitError as exc:
        said = f"{type(exc).__name__}: {exc}"
    except MemoryError:
        said = "MemoryError"
    print(json.dumps({"said": said, "grew": vm("VmHWM") - rss}))
    """
)


@pytest.mark.parametrize(("kind", "most"), [("declares its size, holds 1 GiB", 64), ("format 1, no size", 420)])
def test_loading_a_bomb_stays_under_a_memory_ceiling(
    archived: tuple[Path, pl.DataFrame], tmp_path: Path, kind: str, most: int
) -> None:
    """``most`` MiB of resident growth at most: a few MiB when the header declares the size, the ratio cap (300x of
    ~1 MB) without one. The address space ceiling (900 MiB over the imports) makes a whole inflation of the 1 GiB a
    ``MemoryError``."""
    out = _copy(archived[0], tmp_path / "archive")
    victim = sorted((out / "responses").glob("*.json.gz"))[1]
    victim.write_bytes(BOMBS[kind][0](victim))
    done = subprocess.run([sys.executable, "-c", _UNDER_A_CEILING, str(out), "900"], capture_output=True, text=True,
                          timeout=60, check=False, env={"POLARS_MAX_THREADS": "1", "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["said"].startswith("ArchiveFileBomb: "), found
    assert found["grew"] < most * MiB, found


def test_the_cap_follows_the_compressed_size() -> None:
    assert file_cap(1_000) == 64 * MiB  # small files: the floor
    assert file_cap(1_000_000) == MAX_RATIO * 1_000_000
    assert file_cap(10**9) == 2**30  # the ceiling
    data = b'{"a": 1}' * 1000
    assert inflate([gzip.compress(data)[i : i + 7] for i in range(0, 99, 7)] + [gzip.compress(data)[99:]],
                   len(data), what="x", why="y") == data  # fmt: skip
    with pytest.raises(InflationLimitError, match=r"x inflates past 7,999 bytes \(y\)"):
        inflate([gzip.compress(data)], len(data) - 1, what="x", why="y")


def test_a_gz_file_given_to_load_is_capped_too(tmp_path: Path) -> None:
    path = tmp_path / "answer.json.gz"
    path.write_bytes(bomb(b'{"data": "'))
    with pytest.raises(InflationLimitError, match=rf"'{path}' inflates past [\d,]+ bytes \(at most 300x"):
        load(path)


@pytest.mark.parametrize("members", [1, 2, 5])
def test_a_large_file_in_several_gzip_members_reads_byte_for_byte(tmp_path: Path, members: int) -> None:
    """The streamed reader gives what ``gzip.decompress`` gives: bodies over several read chunks, and files of
    several gzip members (the header alone in the first)."""
    provenance = {"key": "k", "endpoint": "totals", "status": 200, "retrieved_at": "2026-06-01T00:00:00+00:00"}
    body = os.urandom(1_500_000).hex().encode()  # 3 MB that compress to ~1.6 MB: several 1 MiB read chunks
    data = encode_envelope(provenance, body)
    cut = data.index(b"\n") + 1
    parts = [data]
    if members > 1:  # the header alone, then the body split into members in order
        step = -(-len(body) // (members - 1))
        parts = [data[:cut]] + [body[i : i + step] for i in range(0, len(body), step)]
    path = tmp_path / "k.json.gz"
    path.write_bytes(b"".join(gzip.compress(p) for p in parts))
    assert gzip.decompress(path.read_bytes()) == data
    envelope = read_envelope(path)
    assert envelope["body"] == body
    assert envelope["provenance"] == provenance
