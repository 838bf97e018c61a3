# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% tags=["parameters"]
# The report `engagement-lab report` renders: papermill fills these parameters; `make notebooks` writes this
# file into the package as engagement_lab/report/template.ipynb. Everything shown is escaped HTML built by
# engagement_lab.report.parts; charts are static pictures with alt text.
archive = "../data/sample/archive"
metadata = "../data/sample/tweets.csv"
table = ""
metric = "engagement_rate"
by = "variant"
control = "A"
where_column = "campaign"
where_value = "spring_launch"
alpha = 0.05
correction = "holm"
adjust_for = ""
randomised = True
title = "Spring launch: variant B against variant A"
plan_lift = 0.1

# %%
# Loading the tweets and comparing the groups
from IPython.display import HTML, display

from engagement_lab import compare, enable_offline, summarize
from engagement_lab.report import parts as report_parts
from engagement_lab.viz import distribution_plot

report_parts.warnings_as_notes()  # a warning is a styled note in the report, never a raw stderr line
enable_offline("static")  # a report carries no scripts: each chart is a picture with alt text
data = report_parts.report_data(
    archive=archive,
    metadata=metadata,
    table=table,
    metric=metric,
    where_column=where_column,
    where_value=where_value,
)
tweets = data.tweets
counts = report_parts.tweet_counts(data, by=by, metric=metric)
compared, _ = report_parts.compared_tweets(tweets, by=by, metric=metric)
confounders = tuple(c.strip() for c in adjust_for.split(",") if c.strip())
result = compare(
    compared,
    metric=metric,
    by=by,
    control=control or None,
    alpha=alpha,
    correction=correction,
    adjust_for=list(confounders) or None,
)
plans = report_parts.planned(result, compared, metric=metric, lift=plan_lift)
display(
    HTML(
        report_parts.title_html(
            title,
            n_tweets=counts.compared,
            randomised=randomised,
            counts=counts,
            when=report_parts.period(compared, data.as_of),
        )
    )
)
display(HTML(report_parts.lead_html(result, plans, lift=plan_lift, randomised=randomised)))
display(HTML(report_parts.headlines_html(result)))
display(HTML(report_parts.caveat_html(randomised=randomised, by=by, adjusted_for=result.adjusted_for)))
display(HTML(report_parts.bottom_line_html(plans, lift=plan_lift)))

# %%
# The comparison and its chart
display(
    HTML(
        "<h2>The comparison</h2>"
        + report_parts.comparison_table_html(result)
        + report_parts.csv_link_html(result.to_csv(), "comparison.csv", "the comparison")
        + report_parts.design_effect_html(result)
    )
)
result.chart()

# %%
# Each group and its chart
summary = summarize(compared, metric=metric, by=by, alpha=alpha)
display(
    HTML(
        "<h2>Each group</h2>"
        + report_parts.summary_table_html(summary)
        + report_parts.csv_link_html(summary.to_csv(), "groups.csv", "each group's numbers")
    )
)
summary.chart()

# %%
# Every tweet
display(HTML("<h2>Every tweet</h2>"))
distribution_plot(compared, metric=metric, by=by)

# %%
# A Bayesian reading
display(HTML("<h2>A Bayesian reading</h2>" + report_parts.bayesian_html(result)))

# %%
# Words used here
display(HTML("<h2>Words used here</h2>" + report_parts.glossary_html()))

# %%
# Methods
methods = report_parts.methods_html(result, n_tweets=counts.compared, source=data.source, randomised=randomised)
display(HTML("<h2>Methods (for the statistician)</h2>" + methods))
