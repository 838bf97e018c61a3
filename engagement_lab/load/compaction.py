"""A fetch archive -> a Parquet dataset, incrementally, in bounded memory; read back lazily (polars or DuckDB).

::

    <dataset>/                               (default <archive>/parquet)
      endpoint=<endpoint>/day=<YYYY-MM-DD>/part-<batch>-<n>.parquet
      compaction.json                        what is committed: responses, files, each partition's checks
      .lock                                  held by the one process compacting into the dataset

Each file holds every tidy and provenance column (the hive-style folders only group them), so any Parquet reader
reads it without partition parsing. Responses are parsed one at a time and written in batches of about
``batch_rows`` rows, so memory is bounded by a batch, never by the archive. A batch is committed by atomically
replacing ``compaction.json``; files of a batch that a crash left uncommitted are removed by the next run and
never read (readers list the committed files). Rerunning adds only responses not yet compacted.

The archive's rules hold lazily: a repeat or a contradiction can only involve rows of one partition (endpoint and
day are part of what names a number), so each partition a run touched is checked once at its end, and readers
deduplicate only the partitions that hold repeats.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from html import escape
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import quote

import polars as pl

from .. import columns as C
from ..errors import DataError, check_choice
from ..locking import WriterLock
from ..metrics import HtmlDisplay
from ..options import check_lazy_backend
from .archive import KEYS, check_archive, conflict_error, conflicts, examples, keyed, merged, parse_envelope
from .archive_format import SUFFIX, envelope_paths, fsync_dir, read_envelope, read_manifest, writing
from .frames import import_duckdb, repeats_query, to_polars

__all__ = ["COMPACTION", "CompactResult", "compact", "scan_compacted"]

COMPACTION: Final = "compaction.json"
DATASET: Final = "parquet"
RERUN: Final = "run compact again to resume"
"""The dataset's default folder inside the archive."""
FORMAT: Final = 1
_TS = pl.Datetime("us", "UTC")
SCHEMA: Final = pl.Schema(
    [
        (C.TWEET_ID, pl.String),
        (C.ENGAGEMENT_TYPE, pl.String),
        (C.GRAIN, pl.String),
        (C.DAY, pl.Date),
        (C.HOUR, pl.Int8),
        (C.TIMESTAMP, _TS),
        (C.VALUE, pl.Int64),
        (C.GROUPING, pl.String),
        (C.ENDPOINT, pl.String),
        (C.WINDOW_START, _TS),
        (C.WINDOW_END, _TS),
        (C.RETRIEVED_AT, _TS),
    ]
)
"""The columns of every file, in order (those of ``load_archive``)."""


@dataclass(frozen=True)
class CompactResult(HtmlDisplay):
    """What one ``compact`` run did.

    Attributes
    ----------
    path : Path
        The dataset folder (read it with :func:`engagement_lab.scan`).
    added : int
        Responses compacted by this run.
    skipped : int
        Responses already compacted by an earlier run (not read again).
    failed : int
        Failed requests the archive holds (no data: a fetch keeps them and does not ask again).
    rows : int
        Rows written by this run.
    total_rows : int
        Rows in the dataset.
    repeated_partitions : tuple of str
        ``endpoint/day`` partitions holding one number more than once (deduplicated when read).
    conflicts : int
        Historical numbers observed with different values (reading refuses them unless ``on_conflict="latest"``).
    """

    path: Path
    added: int
    skipped: int
    failed: int
    rows: int
    total_rows: int
    repeated_partitions: tuple[str, ...] = field(default=())
    conflicts: int = 0

    def __str__(self) -> str:
        text = (
            f"compacted {self.added} new response(s) ({self.rows:,} rows) into {self.path}; {self.skipped} were "
            f"already there, {self.failed} failed request(s) hold no data; the dataset has {self.total_rows:,} rows"
        )
        if self.repeated_partitions:
            text += f"; {len(self.repeated_partitions)} partition(s) hold repeats (read once each)"
        if self.conflicts:
            text += f"; {self.conflicts} contradictory historical value(s): read with on_conflict='latest' or refetch"
        return text

    def _repr_html_(self) -> str:
        return f"<p><b>compact</b>: {escape(str(self))}</p>"


