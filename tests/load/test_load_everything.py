"""load(): a user's mixed folder, each file's kind read from its content, into one tidy frame; and each specific
loader refusing another kind naming the loader that reads it (never 0 rows in silence)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from engagement_lab import DataError, EngagementQuery, ResponseFormatError, load, load_archive
from engagement_lab.api import Credentials, fetch
from engagement_lab.cli import main
from engagement_lab.load import load_analytics, load_analytics_csv, load_response, load_v2, per_tweet
from engagement_lab.sandbox import SandboxApp, SandboxTransport, World

from .test_many_sources import export_row, page
from .test_sources import ACTIVITY_HEADER

EXPORTED, TWARC, ANALYSED, ENGAGED = (
    "1395000000000000001",
    "1460323737035677698",
    "1346889436626259968",
    "1790000000000000001",
)

ANALYTICS_ANSWER = {
    "data": [
        {
            "id": ANALYSED,
            "timestamped_metrics": [
                {"timestamp": "2025-03-17T06:00:00Z", "metrics": {"impressions": 123, "likes": 7, "bookmarks": None}},
                {"timestamp": "2025-03-17T07:00:00Z", "metrics": {"impressions": 40, "likes": 1, "bookmarks": 2}},
            ],
        }
    ]
}
ENGAGEMENT_RESPONSE = {
    "start": "2026-05-01T00:00:00Z",
    "end": "2026-05-29T00:00:00Z",
    "perTweetMetricsOwned": {ENGAGED: {"impressions": "5512", "engagements": "48", "favorites": "21"}},
}


def flattened(likes: int, when: str) -> str:
    tweet = page(likes, None)["data"][0]
    tweet["__twarc"] = {"url": "https://api.x.com/2/tweets", "version": "2.13.0", "retrieved_at": when}
    return json.dumps(tweet)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Names that say nothing, as a downloads folder has them."""
    header = ACTIVITY_HEADER.format(likes="likes")
    (tmp_path / "tweet_activity_metrics_acme_20210501_20210531_en.csv").write_text(
        "\n".join([header, export_row(EXPORTED, 13900, 27, promoted=400)]) + "\n"
    )
    (tmp_path / "data.jsonl").write_text(json.dumps(page(27, "2026-06-01T12:00:00+00:00")) + "\n")
    (tmp_path / "data (1).json").write_text(json.dumps(ANALYTICS_ANSWER))
    (tmp_path / "response.json.gz").write_bytes(gzip.compress(json.dumps(ENGAGEMENT_RESPONSE).encode()))
    return tmp_path


def test_a_mixed_folder_loads_every_tweet_exactly(folder: Path, backend: str) -> None:
    tidy, report = load(folder, backend=backend, report=True)  # type: ignore[call-overload]
    rows = pl.from_pandas(tidy) if backend == "pandas" else tidy
    assert set(rows["tweet_id"].unique()) == {EXPORTED, TWARC, ANALYSED, ENGAGED}
    # each file's rows are what its own loader gives (the kinds were recognised, nothing added across files)
    alone = {
        "tweet_activity_metrics_acme_20210501_20210531_en.csv": load_analytics_csv,
        "data.jsonl": load_v2,
        "data (1).json": load_analytics,
        "response.json.gz": load_response,
    }
    for name, loader in alone.items():
        own = pl.from_pandas(loader(folder / name)).select("tweet_id", "engagement_type", "grain", "value")
        mine = rows.filter(pl.col("source_file") == str(folder / name)).select(own.columns)
        assert sorted(mine.rows()) == sorted(own.rows()), name
    lines = dict(line.split(": ", 1) for line in report.kinds)
    assert lines[str(folder / "data (1).json")].startswith("an X API v2 analytics answer")
    assert lines[str(folder / "data.jsonl")].startswith("an X API v2 post lookup")
    assert lines[str(folder / "response.json.gz")] == "an Engagement API response, 3 rows"
    assert report.refused == ()
    with pytest.warns(UserWarning, match="the tweets count different populations"):
        one_per_tweet = per_tweet(tidy)
    wide = {
        r["tweet_id"]: r for r in (pl.from_pandas(one_per_tweet) if backend == "pandas" else one_per_tweet).to_dicts()
    }
    populations = {"export": EXPORTED, "engagement": ENGAGED, "public": TWARC, "analytics": ANALYSED}
    assert {r["population"]: t for t, r in wide.items()} == populations
    assert wide[EXPORTED]["impressions"] == 13900
    assert wide[ENGAGED]["impressions"] == 5512
    assert wide[TWARC]["favorites"] == 27
    assert wide[ANALYSED]["impressions"] == 163  # two hours of one tweet: hours are added, they are not snapshots


