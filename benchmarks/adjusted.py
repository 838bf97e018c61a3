"""Adjusted comparisons at the scale of a brand: compare(adjust_for=["account", "hour_of_day", "weekday"]).

The same synthetic tweets (4 content types whose mix depends on the account, over-dispersed engagements) go to:
  - engagement_lab: compare(..., adjust_for=[account, hour_of_day, weekday]), end to end (the unadjusted rows,
    the absorbed Poisson fit with HC3 errors, the Mantel-Haenszel cross-check);
  - pyfixest fepois (the baseline): account + hour_of_day + weekday absorbed, log-impressions offset, vcov="hetero",
    warm (one untimed run first, so its compilation is not counted);
  - statsmodels GLM with dense dummies, only where the model matrix is small (tweets x terms <= 1M cells).
Each side's time is the best of several runs taken in turns in this one process (the 1M case: one run each). The
toolkit's peak RSS is measured in a child process that runs only it. The largest |difference| of the content
types' log rate ratios from pyfixest's is printed beside the times.

Targets: 1M tweets x 2,000 accounts <= 3x pyfixest's warm time with peak RSS < 3 GB; 100k x 200 <= 3x pyfixest.

Run: .venv/bin/python benchmarks/adjusted.py [--quick]   (pyfixest comes with the dev extra)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import warnings
from functools import partial

import numpy as np
import pandas as pd
from timing import best, taking_turns

from engagement_lab import compare

COVARIATES = ["account", "hour_of_day", "weekday"]
TYPES = np.array(["text", "image", "video", "poll"])
EFFECT = np.array([1.0, 1.2, 1.5, 0.9])
SIZES = [(10_000, 20), (10_000, 2_000), (100_000, 200), (1_000_000, 2_000)]
DENSE_CELLS = 1_000_000


def tweets(n: int, accounts: int, seed: int = 0) -> pd.DataFrame:
    """Tweets of ``accounts`` accounts posting at random hours and weekdays; each account has its own rate and its
    own content mix (confounding), engagements are gamma-Poisson around rate x impressions."""
    rng = np.random.default_rng(seed)
    account = rng.integers(0, accounts, n)
    base = rng.lognormal(np.log(0.02), 0.6, accounts)
    lean = rng.dirichlet(np.ones(len(TYPES)), accounts)  # each account's content mix
    kind = (rng.random(n)[:, None] > np.cumsum(lean[account], axis=1)).sum(axis=1)
    hour = rng.integers(0, 24, n)
    weekday = rng.integers(0, 7, n)
    impressions = np.round(rng.lognormal(6.5, 1.0, n)) + 1
    rate = base[account] * EFFECT[kind] * (1 + 0.3 * np.sin(hour / 24 * 2 * np.pi)) * (1 + 0.1 * (weekday >= 5))
    engagements = rng.poisson(rate * impressions * rng.gamma(5.0, 1 / 5.0, n)).astype(float)
    return pd.DataFrame(
        {
            "account": np.char.add("acct", account.astype(str)),
            "content_type": TYPES[kind],
            "hour_of_day": hour,
            "weekday": weekday,
            "impressions": impressions,
            "engagements": engagements,
            "log_impressions": np.log(impressions),
        }
    )


def toolkit(df: pd.DataFrame) -> dict[str, float]:
    result = compare(df, metric="engagement_rate", by="content_type", control="text", adjust_for=COVARIATES)
    return {r.treatment: float(np.log1p(r.rel_lift)) for r in result.rows}


def pyfixest(df: pd.DataFrame) -> dict[str, float]:
    import pyfixest as pf

    fit = pf.fepois(
        "engagements ~ i(content_type, ref='text') | account + hour_of_day + weekday",
        data=df,
        offset="log_impressions",
        vcov="hetero",
        fixef_rm="none",
    )
    coef = fit.coef()
    return {t: float(coef[next(k for k in coef.index if f"[{t}]" in k or f"::{t}" in k)]) for t in TYPES[1:]}


def statsmodels_dense(df: pd.DataFrame) -> dict[str, float]:
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    formula = "engagements ~ C(content_type, Treatment('text')) + C(account) + C(hour_of_day) + C(weekday)"
    fit = smf.glm(formula, df, family=sm.families.Poisson(), offset=df.log_impressions).fit(cov_type="HC1")
    return {t: float(fit.params[f"C(content_type, Treatment('text'))[T.{t}]"]) for t in TYPES[1:]}


def _status(field: str) -> float:
    """A VmRSS/VmHWM line of /proc/self/status, in GB."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(field + ":"))
    return int(line.split()[1]) / 2**20


def child(n: int, accounts: int) -> None:
    """Build the data, reset the peak-RSS mark (clear_refs 5), run the toolkit, print the resident size of the data
    alone and the peak during compare (both include the data and the interpreter)."""
    df = tweets(n, accounts)
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    data = _status("VmRSS")
    toolkit(df)
    print(f"{data:.3f} {_status('VmHWM'):.3f}")


def peak_rss(n: int, accounts: int) -> tuple[float, float]:
    """(resident GB with the data built, peak GB during compare) in a fresh child process that runs only the
    toolkit (a fork of this one would count pyfixest's and the parent's pages)."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(n), str(accounts)], check=True, capture_output=True, text=True
    )
    data, peak = done.stdout.split()
    return float(data), float(peak)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="leave out the 1M-tweet case")
    parser.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    warnings.simplefilter("ignore")
    print("| tweets x accounts | engagement_lab | pyfixest fepois (warm) | ratio | statsmodels dense GLM | "
          "max |diff| vs pyfixest | toolkit peak RSS |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for n, accounts in SIZES[:3] if args.quick else SIZES:
        df = tweets(n, accounts)
        pyfixest(df)  # warm: compile and import before timing
        rounds = 1 if n >= 1_000_000 else 3
        ours_t, theirs_t = taking_turns([partial(toolkit, df), partial(pyfixest, df)], rounds=rounds)
        ours, theirs = toolkit(df), pyfixest(df)
        diff = max(abs(ours[t] - theirs[t]) for t in theirs)
        dense = "-"
        if n * (accounts + 34) <= DENSE_CELLS:
            dense_t = best(partial(statsmodels_dense, df), repeat=1)
            dense = f"{dense_t:.2f} s"
        data_rss, rss = peak_rss(n, accounts)
        print(f"| {n:,} x {accounts:,} | {ours_t:.2f} s | {theirs_t:.2f} s | {ours_t / theirs_t:.2f}x | {dense} | "
              f"{diff:.1e} | {rss:.2f} GB ({data_rss:.2f} GB with the data alone) |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
