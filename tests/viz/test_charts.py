"""Charts: structure checked through to_dict() on both backends; saved files render offline."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import polars as pl
import pytest
import vl_convert

from engagement_lab import DataError, compare, save_chart, summarize
from engagement_lab.stats import GroupStats, power_curve
from engagement_lab.viz import (
    age_curves_plot,
    distribution_plot,
    enable_offline,
    funnel_plot,
    heatmap_plot,
    power_curve_plot,
    timeseries_plot,
)

TWEETS = pd.DataFrame(
    {
        "content_type": ["video"] * 5 + ["text"] * 5 + ["image"] * 5,
        "impressions": [900, 1200, 800, 3000, 1500, 1000, 700, 1100, 900, 1300, 1000, 1200, 800, 950, 1050],
        "engagements": [40, 50, 30, 120, 60, 20, 10, 25, 18, 30, 30, 33, 20, 28, 31],
        "url_clicks": [4, 5, 3, 12, 6, 2, 1, 2, 2, 3, 3, 3, 2, 3, 3],
    }
)


def layers(spec: dict) -> list[dict]:
    return spec.get("layer", [spec])


def data_of(spec: dict, layer: dict | None = None) -> list[dict]:
    """The rows a (layer of a) chart draws."""
    name = ((layer or {}).get("data") or spec.get("data"))["name"]
    return spec["datasets"][name]


@pytest.fixture(params=["pandas", "polars"])
def frame(request: pytest.FixtureRequest) -> object:
    return TWEETS if request.param == "pandas" else pl.from_pandas(TWEETS)


def test_forest_plot_from_a_comparison(frame: object) -> None:
    spec = compare(frame, metric="engagement_rate", by="content_type", pairs="all").chart().to_dict()
    marks = [layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"] for layer in layers(spec)]
    assert marks == ["rule", "rule", "point"]  # zero line, intervals, estimates
    rule, point = layers(spec)[1]["encoding"], layers(spec)[2]["encoding"]
    assert (rule["x"]["field"], rule["x2"]["field"], rule["y"]["field"]) == ("rel_ci_low", "rel_ci_high", "contrast")
    assert point["x"]["field"] == "rel_lift"
    assert "Holm" in spec["title"]["subtitle"]
    data = data_of(spec, layers(spec)[2])
    assert len(data) == 3
    assert {"treatment", "control", "p_adjusted"} <= set(data[0])


def test_estimates_plot_from_a_summary(frame: object) -> None:
    spec = summarize(frame, metric="engagement_rate", by="content_type").chart().to_dict()
    assert [layer["mark"]["type"] for layer in layers(spec)] == ["rule", "point"]
    assert layers(spec)[0]["encoding"]["x2"]["field"] == "ci_high"


def test_distribution_plot_with_log_scale(frame: object) -> None:
    spec = distribution_plot(frame, metric="impressions", by="content_type", log=True).to_dict()
    box, points = layers(spec)
    assert box["mark"]["type"] == "boxplot"
    assert points["encoding"]["x"]["scale"]["type"] == "log"
    assert points["encoding"]["y"]["field"] == "content_type"


def test_funnel_and_power_curve(frame: object) -> None:
    spec = funnel_plot(frame, by="content_type").to_dict()
    assert spec["mark"]["type"] == "bar"
    data = data_of(spec)
    assert {row["step"] for row in data} == {"impressions", "engagements", "url_clicks"}
    assert all(row["share"] == 1.0 for row in data if row["step"] == "impressions")
    pilot = GroupStats.from_arrays(TWEETS.engagements.to_numpy(float), TWEETS.impressions.to_numpy(float))
    curve = power_curve(pilot, [0.1, 0.2, 0.4])
    spec = power_curve_plot(curve).to_dict()
    rows = data_of(spec)
    assert [r["lift"] for r in rows] == [0.1, 0.2, 0.4]
    assert rows[0]["n_per_arm"] > rows[1]["n_per_arm"] > rows[2]["n_per_arm"]


@pytest.mark.parametrize("backend", ["pandas", "polars"])
def test_timeseries_age_curves_and_heatmap(backend: str) -> None:
    def as_backend(frame: pl.DataFrame) -> object:
        return frame.to_pandas() if backend == "pandas" else frame

    hours = pd.date_range("2026-05-01", periods=48, freq="h", tz="UTC")
    tidy = as_backend(
        pl.DataFrame({"timestamp": list(hours) * 2, "value": list(range(96)), "variant": ["A"] * 48 + ["B"] * 48})
    )
    spec = timeseries_plot(tidy, by="variant").to_dict()
    assert spec["mark"]["type"] == "line"
    assert spec["encoding"]["color"]["field"] == "variant"
    curves = pl.DataFrame(
        {"age_hours": [0, 1, 2] * 2, "share": [0.5, 0.8, 1.0, 0.4, 0.7, 1.0], "variant": ["A"] * 3 + ["B"] * 3}
    )
    spec = age_curves_plot(curves, by="variant").to_dict()
    band, line = layers(spec)
    assert [band["mark"]["type"], line["mark"]["type"]] == ["area", "line"]
    assert band["encoding"]["color"] == line["encoding"]["color"]  # one scale, merged into one legend
    svg = vl_convert.vegalite_to_svg(age_curves_plot(curves, by="variant").to_json())
    assert "role-legend" in svg  # drawn: a layer with legend=None switched the merged legend off
    assert line["encoding"]["x"]["scale"]["domain"] == [0, 2]  # the axis ends where the data ends
    profile = as_backend(pl.DataFrame({"weekday": ["Mon", "Tue"], "hour": [1, 2], "value": [3, 4]}))
    spec = heatmap_plot(profile).to_dict()
    assert spec["mark"]["type"] == "rect"
    assert spec["encoding"]["y"]["sort"][0] == "Mon"
    named = as_backend(
        pl.DataFrame({"weekday": ["Mon"], "hour": [1], "value": [3], "metric": ["impressions"], "tz": ["Europe/Paris"]})
    )
    spec = heatmap_plot(named).to_dict()
    assert spec["title"] == "impressions by weekday and hour (Europe/Paris)"
    assert spec["encoding"]["color"]["title"] == "impressions"


def test_group_is_the_deprecated_name_of_by() -> None:
    hours = pd.date_range("2026-05-01", periods=4, freq="h", tz="UTC")
    tidy = pl.DataFrame({"timestamp": list(hours) * 2, "value": list(range(8)), "variant": ["A"] * 4 + ["B"] * 4})
    with pytest.warns(DeprecationWarning, match=r"timeseries_plot\(by=\.\.\.\)"):
        old = timeseries_plot(tidy, group="variant")
    assert old.to_dict() == timeseries_plot(tidy, by="variant").to_dict()
    curves = pl.DataFrame({"age_hours": [0, 1] * 2, "share": [0.5, 1.0, 0.4, 1.0], "variant": ["A"] * 2 + ["B"] * 2})
    with pytest.warns(DeprecationWarning, match=r"age_curves_plot\(by=\.\.\.\)"):
        old_curves = age_curves_plot(curves, group="variant")
    assert old_curves.to_dict() == age_curves_plot(curves, by="variant").to_dict()
    with pytest.warns(DeprecationWarning, match="deprecated"), pytest.raises(ValueError, match="old name"):
        age_curves_plot(curves, by="variant", group="variant")


@pytest.mark.parametrize("suffix", [".svg", ".png", ".pdf", ".html"])
def test_save_chart_offline(tmp_path: Path, suffix: str) -> None:
    chart = compare(TWEETS, metric="engagement_rate", by="content_type").chart()
    path = save_chart(chart, tmp_path / f"forest{suffix}")
    content = path.read_bytes()
    assert len(content) > 1000
    if suffix == ".html":
        text = content.decode()
        assert "<script src=" not in text.replace(" ", "")  # nothing loaded from a CDN
        assert "vega" in text
    if suffix == ".svg":
        assert b"<svg" in content[:400]
    if suffix == ".png":
        assert content[:8] == b"\x89PNG\r\n\x1a\n"


def test_save_chart_refuses_unknown_formats(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"\.svg, \.png, \.pdf or \.html"):
        save_chart(compare(TWEETS, metric="engagement_rate", by="content_type").chart(), tmp_path / "x.jpg")


def test_enable_offline() -> None:
    import altair as alt

    from engagement_lab import ConfigError

    try:
        enable_offline("svg")
        assert alt.renderers.active == "svg"
        enable_offline()
        assert alt.renderers.active == "engagement_lab"
        assert alt.renderers.options == {"mode": "interactive"}
        with pytest.raises(ConfigError, match="did you mean 'static'"):
            enable_offline("statc")
    finally:
        enable_offline()


def test_saved_html_draws_in_headless_chromium(tmp_path: Path, headless_chromium: Callable[..., str]) -> None:
    html = save_chart(compare(TWEETS, metric="engagement_rate", by="content_type").chart(), tmp_path / "forest.html")
    dom = headless_chromium(html, "--dump-dom")
    assert "<svg" in dom or "<canvas" in dom  # vega-embed drew the chart with no network
    shot = tmp_path / "shot.png"
    headless_chromium(html, f"--screenshot={shot}", "--window-size=800,400")
    assert shot.stat().st_size > 5000
