"""Tidy column names and dtypes: the one place they are spelled.

The tidy schema is long, one row per leaf value of a response. A dimension that was not grouped on is
null. Tweet ids are strings, always.
"""

from __future__ import annotations

from typing import Final, Literal

TWEET_ID: Final = "tweet_id"
ENGAGEMENT_TYPE: Final = "engagement_type"
GRAIN: Final = "grain"
DAY: Final = "day"
HOUR: Final = "hour"
TIMESTAMP: Final = "timestamp"
VALUE: Final = "value"
GROUPING: Final = "grouping"

ENDPOINT: Final = "endpoint"
WINDOW_START: Final = "window_start"
WINDOW_END: Final = "window_end"
RETRIEVED_AT: Final = "retrieved_at"
"""When the values were observed: the fetch time, or for an export the end of its period (null if unknown)."""
SOURCE_FILE: Final = "source_file"
"""The file a row was read from (null for an in-memory payload)."""
CREATED_AT: Final = "created_at"
"""A tweet's creation time (UTC), where the source states it (per-tweet exports, v2 ``created_at``)."""

SOURCE: Final = "source"
"""Where a row came from when it is not the Engagement API (``v2.public_metrics``, ``analytics_csv``...)."""

Grain = Literal["total", "week", "day", "hour", "hour_of_day"]
"""``week`` rows come from X API v2 weekly buckets (``day`` is the week's first day, Monday)."""

TIDY: Final = (TWEET_ID, ENGAGEMENT_TYPE, GRAIN, DAY, HOUR, TIMESTAMP, VALUE, GROUPING)
"""The tidy columns, in order."""

PROVENANCE: Final = (ENDPOINT, WINDOW_START, WINDOW_END, RETRIEVED_AT)
"""Columns added by archive loads."""

# Logical dtypes of the tidy columns; each backend maps them to its own types in load.frames.
DTYPES: Final = {
    TWEET_ID: "string",
    ENGAGEMENT_TYPE: "string",
    GRAIN: "string",
    DAY: "date",
    HOUR: "int8",
    TIMESTAMP: "datetime[UTC]",
    VALUE: "int64",
    GROUPING: "string",
    ENDPOINT: "string",
    WINDOW_START: "datetime[UTC]",
    WINDOW_END: "datetime[UTC]",
    RETRIEVED_AT: "datetime[UTC]",
    SOURCE: "string",
    SOURCE_FILE: "string",
    CREATED_AT: "datetime[UTC]",
}

COMPARISON: Final = (
    "metric",
    "by",
    "control",
    "treatment",
    "n_control",
    "n_treatment",
    "control_value",
    "treatment_value",
    "abs_diff",
    "abs_ci_low",
    "abs_ci_high",
    "rel_lift",
    "rel_ci_low",
    "rel_ci_high",
    "p_value_abs",
    "p_value_rel",
    "p_value",
    "p_adjusted",
    "p_scale",
    "method",
    "alpha",
    "deff",
    "warnings",
)
"""Columns of a comparison frame, one row per treatment-vs-control contrast."""