def _partition_name(endpoint: str, day: date | None) -> str:
    return f"{C.ENDPOINT}={quote(endpoint, safe='')}/{C.DAY}={day.isoformat() if day else '__HIVE_DEFAULT_PARTITION__'}"


class _State:
    """``compaction.json``: the committed responses (key -> [retrieved_at, status]), and per partition its files and
    the result of its last check. Replaced atomically; the one source of truth for readers."""

    def __init__(self, dataset: Path) -> None:
        self.path = dataset / COMPACTION
        data: dict[str, Any] = {"format": FORMAT, "responses": {}, "partitions": {}}
        if self.path.is_file():
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise DataError(
                    f"{str(self.path)!r} is not valid JSON ({exc}); delete the folder {str(dataset)!r} and compact "
                    "again (the archive is untouched)"
                ) from None
            if data.get("format") != FORMAT:
                raise DataError(f"{str(self.path)!r} has format {data.get('format')!r}, this version reads {FORMAT}")
        self.responses: dict[str, list[Any]] = data["responses"]
        self.partitions: dict[str, dict[str, Any]] = data["partitions"]
        self.batches: int = data.get("batches", 0)

    def files(self) -> list[str]:
        return [f for p in self.partitions.values() for f in p["files"]]

    def commit(self) -> None:
        text = json.dumps(
            {"format": FORMAT, "batches": self.batches, "responses": self.responses, "partitions": self.partitions}
        )
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        with writing(tmp, rerun=RERUN):
            try:
                with open(tmp, "w", encoding="utf-8") as handle:
                    handle.write(text)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, self.path)
            except OSError:
                with contextlib.suppress(OSError):
                    tmp.unlink()  # a torn temporary file is never read; leave no litter on a full disk
                raise
            fsync_dir(self.path.parent)


@contextlib.contextmanager
def _locked(dataset: Path) -> Iterator[None]:
    """The dataset's writer lock (a read-only or full disk named like any other write)."""
    lock = WriterLock(dataset / ".lock", f"Parquet dataset {str(dataset)!r}")
    with writing(dataset / ".lock", rerun=RERUN):
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _write_parquet(part: pl.DataFrame, path: Path) -> None:
    """One Parquet file, written and flushed to the disk. polars encodes it in memory (a batch's file, a fraction
    of the rows already held) and Python writes it, so a full disk or a read-only folder is an ``OSError`` named
    by :func:`writing` (polars' own writer reports it as "ComputeError ... os error 28", without the file)."""
    buffer = io.BytesIO()
    part.write_parquet(buffer, compression="zstd", statistics=True)
    with writing(path, rerun=RERUN):
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(buffer.getbuffer())
            handle.flush()
            os.fsync(handle.fileno())


def _remove_uncommitted(dataset: Path, state: _State) -> None:
    """Files a crashed run wrote but never committed: never read, removed before anything new is written."""
    committed = set(state.files())
    for path in dataset.glob(f"{C.ENDPOINT}=*/{C.DAY}=*/*"):
        if path.relative_to(dataset).as_posix() not in committed:
            path.unlink()
    for tmp in dataset.glob(f"{COMPACTION}.*.tmp"):
        tmp.unlink()


