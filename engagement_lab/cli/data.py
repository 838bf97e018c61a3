"""Commands that fetch, authorise, compact and report: ``fetch``, ``auth``, ``compact``, ``report``."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from typing import TYPE_CHECKING

from ..errors import ConfigError
from ..sources.engagement import catalog
from ..sources.x_v2 import catalog as v2
from .common import (
    RenamedFlag,
    TokenSaver,
    ask,
    byte_size,
    duration,
    positive_int,
    read_ids_file,
    read_media_keys,
    renamed_choice,
    time_arg,
)

if TYPE_CHECKING:
    from ..api import Credentials, FetchResult

__all__ = ["add_auth", "add_compact", "add_fetch", "add_report"]

AUTH_FLOWS = {
    "oauth1": "OAuth 1.0a PIN flow (default; user tokens for the Engagement API and X API v2)",
    "oauth2": "OAuth 2.0 with PKCE (user tokens for X API v2 analytics)",
}


def add_fetch(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "fetch",
        help="fetch metrics into a resumable archive",
        description="Plan, pace and fetch an Engagement API query (totals, 28hr, historical) or X API v2 post "
        "analytics (analytics; media-analytics for video media keys) into an archive directory. Rerunning the "
        "same command resumes: archived requests are skipped. Credentials come from ENGAGEMENT_* variables (or "
        ".env) unless --credentials is given.",
    )
    p.add_argument(
        "endpoint",
        choices=["totals", "28hr", "historical", "analytics", "media-analytics"],
        help="totals, 28hr or historical: the Engagement API; analytics or media-analytics: X API v2",
    )
    p.add_argument("--ids-file", required=True, help="one tweet id per line, or a CSV with tweet_id (and account)")
    p.add_argument("--out", required=True, help="archive directory (created; reused to resume)")
    p.add_argument(
        "--base-url",
        default=None,
        help=f"API base URL (default {catalog.BASE_URL}; {v2.V2_BASE_URL} for analytics and media-analytics)",
    )
    p.add_argument("--credentials", help="JSON credentials file (several accounts) or .env-style file")
    p.add_argument(
        "--metrics",
        nargs="+",
        default=["all"],
        help="metric names, or 'all' / 'public' (default all); for analytics: analytics.fields names or 'all'",
    )
    p.add_argument(
        "--granularity",
        choices=list(v2.POST_GRANULARITIES),
        default=None,
        help="analytics buckets: hourly, daily, weekly or total (default total; daily for media-analytics)",
    )
    p.add_argument(
        "--groupings", nargs="+", default=None, help="grouping presets (default per_tweet for totals, hourly otherwise)"
    )
    p.add_argument("--start", type=time_arg("--start"), help="historical start (ISO UTC)")
    p.add_argument("--end", type=time_arg("--end"), help="historical end (ISO UTC)")
    p.add_argument("--bearer", action="store_true", help="use the app-only bearer token (public metrics on totals)")
    p.add_argument(
        "--concurrency",
        type=positive_int,
        default=4,
        help="requests in flight at once (default 4); the request budget still paces them",
    )
    p.add_argument(
        "--requests-per-window",
        "--requests-per-minute",
        type=positive_int,
        default=None,
        action=RenamedFlag,
        help="request budget per rate-limit window (a minute on the Engagement API, 15 minutes on X API v2) until "
        "the API announces one (--requests-per-minute is the previous release's name)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument(
        "--give-up-after",
        type=duration,
        default=20.0,
        help="stop when the API has answered nothing for this long, e.g. 20s or 2m (default 20s; the start-up "
        "check of the API gives up after as long); rerun to resume",
    )
    p.add_argument(
        "--timeout",
        type=duration,
        default=None,
        help="the most one request may take in all: connecting (10s at most), sending and the whole answer, e.g. "
        "30s or 2m (default 60s); a slower answer is retried. A fetch whose API stops answering ends within "
        "--give-up-after + --timeout",
    )
    p.add_argument(
        "--max-response-size",
        type=byte_size,
        default=None,
        help="the largest answer read, as sent or once inflated, e.g. 64MB or 1GB (default 256MB); a larger one "
        "fails its request unread",
    )
    p.set_defaults(run=_run_fetch)


def _run_fetch(args: argparse.Namespace) -> int:
    from ..api import Credentials
    from ..sources.engagement.fetch import fetch
    from ..sources.engagement.query import EngagementQuery

    if args.endpoint in ("analytics", "media-analytics"):
        return _run_fetch_analytics(args)
    if args.granularity is not None:
        raise ConfigError("--granularity is for analytics and media-analytics; the Engagement API uses --groupings")
    ids, owners = read_ids_file(args.ids_file)
    metrics = args.metrics[0] if args.metrics in (["all"], ["public"]) else args.metrics
    groupings = args.groupings or (["per_tweet"] if args.endpoint == "totals" else ["hourly"])
    query = EngagementQuery(
        args.endpoint, ids, metrics, groupings, start=args.start, end=args.end, auth="bearer" if args.bearer else "user"
    )
    result = fetch(
        query,
        credentials=Credentials.load(args.credentials),
        out=args.out,
        owners=owners,
        base_url=args.base_url or catalog.BASE_URL,
        concurrency=args.concurrency,
        requests_per_window=args.requests_per_window,
        progress=not args.no_progress,
        unreachable_after=args.give_up_after,
        timeout=args.timeout,
        max_response_bytes=args.max_response_size,
    )
    return _report_fetch(result)


def _report_fetch(result: FetchResult) -> int:
    print(result.summary())
    if not result.ok:
        print(
            f"engagement-lab: {len(result.errors)} request(s) failed; rerun the same command to retry them",
            file=sys.stderr,
        )
        return 1
    return 0


def _run_fetch_analytics(args: argparse.Namespace) -> int:
    from ..api import Credentials, fetch_analytics
    from ..sources.x_v2.query import AnalyticsQuery, MediaAnalyticsQuery

    if args.groupings or args.bearer:
        raise ConfigError("--groupings and --bearer are Engagement API options; analytics takes --granularity")
    if args.start is None:
        raise ConfigError("analytics needs --start (the API requires a start_time), e.g. --start 2026-05-01")
    credentials = Credentials.load(args.credentials)
    fields = args.metrics[0] if args.metrics == ["all"] else args.metrics
    if args.endpoint == "analytics":
        ids, owners = read_ids_file(args.ids_file)
        query: AnalyticsQuery | MediaAnalyticsQuery = AnalyticsQuery(
            ids, args.start, args.end, granularity=args.granularity or "total", fields=fields
        )
    else:
        keys, owners = read_media_keys(args.ids_file)
        query = MediaAnalyticsQuery(keys, args.start, args.end, granularity=args.granularity or "daily", fields=fields)

    result = fetch_analytics(
        query,
        credentials=credentials,
        out=args.out,
        owners=owners,
        base_url=args.base_url or v2.V2_BASE_URL,
        concurrency=args.concurrency,
        requests_per_window=args.requests_per_window,
        progress=not args.no_progress,
        unreachable_after=args.give_up_after,
        timeout=args.timeout,
        max_response_bytes=args.max_response_size,
        on_token_refresh=TokenSaver(credentials, args.credentials),
    )
    return _report_fetch(result)


def add_auth(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "auth",
        help="authorise an account (PIN flow) or fetch the bearer token, and save the credentials",
        description="Runs the 3-legged OAuth 1.0a PIN flow: prints the authorise URL, reads the PIN, and saves the "
        "user's tokens next to the app's in a private (0600) JSON credentials file. --bearer fetches the app-only "
        "bearer token instead.",
    )
    p.add_argument(
        "flow",
        nargs="?",
        type=renamed_choice(AUTH_FLOWS, {"v1": "oauth1", "v2": "oauth2"}),
        default="oauth1",
        metavar="{" + ",".join(AUTH_FLOWS) + "}",
        help="; ".join(f"{k}: {v}" for k, v in AUTH_FLOWS.items()),
    )
    p.add_argument("--base-url", default=None, help="API base URL (the sandbox's for local work)")
    p.add_argument("--credentials", help="existing credentials file to start from (default: ENGAGEMENT_* variables)")
    p.add_argument("--save", required=True, help="where to write the credentials file")
    p.add_argument("--bearer", action="store_true", help="fetch the bearer token instead of authorising a user")
    p.add_argument("--client-id", help="oauth2: the app's OAuth 2.0 client id (else oauth2_client_id from the file)")
    p.add_argument(
        "--port",
        type=int,
        default=0,
        help="oauth2: loopback port for the redirect, matching the app's callback URL (default 0: any free port; "
        "8765 in the URL --paste prints)",
    )
    p.add_argument(
        "--paste",
        action="store_true",
        help="oauth2: no local listener; paste the URL the browser was redirected to (for remote machines)",
    )
    p.add_argument(
        "--timeout",
        type=duration,
        default=300.0,
        help="oauth2: how long to wait for the redirect, e.g. 90s or 5m (default 5m)",
    )
    p.set_defaults(run=_run_auth)


def _run_auth(args: argparse.Namespace) -> int:
    from ..api import Credentials, authorize_pin, request_bearer_token

    credentials = Credentials.load(args.credentials)
    if args.flow == "oauth2":
        return _run_auth_oauth2(args, credentials)
    base_url = args.base_url or catalog.BASE_URL
    if args.bearer:
        credentials = request_bearer_token(credentials, base_url=base_url)
        print("bearer token obtained")
    else:
        tokens = authorize_pin(
            credentials,
            base_url=base_url,
            show=lambda url: print(f"Open this URL, authorise the app, and copy the PIN:\n  {url}", flush=True),
            ask_pin=ask,
        )
        credentials = credentials.with_account(tokens)
        print(f"authorised @{tokens.handle}")
    print(f"saved {credentials.save(args.save)} (mode 0600; keep it out of version control)")
    return 0


def _run_auth_oauth2(args: argparse.Namespace, credentials: Credentials) -> int:
    """OAuth 2.0 Authorization Code with PKCE: print the consent URL, capture the redirect, save the token."""
    import httpx

    from ..api import AccountTokens, LoopbackRedirect, PKCEFlow, Secret

    base_url = args.base_url or v2.V2_BASE_URL
    client_id = args.client_id or credentials.oauth2_client_id
    if not client_id:
        raise ConfigError(
            "give the app's OAuth 2.0 client id (--client-id, ENGAGEMENT_OAUTH2_CLIENT_ID, or oauth2_client_id in "
            "the credentials file; the developer portal shows it under Keys and tokens, OAuth 2.0)"
        )
    listener = None if args.paste else LoopbackRedirect(args.port)
    redirect_uri = listener.uri if listener else f"http://127.0.0.1:{args.port or 8765}/callback"
    flow = PKCEFlow(client_id, redirect_uri, base_url=base_url)
    print(f"Open this URL in a browser and authorise the app:\n  {flow.url}", flush=True)
    if listener is not None:
        print(f"waiting for the redirect to {redirect_uri} ...", flush=True)
        landed = listener.wait(args.timeout)
    else:
        landed = ask("Paste the full URL the browser was sent to: ").strip()
    with httpx.Client(timeout=30) as http:
        token = flow.exchange(landed, http=http)
        me = http.get(
            base_url.rstrip("/") + "/2/users/me", headers={"Authorization": f"Bearer {token.access_token.reveal()}"}
        )
    handle = me.json().get("data", {}).get("username") if me.status_code == 200 else None
    if not isinstance(handle, str) or not handle:
        raise ConfigError(f"the token works but /2/users/me did not say whose it is (HTTP {me.status_code})")
    credentials = credentials.with_account(AccountTokens(handle, Secret(""), Secret(""), token))
    if credentials.oauth2_client_id != client_id:
        credentials = replace(credentials, oauth2_client_id=client_id)
    print(f"authorised @{handle} (OAuth 2.0, scopes: {token.scope or 'as granted'})")
    print(f"saved {credentials.save(args.save)} (mode 0600; keep it out of version control)")
    return 0


def add_report(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "report",
        help="render a self-contained HTML report from an archive or a table of tweets",
        description="Execute the parameterised report notebook and render it to one HTML file with inline charts. "
        "The data come from a fetch archive with its metadata CSV, or from a table with one row per tweet.",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--archive", help="a fetch archive folder (with --metadata)")
    source.add_argument(
        "--table", help="a CSV or Parquet file with one row per tweet: counts (impressions, engagements...) and --by"
    )
    p.add_argument("--metadata", help="with --archive: tweet metadata CSV (tweet_id plus the --by column)")
    p.add_argument("--by", required=True, help="the column whose values are the groups")
    p.add_argument("--control", help="the reference group")
    p.add_argument(
        "--metric",
        default="engagement_rate",
        help="a named rate such as engagement_rate (default) or ctr, or a numeric column (its per-tweet mean)",
    )
    p.add_argument(
        "--where", help="keep only tweets where COLUMN=VALUE, e.g. campaign=spring_launch (default: every tweet)"
    )
    p.add_argument(
        "--alpha", type=float, default=0.05, help="the significance level; intervals cover 1 - alpha (default 0.05)"
    )
    p.add_argument(
        "--correction",
        default="holm",
        choices=["holm", "bonferroni", "fdr_bh", "fdr_by", "none"],
        help="how p-values are adjusted for several comparisons (default holm)",
    )
    p.add_argument("--title", help="the report's heading (default: the metric by the --by column, and --where)")
    p.add_argument(
        "--adjust-for",
        nargs="+",
        default=[],
        metavar="COLUMN",
        help="confounders to hold fixed when groups were not randomised, e.g. account hour_of_day weekday",
    )
    design = p.add_mutually_exclusive_group()
    design.add_argument(
        "--randomised",
        dest="randomised",
        action="store_true",
        default=True,
        help="the groups were assigned at random, as in an A/B test (the default)",
    )
    design.add_argument(
        "--observational",
        dest="randomised",
        action="store_false",
        help="the groups were not randomised: the report says its lifts are associations, not causes",
    )
    p.add_argument(
        "--plan-lift",
        type=float,
        default=0.1,
        help="the lift the bottom line plans for: about how many more tweets per arm would tell it (default 0.1)",
    )
    p.add_argument("--out", required=True, help="the HTML file to write")
    p.add_argument("--no-progress", action="store_true", help="print no line as each section of the report starts")
    p.set_defaults(run=_run_report)


def _run_report(args: argparse.Namespace) -> int:
    from ..report.render import render_report

    if args.archive and not args.metadata:
        raise ConfigError("--archive needs --metadata (a CSV with tweet_id and the --by column)")
    path = render_report(
        archive=args.archive,
        metadata=args.metadata,
        table=args.table,
        randomised=args.randomised,
        by=args.by,
        out=args.out,
        control=args.control,
        metric=args.metric,
        where=args.where,
        alpha=args.alpha,
        correction=args.correction,
        title=args.title,
        adjust_for=args.adjust_for,
        plan_lift=args.plan_lift,
        progress=not args.no_progress,
    )
    print(f"report written to {path}")
    return 0


def add_compact(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "compact",
        help="compact a fetch archive into a Parquet dataset for lazy reading",
        description="Write the archive's responses into a Parquet dataset (default ARCHIVE/parquet), a batch of rows "
        "at a time; rerunning adds only the responses not compacted before. Read it with engagement_lab.scan(ARCHIVE) "
        "as a polars LazyFrame, or with backend='duckdb' as a DuckDB relation.",
    )
    p.add_argument("archive", help="the --out folder of a fetch")
    p.add_argument("--out", help="the dataset folder (default ARCHIVE/parquet)")
    p.add_argument(
        "--batch-rows",
        type=positive_int,
        default=1_000_000,
        help="rows held in memory per write (default 1000000)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(run=_compact)


def _compact(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..load import compact

    with tqdm(desc="compacting", unit="response", disable=args.no_progress or None, file=sys.stderr) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        result = compact(args.archive, out=args.out, batch_rows=args.batch_rows, progress=progress)
    print(result)
    return 0
