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
from IPython.display import HTML, display

from engagement_lab import compare, enable_offline, summarize
from engagement_lab.report import parts as report_parts
from engagement_lab.viz import distribution_plot

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
confounders = tuple(c.strip() for c in adjust_for.split(",") if c.strip())
result = compare(
    tweets,
    metric=metric,
    by=by,
    control=control or None,
    alpha=alpha,
    correction=correction,
    adjust_for=list(confounders) or None,
)
display(HTML(report_parts.title_html(title, n_tweets=tweets.height, randomised=randomised)))
display(HTML(report_parts.headlines_html(result)))
display(HTML(report_parts.caveat_html(randomised=randomised, by=by, adjusted_for=result.adjusted_for)))
display(HTML(report_parts.bottom_line_html(result, tweets, metric=metric, lift=plan_lift)))

# %%
display(HTML("<h2>The comparison</h2>" + report_parts.comparison_table_html(result)))
result.chart()

# %%
summary = summarize(tweets, metric=metric, by=by, alpha=alpha)
display(HTML("<h2>Each group</h2>" + report_parts.summary_table_html(summary)))
summary.chart()

# %%
display(HTML("<h2>Every tweet</h2>"))
distribution_plot(tweets, metric=metric, by=by)

# %%
display(HTML("<h2>A Bayesian reading</h2>" + report_parts.bayesian_html(result)))

# %%
display(HTML("<h2>Words used here</h2>" + report_parts.glossary_html()))

# %%
methods = report_parts.methods_html(result, n_tweets=tweets.height, source=data.source, randomised=randomised)
display(HTML("<h2>Methods (for the statistician)</h2>" + methods))