def test_a_file_of_no_kind_is_named_or_left_out_and_listed(folder: Path) -> None:
    (folder / "followers.csv").write_text("Username,Followers\nacme,5\n")
    with pytest.raises(
        DataError, match=r"followers\.csv is neither JSON nor an analytics export.*'Username,Followers'"
    ):
        load(folder)
    with pytest.warns(UserWarning, match="left out 1 file"):
        tidy, report = load(folder, on_error="skip", report=True)  # type: ignore[call-overload]
    assert len(report.refused) == 1
    assert "followers.csv" in report.refused[0]
    assert tidy["tweet_id"].nunique() == 4
    with pytest.raises(DataError, match=r"on_error.*did you mean 'skip'"):
        load(folder, on_error="skp")  # type: ignore[arg-type]


def test_v2_analytics_single_object_shape() -> None:
    single = {"data": ANALYTICS_ANSWER["data"][0]}
    assert load(single)["value"].to_list() == load_analytics(ANALYTICS_ANSWER)["value"].to_list()
    assert load_analytics(single)["value"].to_list() == [123, 7, 40, 1, 2]


@pytest.mark.parametrize(
    ("loader", "given", "names"),
    [
        (load_v2, ANALYTICS_ANSWER, "load_analytics"),  # was 0 rows: the items have ids but no metric sections
        (load_analytics, json.loads(flattened(3, "2026-06-01T10:00:00+00:00")), "load_v2"),  # was 0 rows
        (load_analytics, page(3, None), "load_v2"),
        (load_v2, ENGAGEMENT_RESPONSE, "load_response"),
        (load_analytics, ENGAGEMENT_RESPONSE, "load_response"),
    ],
)
def test_each_loader_refuses_another_kind_naming_its_loader(loader: Any, given: Any, names: str) -> None:
    with pytest.raises((DataError, ResponseFormatError), match=rf"read it with {names}\(\.\.\.\), or with load"):
        loader(given)


def test_a_flattened_twarc_file_given_to_load_analytics_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tweets.jsonl"
    path.write_text(flattened(3, "2026-06-01T10:00:00+00:00") + "\n" + flattened(5, "2026-06-02T10:00:00+00:00") + "\n")
    with pytest.raises(DataError, match="load_v2"):
        load_analytics(path)
    tidy = load(path, backend="polars")
    assert tidy.filter(pl.col("engagement_type") == "favorites")["value"].to_list() == [5]  # the later snapshot


