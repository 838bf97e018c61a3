"""The curated notebooks' sources are the percent-format .py files: each .ipynb (what nbval runs) and the packaged
report template must say exactly what its .py says."""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SOURCES = sorted(NOTEBOOKS.glob("0*.py"))


def cells(notebook: nbformat.NotebookNode) -> list[tuple[str, str, list[str]]]:
    return [(c.cell_type, c.source.strip(), list(c.metadata.get("tags", []))) for c in notebook.cells]


def test_every_notebook_has_a_source() -> None:
    assert len(SOURCES) == 7
    assert {p.stem for p in SOURCES} == {p.stem for p in NOTEBOOKS.glob("0*.ipynb")}


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_the_executed_notebook_matches_its_source(source: Path) -> None:
    executed = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    assert cells(executed) == cells(jupytext.read(source)), f"run `make notebooks` after editing {source.name}"
    code = [c for c in executed.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), f"{source.with_suffix('.ipynb').name} is not fully executed"


def test_the_packaged_report_template_matches_its_source() -> None:
    packaged = nbformat.read(ROOT / "engagement_lab" / "report" / "template.ipynb", as_version=4)
    source = jupytext.read(NOTEBOOKS / "templates" / "report_template.py")
    assert cells(packaged) == cells(source), "run `make notebooks` after editing templates/report_template.py"
    assert cells(packaged)[0][2] == ["parameters"]  # papermill injects its parameters after this cell