def _pending(root: Path, state: _State) -> tuple[list[Path], int]:
    """The response files not yet compacted, in key order, and how many were compacted before. A fetch never
    rewrites an archived response, so one the manifest now lists with another fetch time was replaced by hand:
    refused, since the dataset holds the old one."""
    listed = {e["key"]: e.get("retrieved_at") for e in read_manifest(root) if "key" in e}
    pending, done = [], 0
    for path in envelope_paths(root):
        key = path.name.removesuffix(SUFFIX)
        seen = state.responses.get(key)
        if seen is None:
            pending.append(path)
            continue
        if listed.get(key, seen[0]) != seen[0]:
            raise DataError(
                f"archive response {key!r} was replaced ({listed[key]}) after it was compacted ({seen[0]}); "
                "delete the dataset folder and compact again"
            )
        done += 1
    return pending, done


def _check(dataset: Path, files: Iterable[str]) -> dict[str, Any]:
    """One partition's repeats and contradictions, from its files only."""
    frame = keyed(pl.scan_parquet([str(dataset / f) for f in files], schema=SCHEMA))
    if not repeats_query(frame, KEYS).collect().item():
        return {"repeats": False, "conflicts": 0, "examples": []}
    found = conflicts(merged(frame)).collect()
    shown = [[str(v) if v is not None else None for v in row] for row in examples(found)]
    return {"repeats": True, "conflicts": found.height, "examples": shown}


def compact(
    archive: str | Path,
    *,
    out: str | Path | None = None,
    batch_rows: int = 1_000_000,
    progress: Callable[[int, int], None] | None = None,
) -> CompactResult:
    """Compact a fetch archive into a Parquet dataset (default ``<archive>/parquet``), adding only new responses.

    Parameters
    ----------
    archive : path
        The ``--out`` folder of a fetch. It may be fetched into while this runs: only complete responses exist.
    out : path, optional
        The dataset folder.
    batch_rows : int
        Rows held in memory before they are written (memory is bounded by this, not by the archive).
    progress : callable, optional
        Called as ``progress(done, total)`` after each response.
    """
    root = check_archive(archive)
    if isinstance(batch_rows, bool) or not isinstance(batch_rows, int) or batch_rows < 1:
        raise DataError(f"batch_rows must be a positive integer, got {batch_rows!r}")
    dataset = Path(out) if out is not None else root / DATASET
    try:
        dataset.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the dataset folder {str(dataset)!r}: {exc.strerror or exc}") from None
    with _locked(dataset):
        state = _State(dataset)
        with writing(dataset, rerun=RERUN):
            _remove_uncommitted(dataset, state)
        pending, skipped = _pending(root, state)
        touched: set[str] = {name for name, p in state.partitions.items() if p.get("checked") is False}
        batch: list[pl.DataFrame] = []
        keys: dict[str, list[Any]] = {}
        added = rows = 0

        def flush() -> None:
            nonlocal rows
            if batch:
                table = pl.concat(batch)
                # numbered in commit order, so a file's name orders it among its partition's files
                name = f"{state.batches:08d}-{uuid.uuid4().hex[:8]}"
                state.batches += 1
                for (endpoint, day), part in table.partition_by([C.ENDPOINT, C.DAY], as_dict=True).items():
                    partition = _partition_name(str(endpoint), day)
                    entry = state.partitions.setdefault(partition, {"files": []})
                    file = f"{partition}/part-{name}-{len(entry['files'])}.parquet"
                    _write_parquet(part, dataset / file)  # on disk before the commit that makes it count
                    entry["files"].append(file)
                    entry["checked"] = False
                    entry["rows"] = entry.get("rows", 0) + part.height
                    touched.add(partition)
                rows += table.height
            state.responses.update(keys)
            state.commit()  # the batch's files and responses become visible together
            batch.clear()
            keys.clear()

        held = 0
        for done, path in enumerate(pending, start=1):
            envelope = read_envelope(path)
            provenance = envelope["provenance"]
            parsed = parse_envelope(path, envelope)
            keys[provenance["key"]] = [provenance["retrieved_at"], provenance.get("status")]
            if parsed is not None:
                frame = to_polars(parsed.table)
                batch.append(frame.select(SCHEMA.names()).cast(SCHEMA))
                held += frame.height
                added += 1
            if held >= batch_rows:
                flush()
                held = 0
            if progress is not None:
                progress(done, len(pending))
        flush()
        for partition in sorted(touched):
            entry = state.partitions[partition]
            entry.update(_check(dataset, entry["files"]), checked=True)
        if touched:
            state.commit()
        repeated = tuple(sorted(n for n, p in state.partitions.items() if p["repeats"]))
        return CompactResult(
            path=dataset,
            added=added,
            skipped=skipped,
            failed=sum(1 for seen in state.responses.values() if seen[1] != 200),
            rows=rows,
            total_rows=sum(p.get("rows", 0) for p in state.partitions.values()),
            repeated_partitions=repeated,
            conflicts=sum(p["conflicts"] for p in state.partitions.values()),
        )


