"""The ``plan`` command: how many tweets the next test needs, and whether the default cries wolf on these tweets."""

from __future__ import annotations

import argparse

from ..errors import ConfigError
from .common import positive_int

__all__ = ["add_plan"]


def _lift(text: str) -> float:
    value = float(text)
    if value == 0 or value <= -1:
        raise argparse.ArgumentTypeError(f"expected a relative lift such as 0.1 (+10%), not 0 and above -1, got {text}")
    return value


def add_plan(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "plan",
        help="tweets per arm the next test needs, from the account's own past tweets",
        description="Resample the account's past tweets (one row per tweet) to find how many tweets per arm a test "
        "needs to tell --lift with --power, judged by compare's default; with --aa-check, also how often random "
        "A/A splits of these tweets are called significant. Fewer than 30 past tweets: the textbook formula, "
        "said so.",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--table", help="a CSV or Parquet file with one row per past tweet (impressions, engagements...)"
    )
    source.add_argument("--archive", help="a fetch archive folder (its tweets' lifetime numbers are the history)")
    p.add_argument("--metadata", help="with --archive: tweet metadata CSV (tweet_id plus columns for --where)")
    p.add_argument("--where", help="keep only tweets where COLUMN=VALUE (e.g. the control variant's tweets)")
    p.add_argument("--metric", default="engagement_rate", help="a rate such as engagement_rate (default) or ctr")
    p.add_argument("--lift", type=_lift, default=0.1, help="the relative lift to tell: 0.1 is +10%% (default)")
    p.add_argument("--power", type=float, default=0.8, help="the chance of telling it (default 0.8)")
    p.add_argument("--alpha", type=float, default=0.05, help="the test's level (default 0.05)")
    p.add_argument("--splits", type=positive_int, default=1000, help="simulated tests per size (default 1000)")
    p.add_argument("--aa-check", action="store_true", help="also run the A/A self-check on the same tweets")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0: the same answer every run)")
    p.set_defaults(run=_run_plan)


def _run_plan(args: argparse.Namespace) -> int:
    from ..report.parts import report_data
    from ..stats import aa_check, plan

    if args.metadata and not args.archive:
        raise ConfigError("--metadata goes with --archive; a table already carries its columns")
    if args.where is not None and "=" not in args.where:
        raise ConfigError(f"--where {args.where!r}: expected COLUMN=VALUE, e.g. variant=A")
    column, _, value = (args.where or "").partition("=")
    data = report_data(
        archive=args.archive or "", metadata=args.metadata or "", table=args.table or "", metric=args.metric,
        where_column=column, where_value=value,
    )  # fmt: skip
    found = plan(
        data.tweets, metric=args.metric, lift=args.lift, power=args.power, alpha=args.alpha, splits=args.splits,
        seed=args.seed,
    )  # fmt: skip
    print(
        f"history: {data.tweets.height:,} tweets from {data.source}" + (f", where {args.where}" if args.where else "")
    )
    print(found)
    if args.aa_check:
        print()
        print(aa_check(data.tweets, metric=args.metric, splits=args.splits, alpha=args.alpha, seed=args.seed))
    return 0
