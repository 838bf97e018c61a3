"""A parameterised report: the template notebook executed with papermill, rendered to one self-contained HTML
file (inline SVG charts, no external scripts or stylesheets), headline verdicts first."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from html import escape
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError, StatsInputError, did_you_mean
from .startup import SKIP_SLOW_IMPORTS

__all__ = ["TEMPLATE", "ReportError", "render_report", "run_report_notebook"]


class ReportError(DataError):
    """The report notebook failed; the message is the underlying error (its type and text)."""


TEMPLATE = Path(__file__).with_name("template.ipynb")
_STYLE = """
body { font-family: Helvetica, Arial, sans-serif; max-width: 980px; margin: 2em auto; color: #222; line-height: 1.45; }
h1 { font-size: 1.7em; margin-bottom: .2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: .9em; margin: .6em 0; }
th, td { padding: .25em .6em; border-bottom: 1px solid #eee; text-align: right; }
th { background: #f6f6f6; } td:first-child, th:first-child { text-align: left; }
.jp-OutputPrompt, .jp-InputPrompt, .prompt { display: none; } img, svg { max-width: 100%; height: auto; }
pre { background: #f6f6f6; padding: .5em; overflow-x: auto; }
footer { margin-top: 3em; color: #777; font-size: .8em; } .anchor-link { display: none; }
.headlines li { font-size: 1.1em; margin: .4em 0; } .subtitle { color: #555; margin-top: 0; }
.caveat { background: #fff6e0; border-left: 4px solid #E69F00; padding: .5em .8em; }
dt { font-weight: bold; margin-top: .5em; } dd { margin-left: 1.2em; }
.lead { font-size: 1.2em; font-weight: bold; background: #eef6fb; border-left: 4px solid #0072B2;
  padding: .5em .8em; } .period { color: #555; margin-top: -.6em; }
.note { background: #f4f4f4; border-left: 4px solid #999; padding: .4em .8em; font-size: .9em; }
.explain { color: #333; font-size: .95em; } .download { font-size: .85em; margin-top: -.3em; }
"""


@contextmanager
def _clean_ipython_profile() -> Iterator[Path]:
    """Run the kernel with a fresh IPython profile: no personal startup files in a report, a quiet kernel log (it
    otherwise warns on stderr about its loopback TCP transport), and the start-up of every process we own
    (:mod:`engagement_lab.report.startup`: a report took 13 s instead of 21 s). Yields the profile's temporary
    folder."""
    previous = os.environ.get("IPYTHONDIR")
    with tempfile.TemporaryDirectory() as home:
        profile = Path(home) / "profile_default"
        profile.mkdir()
        (profile / "ipython_kernel_config.py").write_text("c.IPKernelApp.log_level = 'ERROR'\n")
        (profile / "startup").mkdir()
        (profile / "startup" / "00-engagement-lab.py").write_text(SKIP_SLOW_IMPORTS + "\n")
        os.environ["IPYTHONDIR"] = home
        try:
            yield Path(home)
        finally:
            if previous is None:
                os.environ.pop("IPYTHONDIR", None)
            else:
                os.environ["IPYTHONDIR"] = previous


def _kernel_manager(log: Path) -> type:
    """A kernel manager whose kernel writes its own stderr to ``log``, not to the caller's: a library's noise as the
    kernel shuts down (ZeroMQ's assertion messages, seen under load) is not the report's to print. What fails in a
    cell reaches the caller through papermill; what a dying kernel said is added to the error (see below)."""
    from jupyter_client.manager import AsyncKernelManager

    class QuietKernelManager(AsyncKernelManager):
        stderr_log = log

        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            with open(log, "ab") as stderr:  # the child keeps its own copy of the descriptor
                await super()._async_launch_kernel(kernel_cmd, **{**kw, "stderr": stderr})

    return QuietKernelManager


_ENGINE = "engagement-lab"


def _register_engine() -> str:
    """A papermill engine that calls ``say`` (an engine argument) as each code cell starts, naming the section by
    the cell's first comment line: papermill's own progress bar counts cells without saying what they do."""
    from papermill.engines import NBClientEngine, papermill_engines

    class ProgressEngine(NBClientEngine):  # type: ignore[misc]
        @classmethod
        def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, **kwargs: Any) -> Any:
            say: Callable[[str], None] | None = kwargs.pop("say", None)
            if say is not None:
                quiet = {"parameters", "injected-parameters"}
                sections = [
                    c for c in nb_man.nb.cells if c.cell_type == "code" and not quiet & set(c.metadata.get("tags", []))
                ]
                start = nb_man.cell_start

                def cell_start(cell: Any, cell_index: int | None = None, **kw: Any) -> Any:
                    if any(cell is c for c in sections):
                        first = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
                        what = first.lstrip("# ").strip() if first.startswith("#") else "running"
                        number = next(i for i, c in enumerate(sections) if c is cell) + 1
                        say(f"report: {number}/{len(sections)} {what}")
                    return start(cell, cell_index, **kw)

                nb_man.cell_start = cell_start
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)

    papermill_engines.register(_ENGINE, ProgressEngine)
    return _ENGINE


def run_report_notebook(
    parameters: dict[str, Any], output: Path, *, cwd: Path | None = None, say: Callable[[str], None] | None = None
) -> Path:
    """Execute the template with ``parameters`` (papermill) into ``output`` (.ipynb); ``say`` gets one line as each
    section starts."""
    import papermill

    with _clean_ipython_profile() as home:
        log = home / "kernel-stderr.log"
        try:
            papermill.execute_notebook(
                str(TEMPLATE),
                str(output),
                parameters=parameters,
                kernel_name="python3",
                progress_bar=False,
                cwd=str(cwd or output.parent),
                kernel_manager_class=_kernel_manager(log),
                engine_name=_register_engine(),
                say=say,
            )
        except papermill.PapermillExecutionError as exc:  # the cause first, not the last line of a traceback
            raise ReportError(f"the report could not be built: {exc.ename}: {exc.evalue}") from None
        except Exception as exc:  # the kernel died or never started: what it said, if anything
            said = log.read_text(errors="replace").strip()[-2000:] if log.is_file() else ""
            if said:
                exc.add_note(f"the report's kernel wrote on stderr:\n{said}")
            raise
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
    by: str,
    out: str | Path,
    archive: str | Path | None = None,
    metadata: str | Path | None = None,
    table: str | Path | Any = None,
    control: str | None = None,
    metric: str = "engagement_rate",
    where: str | None = None,
    alpha: float = 0.05,
    correction: str = "holm",
    title: str | None = None,
    adjust_for: Sequence[str] = (),
    randomised: bool = True,
    plan_lift: float = 0.1,
    keep_notebook: bool = False,
    progress: bool = True,
) -> Path:
    """Render the report to a self-contained HTML file and return its path.

    Parameters
    ----------
    archive, metadata : path
        A fetch archive and a tweet metadata CSV (with ``tweet_id`` and the ``by`` column).
    table : path or DataFrame
        Instead of an archive: per-tweet rows (one per tweet, counts such as ``impressions`` and ``engagements``
        and the ``by`` column) as a CSV or Parquet file, or a pandas/polars DataFrame.
    by, control, metric, alpha, correction
        What to compare (see :func:`engagement_lab.compare`).
    where : str, optional
        ``"column=value"`` to keep only some tweets (e.g. ``"campaign=spring_launch"``).
    adjust_for : list of str
        Confounders to hold fixed when the groups were not randomised (e.g. ``["account", "hour_of_day"]``;
        ``hour_of_day`` and ``weekday`` are derived from ``created_at``). The report says what its lifts hold fixed.
    randomised : bool
        Whether the groups were assigned at random (an A/B test). ``False`` adds the association-not-cause caveat.
    plan_lift : float
        The relative lift the bottom line plans for (default 0.1, +10%): for a contrast not yet clear, about how
        many more tweets per arm would tell it, from resampling the control's tweets (:func:`engagement_lab.plan`).
    progress : bool
        Print a line on stderr as each section of the report starts (rendering takes 10-20 s).
    """
    from ..errors import check_choice

    check_choice("correction", correction, ("holm", "bonferroni", "fdr_bh", "fdr_by", "none"), ConfigError)
    if not isinstance(randomised, bool):
        raise ConfigError(f"randomised must be True or False, got {randomised!r}")
    if isinstance(plan_lift, bool) or not isinstance(plan_lift, (int, float)) or plan_lift == 0 or plan_lift <= -1:
        raise ConfigError(
            f"plan_lift must be a relative lift such as 0.1 (+10%), not 0 and above -1, got {plan_lift!r}"
        )
    if where is not None and "=" not in where:
        raise ConfigError(f"where={where!r}: expected COLUMN=VALUE, e.g. campaign=spring_launch")
    _check_lengths(by=by, control=control, where=where, title=title)
    out = Path(out).resolve()
    if (table is None) == (archive is None):
        raise ConfigError("give either a table of per-tweet rows, or an archive with its metadata CSV (not both)")
    from ..metrics import plain_name

    title = title or f"{plain_name(metric)[0]} by {by.replace('_', ' ')}" + (f" ({where})" if where else "")
    out.parent.mkdir(parents=True, exist_ok=True)
    say = _say if progress else None
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        sources = _sources(archive, metadata, table, Path(tmp), by)
        parameters = {
            **sources,
            "metric": metric,
            "by": by,
            "control": control or "",
            "where_column": where.partition("=")[0] if where else "",
            "where_value": where.partition("=")[2] if where else "",
            "alpha": alpha,
            "correction": correction,
            "adjust_for": ",".join(adjust_for),
            "randomised": randomised,
            "title": title,
            "plan_lift": float(plan_lift),
        }
        if say is not None:
            say("report: starting the notebook's kernel")
        executed = run_report_notebook(parameters, Path(tmp) / "report.ipynb", say=say)
        if say is not None:
            say(f"report: writing {out.name}")
        out.write_text(_to_html(executed, title), encoding="utf-8")
        if keep_notebook:
            executed.replace(out.with_suffix(".ipynb"))
    if say is not None:
        say(f"report: done in {time.perf_counter() - started:.0f} s")
    return out


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _check_lengths(**given: str | None) -> None:
    from .parts import MAX_LABEL_LENGTH

    for name, value in given.items():
        if isinstance(value, str) and len(value) > MAX_LABEL_LENGTH:
            raise ConfigError(
                f"{name} is {len(value):,} characters long ({value[:40]!r}...); the report takes at most "
                f"{MAX_LABEL_LENGTH}: give a shorter {name}"
            )


def _sources(archive: Any, metadata: Any, table: Any, tmp: Path, by: str) -> dict[str, str]:
    """The notebook's data parameters: paths and group labels checked here (not minutes later inside the kernel),
    a DataFrame written to Parquet for the kernel."""
    from .parts import check_labels

    if table is None:
        archive, metadata = Path(archive).resolve(), Path(metadata or "").resolve()
        if not archive.is_dir():
            raise ConfigError(f"archive {archive}: not a folder (a fetch archive written by engagement-lab fetch)")
        if not metadata.is_file():
            raise ConfigError(f"metadata {metadata}: no such file (a CSV with tweet_id and the groups column)")
        _check_metadata_labels(metadata, by)
        return {"archive": str(archive), "metadata": str(metadata), "table": ""}
    if metadata is not None:
        raise ConfigError("metadata goes with an archive; a table already carries its group column")
    if isinstance(table, (str, Path)):
        from .parts import read_table

        # refuse a wrong file here, with its name, not inside the kernel
        frame = read_table(table)
        _check_by(by, frame.columns, f"table {Path(table).name}")
        check_labels(frame, by, where=f"table {Path(table).name}")
        return {"archive": "", "metadata": "", "table": str(Path(table).resolve())}
    from ..load.frames import to_polars

    path = tmp / "table.parquet"
    frame = to_polars(table, "table (a CSV/Parquet path or a DataFrame)")
    _check_by(by, frame.columns, "the table")
    check_labels(frame, by, where="the table")
    frame.write_parquet(path)
    return {"archive": "", "metadata": "", "table": str(path)}


def _check_metadata_labels(metadata: Path, by: str) -> None:
    """The metadata CSV's group labels, checked before the kernel starts (a CSV that does not read, or lacks
    ``by``, is explained where the report reads it)."""
    import polars as pl

    from .parts import check_labels

    try:
        header = pl.read_csv(metadata, n_rows=0, infer_schema=False).columns
        frame = pl.read_csv(metadata, columns=[by], infer_schema=False) if by in header else None
    except (pl.exceptions.PolarsError, OSError, ValueError):
        return
    # an archive's per_tweet rows may carry created_at themselves (X API v2), so the report can derive the hours
    _check_by(by, list(dict.fromkeys([*header, "created_at"])), f"metadata {metadata.name}")
    if frame is not None:
        check_labels(frame, by, where=f"metadata {metadata.name}")


def _check_by(by: str, columns: list[str], where: str) -> None:
    """Refuse a ``by`` the rows cannot have now, not after the kernel's start: a column of the table (or the
    metadata, where an archive's groups come from), or ``hour_of_day``/``weekday``, which the report derives from
    ``created_at``."""
    derived = ["hour_of_day", "weekday"] if "created_at" in columns else []
    if by not in columns and by not in derived:
        known = [*columns, *derived]
        raise StatsInputError(f"by={by!r} is not a column of {where}{did_you_mean(by, known)}; columns: {known[:15]}")
