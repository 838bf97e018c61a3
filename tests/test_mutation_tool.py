"""tools/mutation.py scores a module only if its mutants differ from the module at their one site and nowhere else.

Until 2026-12-08 the walker stripped decorators from the source it served, so a module with a ``@dataclass`` or a
``@property`` failed its tests whatever the mutant, and every mutant of it counted as killed."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutation_tool", ROOT / "tools" / "mutation.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["mutation_tool"] = module
    spec.loader.exec_module(module)
    return module


TOOL = _tool()


@pytest.mark.parametrize("module", sorted(TOOL.TARGETS))
def test_the_rewrite_without_a_mutation_is_the_module_itself(module: str) -> None:
    source = (ROOT / module).read_text()
    assert ast.dump(ast.parse(TOOL.mutated_source(module, -1))) == ast.dump(ast.parse(source))


@pytest.mark.parametrize("module", sorted(TOOL.TARGETS))
def test_each_mutant_changes_its_own_line_only(module: str) -> None:
    """Every fifth mutant (all of them take a few seconds per module): the unparsed mutant differs from the
    unparsed module on exactly one line (decorators, annotations and docstrings all kept)."""
    plain = TOOL.mutated_source(module, -1).splitlines()
    found = TOOL.mutants(module)
    assert found
    for mutant in found[::5]:
        changed = TOOL.mutated_source(module, mutant.index).splitlines()
        assert len(changed) == len(plain), mutant.key
        differing = [i for i, (a, b) in enumerate(zip(plain, changed, strict=True)) if a != b]
        assert len(differing) == 1, mutant.key


def test_a_dataclass_module_keeps_its_decorators_in_every_mutant() -> None:
    module = "engagement_lab/stats/sufficient.py"
    first = TOOL.mutants(module)[0]
    tree = ast.parse(TOOL.mutated_source(module, first.index))
    group_stats = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "GroupStats")
    assert [ast.unparse(d) for d in group_stats.decorator_list] == ["dataclass(frozen=True)"]
    properties = [f for f in group_stats.body if isinstance(f, ast.FunctionDef) and f.decorator_list]
    assert len(properties) >= 10