def test_a_fetch_archive_joins_the_same_collapse(tmp_path: Path) -> None:
    world = World(seed=7)
    owned = [t.tweet_id for t in reversed(world.tweets) if t.account == "acme" and t.status == "ok"][:2]
    app = SandboxApp(world, rate_limit_per_minute=100_000)
    base = "https://data-api.twitter.com"
    query = EngagementQuery("totals", owned, ["impressions", "favorites"], "per_tweet")
    archive = tmp_path / "archive"
    result = fetch(query, credentials=Credentials.from_mapping(app.info(base)), out=archive,
                   owners=dict.fromkeys(owned, "acme"), base_url=base, transport=SandboxTransport(app), now=world.now,
                   progress=False)  # fmt: skip
    assert result.ok
    (tmp_path / "data.jsonl").write_text(json.dumps(page(27, "2026-06-01T12:00:00+00:00")) + "\n")
    tidy, report = load(tmp_path, backend="polars", report=True)  # type: ignore[call-overload]
    from_archive = load_archive(archive, backend="polars")
    assert tidy.filter(pl.col("tweet_id").is_in(owned)).height == from_archive.height
    assert sorted(tidy.filter(pl.col("tweet_id").is_in(owned))["value"].to_list()) == sorted(
        from_archive["value"].to_list()
    )
    assert any(line.startswith(f"{archive}: a fetch archive") for line in report.kinds)


