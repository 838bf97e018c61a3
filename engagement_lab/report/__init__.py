"""The report a marketing lead can read: a parameterised notebook (``template.ipynb``, kept as text in
``notebooks/templates/report_template.py``) executed with papermill and rendered to one self-contained HTML file
(``render``), from pieces that are testable without a kernel (``parts``)."""

from __future__ import annotations

from .render import TEMPLATE, ReportError, render_report, run_report_notebook

__all__ = ["TEMPLATE", "ReportError", "render_report", "run_report_notebook"]