def _read_state(dataset: Path) -> _State:
    if not (dataset / COMPACTION).is_file():
        raise DataError(f"{str(dataset)!r} is not a compacted archive (no {COMPACTION}); run compact() first")
    state = _State(dataset)
    if not state.files():
        raise DataError(f"the dataset {str(dataset)!r} holds no rows yet; fetch successful responses and compact")
    unchecked = [n for n, p in state.partitions.items() if not p.get("checked")]
    if unchecked:
        raise DataError(
            f"the dataset {str(dataset)!r} has {len(unchecked)} partition(s) a compaction did not finish checking "
            f"(e.g. {unchecked[0]}); run compact() again to finish"
        )
    return state


def scan_compacted(
    dataset: str | Path,
    *,
    backend: Literal["polars", "duckdb"] = "polars",
    on_conflict: Literal["raise", "latest"] = "raise",
) -> Any:
    """The tidy frame of a compacted archive, lazily: a polars LazyFrame or a DuckDB relation, with the archive's
    rules (repeats read once, later snapshots win, contradictions refused unless ``on_conflict="latest"``).

    Only committed files are read; the partitions that hold repeats are the only ones deduplicated.
    """
    check_lazy_backend(backend)
    check_choice("on_conflict", on_conflict, ("raise", "latest"), DataError)
    root = Path(dataset)
    state = _read_state(root)
    found = sum(p["conflicts"] for p in state.partitions.values())
    if found and on_conflict == "raise":
        shown = [tuple(e) for p in state.partitions.values() for e in p["examples"]][:5]
        raise conflict_error(found, shown)
    clean = [str(root / f) for p in state.partitions.values() if not p["repeats"] for f in p["files"]]
    repeated = [str(root / f) for p in state.partitions.values() if p["repeats"] for f in p["files"]]
    columns = [*C.TIDY, *C.PROVENANCE]
    if backend == "duckdb":
        return _duckdb(clean, repeated, columns)
    parts = [pl.scan_parquet(clean, schema=SCHEMA).select(columns)] if clean else []
    if repeated:
        parts.append(merged(keyed(pl.scan_parquet(repeated, schema=SCHEMA))).select(columns))
    return pl.concat(parts)


def _duckdb(clean: list[str], repeated: list[str], columns: list[str]) -> Any:
    duckdb = import_duckdb()
    names = ", ".join(f'"{c}"' for c in columns)

    def files(paths: list[str]) -> str:
        return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"

    queries = [f"SELECT {names} FROM read_parquet({files(clean)})"] if clean else []
    if repeated:
        # the latest observation of each number; ties in fetch time keep the later file, as the eager load does
        windows = [f"CASE WHEN grain = 'hour' THEN NULL ELSE {c} END" for c in (C.WINDOW_START, C.WINDOW_END)]
        key = ", ".join([*(f'"{k}"' for k in KEYS if not k.startswith("_")), *windows])
        queries.append(
            f"SELECT {names} FROM read_parquet({files(repeated)}, filename = true) "
            f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY retrieved_at DESC, filename DESC) = 1"
        )
    return duckdb.sql(" UNION ALL ".join(queries))