def test_the_load_command_writes_one_tidy_file(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out" / "tidy.parquet"
    assert main(["load", str(folder), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "an Engagement API response, 3 rows" in printed
    assert printed.strip().endswith(f"(4 tweets) to {out}")
    assert pl.read_parquet(out)["tweet_id"].n_unique() == 4
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temporary left behind


LOADERS = {"load_analytics_csv": load_analytics_csv, "load_response": load_response, "load_v2": load_v2,
           "load_analytics": load_analytics}  # fmt: skip
FILES = {"export.csv": "load_analytics_csv", "twarc.jsonl": "load_v2", "flat.jsonl": "load_v2",
         "analytics.json": "load_analytics", "engagement.json.gz": "load_response"}  # fmt: skip


@pytest.fixture(scope="module")
def one_of_each(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("kinds")
    (folder / "export.csv").write_text(
        "\n".join([ACTIVITY_HEADER.format(likes="likes"), export_row(EXPORTED, 13900, 27)]) + "\n"
    )
    (folder / "twarc.jsonl").write_text(json.dumps(page(27, "2026-06-01T12:00:00+00:00")) + "\n")
    (folder / "flat.jsonl").write_text(flattened(3, "2026-06-01T10:00:00+00:00") + "\n")
    (folder / "analytics.json").write_text(json.dumps(ANALYTICS_ANSWER))
    (folder / "engagement.json.gz").write_bytes(gzip.compress(json.dumps(ENGAGEMENT_RESPONSE).encode()))
    return folder


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize("name", FILES)
def test_every_loader_reads_its_kind_and_names_the_reader_of_the_others(
    one_of_each: Path, loader: str, name: str
) -> None:
    path = one_of_each / name
    if FILES[name] == loader:
        assert len(LOADERS[loader](path)) > 0
        return
    with pytest.raises(DataError, match=rf"{name} is .*: read it with {FILES[name]}\(\.\.\.\), or with load"):
        LOADERS[loader](path)


def test_a_glob_reads_archives_and_a_folder_lists_what_it_left_alone(tmp_path: Path) -> None:
    world = World(seed=7)
    owned = [t.tweet_id for t in reversed(world.tweets) if t.account == "acme" and t.status == "ok"][:1]
    app = SandboxApp(world, rate_limit_per_minute=100_000)
    base = "https://data-api.twitter.com"
    query = EngagementQuery("totals", owned, ["impressions"], "per_tweet")
    assert fetch(query, credentials=Credentials.from_mapping(app.info(base)), out=tmp_path / "archive",
                 owners=dict.fromkeys(owned, "acme"), base_url=base, transport=SandboxTransport(app), now=world.now,
                 progress=False).ok  # fmt: skip
    (tmp_path / "posts.tsv").write_text("Post id\tDate\tImpressions\n1790000000000000002\tFri, Jun 5, 2026\t12\n")
    (tmp_path / "notes.pdf").write_bytes(b"%PDF-1.4")
    with pytest.warns(UserWarning, match=r"left alone 1 file.*notes\.pdf"):
        by_glob = load(str(tmp_path / "*"), backend="polars")
    assert set(by_glob["tweet_id"].unique()) == {owned[0], "1790000000000000002"}  # the archive was not dropped
    with pytest.warns(UserWarning, match=r"left alone 1 file.*notes\.pdf"):
        by_folder, report = load(tmp_path, backend="polars", report=True)  # type: ignore[call-overload]
    assert by_folder.sort(by_folder.columns).equals(by_glob.sort(by_glob.columns))
    assert report.ignored == (str(tmp_path / "notes.pdf"),)


def test_a_twarc_file_opening_with_an_errors_only_page_is_read(tmp_path: Path) -> None:
    missing = {"errors": [{"value": "1460323737035677700", "detail": "Could not find tweet", "title": "Not Found Error",
                           "resource_type": "tweet", "resource_id": "1460323737035677700"}]}  # fmt: skip
    path = tmp_path / "hydrated.jsonl"
    path.write_text(json.dumps(missing) + "\n" + json.dumps(page(27, "2026-06-01T12:00:00+00:00")) + "\n")
    tidy, report = load(path, report=True)  # type: ignore[call-overload]
    assert report.unavailable_tweet_ids == ("1460323737035677700",)
    assert tidy.equals(load_v2(path))
    (tmp_path / "only_errors.json").write_text(json.dumps(missing))
    _, alone = load(tmp_path / "only_errors.json", report=True)  # type: ignore[call-overload]
    assert alone.unavailable_tweet_ids == ("1460323737035677700",)


def test_an_engagement_grouping_named_data_is_an_engagement_response() -> None:
    response = {"data": {ENGAGED: {"impressions": "5", "favorites": "1"}}}
    assert load(response)["value"].to_list() == load_response(response)["value"].to_list() == [5, 1]


def test_a_refusal_names_the_file_and_keeps_its_class(tmp_path: Path) -> None:
    bad = page(27, None)
    bad["data"][0]["public_metrics"]["like_count"] = "abc"
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(
        ResponseFormatError, match=r"bad\.json: like_count must be a non-negative JSON integer"
    ) as caught:
        load(tmp_path)
    assert caught.value.path == "$['data'][0]['public_metrics']['like_count']"
    huge = page(27, None)
    huge["data"][0]["public_metrics"]["like_count"] = 2**70
    with pytest.raises(ResponseFormatError, match=r"below 2\*\*63"):
        load_v2(huge)
    (tmp_path / "bad.json").write_bytes(b"[" * 200_000 + b"]" * 200_000)
    with pytest.raises(DataError, match=r"bad\.json: its JSON is nested too deeply"):
        load(tmp_path / "bad.json")


def test_engagement_lab_load_is_one_callable_object_however_it_is_imported() -> None:
    import importlib
    import inspect
    import pickle

    import engagement_lab

    package = importlib.import_module("engagement_lab.load")
    assert engagement_lab.load is package is load
    assert pickle.loads(pickle.dumps(engagement_lab.load)) is package  # a process pool can be handed it
    assert list(inspect.signature(engagement_lab.load).parameters) == [
        "source",
        "backend",
        "keep",
        "on_error",
        "report",
    ]
    assert package.per_tweet is per_tweet


def test_the_load_command_reruns_into_its_own_folder_and_speaks_cli(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = folder / "tidy.csv"
    assert main(["load", str(folder), "--out", str(out)]) == 0
    assert main(["load", str(folder), "--out", str(out)]) == 0  # the table it wrote is not read as an input
    assert pl.read_csv(out, schema_overrides={"tweet_id": pl.String})["tweet_id"].n_unique() == 4
    capsys.readouterr()
    (folder / "followers.csv").write_text("Username,Followers\nacme,5\n")
    assert main(["load", str(folder), "--out", str(out)]) == 1
    assert "--skip-unreadable" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["load", str(folder), "--out", str(folder / "tidy.xlsx")])
    assert usage.value.code == 2
