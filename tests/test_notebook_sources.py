"""The curated notebooks' sources are the percent-format .py files: each .ipynb (what nbval runs) and the packaged
report template must say exactly what its .py says."""

from __future__ import annotations

import ast
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
    assert len(SOURCES) == 9
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


# Notebooks teach: what they call is what a reader will copy, so it must be public API. Test doubles the package
# keeps for its own tests (the in-process transport) are not the way a reader fetches either.
NOT_FOR_NOTEBOOKS = {"SandboxTransport"}


def internals(code: str) -> list[str]:
    """What a notebook's code reaches that is not public: a private module or name (a dotted segment starting with
    ``_``, dunders aside), an attribute chain through ``.app.`` (the sandbox's app and world), or a test double."""

    def private(name: str) -> bool:
        return any(
            part.startswith("_") and not (part.startswith("__") and part.endswith("__")) for part in name.split(".")
        )

    found = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if private(a.name)]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if private(module):
                found.append(f"from {module} import ...")
            found += [
                f"from {module} import {a.name}" for a in node.names if private(a.name) or a.name in NOT_FOR_NOTEBOOKS
            ]
        elif isinstance(node, ast.Attribute):
            if private(node.attr):
                found.append(f"line {node.lineno}: .{node.attr}")
            if isinstance(node.value, ast.Attribute) and node.value.attr == "app":
                found.append(f"line {node.lineno}: .app.{node.attr}")
        elif isinstance(node, ast.Name) and node.id in NOT_FOR_NOTEBOOKS:
            found.append(f"line {node.lineno}: {node.id}")
    return found


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("from engagement_lab.load._inputs import paths", ["from engagement_lab.load._inputs import ..."]),
        ("import engagement_lab._private as p", ["import engagement_lab._private"]),
        ("from engagement_lab.stats import _delta", ["from engagement_lab.stats import _delta"]),
        ("now = sandbox.app.world.now", ["line 1: .app.world"]),
        (
            "from engagement_lab.sandbox import SandboxTransport",
            ["from engagement_lab.sandbox import SandboxTransport"],
        ),
        ("x = result._rows", ["line 1: ._rows"]),
        ("import engagement_lab as el\nnow = sandbox.now\nv = el.__version__", []),
    ],
)
def test_the_internals_check_finds_what_it_should(code: str, expected: list[str]) -> None:
    assert internals(code) == expected


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebooks_use_only_public_api(source: Path) -> None:
    code = "\n".join(c.source for c in jupytext.read(source).cells if c.cell_type == "code")
    assert internals(code) == [], (
        f"{source.name} reaches into internals; use the public API (see engagement_lab.__all__)"
    )


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_every_notebook_ends_with_an_answer(source: Path) -> None:
    last = jupytext.read(source).cells[-1]
    assert last.cell_type == "markdown", f"{source.name} must end with a markdown answer cell"
    assert "## Answer" in last.source, f"{source.name}: the last cell should be headed '## Answer'"
    assert "*Caveat*" in last.source, f"{source.name}: the answer should say its caveat ('*Caveat*: ...')"
