"""A parameterised report: the template notebook executed with papermill, rendered to one self-contained HTML
file (inline SVG charts, no external scripts or stylesheets), headline verdicts first."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from html import escape
from pathlib import Path
from typing import Any

from .errors import ConfigError, DataError

__all__ = ["TEMPLATE", "ReportError", "render_report", "run_report_notebook"]


class ReportError(DataError):
    """The report notebook failed; the message is the underlying error (its type and text)."""


TEMPLATE = Path(__file__).with_name("report_template.ipynb")
_STYLE = """
body { font-family: Helvetica, Arial, sans-serif; max-width: 980px; margin: 2em auto; color: #222; line-height: 1.45; }
h1 { font-size: 1.7em; margin-bottom: .2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: .9em; margin: .6em 0; }
th, td { padding: .25em .6em; border-bottom: 1px solid #eee; text-align: right; }
th { background: #f6f6f6; } td:first-child, th:first-child { text-align: left; }
.jp-OutputPrompt, .jp-InputPrompt, .prompt { display: none; } img, svg { max-width: 100%; height: auto; }
pre { background: #f6f6f6; padding: .5em; overflow-x: auto; }
footer { margin-top: 3em; color: #777; font-size: .8em; } .anchor-link { display: none; }
"""


@contextmanager
def _clean_ipython_profile() -> Iterator[None]:
    """Run the kernel with a fresh IPython profile: no personal startup files in a report, and a quiet kernel log
    (it otherwise warns on stderr about its loopback TCP transport)."""
    previous = os.environ.get("IPYTHONDIR")
    with tempfile.TemporaryDirectory() as home:
        profile = Path(home) / "profile_default"
        profile.mkdir()
        (profile / "ipython_kernel_config.py").write_text("c.IPKernelApp.log_level = 'ERROR'\n")
        os.environ["IPYTHONDIR"] = home
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop("IPYTHONDIR", None)
            else:
                os.environ["IPYTHONDIR"] = previous


def run_report_notebook(parameters: dict[str, Any], output: Path, *, cwd: Path | None = None) -> Path:
    """Execute the template with ``parameters`` (papermill) into ``output`` (.ipynb)."""
    import papermill

    with _clean_ipython_profile():
        try:
            papermill.execute_notebook(
                str(TEMPLATE),
                str(output),
                parameters=parameters,
                kernel_name="python3",
                progress_bar=False,
                cwd=str(cwd or output.parent),
            )
        except papermill.PapermillExecutionError as exc:  # the cause first, not the last line of a traceback
            raise ReportError(f"the report could not be built: {exc.ename}: {exc.evalue}") from None
    return output


def _to_html(notebook: Path, title: str) -> str:
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(  # type: ignore[no-untyped-call]
        template_name="basic", exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True
    )
    body, _ = exporter.from_notebook_node(nbformat.read(str(notebook), as_version=4))  # type: ignore[no-untyped-call]
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body>{body}"
        "<footer>Made with engagement_lab: tweets as units, delta-method intervals, "
        "multiple-testing correction.</footer>"
        "</body></html>"
    )


def render_report(
    *,
    archive: str | Path,
    metadata: str | Path,
    by: str,
    out: str | Path,
    control: str | None = None,
    metric: str = "engagement_rate",
    where: str | None = None,
    alpha: float = 0.05,
    correction: str = "holm",
    title: str | None = None,
    adjust_for: Sequence[str] = (),
    keep_notebook: bool = False,
) -> Path:
    """Render the report to a self-contained HTML file and return its path.

    Parameters
    ----------
    archive, metadata : path
        A fetch archive and a tweet metadata CSV (with ``tweet_id`` and the ``by`` column).
    by, control, metric, alpha, correction
        What to compare (see :func:`engagement_lab.compare`).
    where : str, optional
        ``"column=value"`` to keep only some tweets (e.g. ``"campaign=spring_launch"``).
    adjust_for : list of str
        Confounders to hold fixed when the groups were not randomised (e.g. ``["account", "hour_of_day"]``;
        ``hour_of_day`` and ``weekday`` are derived from the metadata's ``created_at``). The report says whether
        its lifts are adjusted, and for what.
    """
    archive, metadata, out = Path(archive).resolve(), Path(metadata).resolve(), Path(out).resolve()
    if not archive.is_dir() or not metadata.is_file():
        raise ConfigError(f"need an archive folder and a metadata CSV; got {archive} and {metadata}")
    title = title or f"{metric} by {by}" + (f" ({where})" if where else "")
    parameters = {
        "archive": str(archive),
        "metadata": str(metadata),
        "metric": metric,
        "by": by,
        "control": control or "",
        "where_column": where.partition("=")[0] if where else "",
        "where_value": where.partition("=")[2] if where else "",
        "alpha": alpha,
        "correction": correction,
        "adjust_for": ",".join(adjust_for),
        "title": title,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        executed = run_report_notebook(parameters, Path(tmp) / "report.ipynb")
        out.write_text(_to_html(executed, title), encoding="utf-8")
        if keep_notebook:
            executed.replace(out.with_suffix(".ipynb"))
    return out
