"""Mutation testing of the modules where a wrong number hurts most: does a test fail when the code is wrong?

Each mutant changes one thing in one module (an operator, a comparison, ``and``/``or``, a number, ``any``/``all``,
``min``/``max``, a ``not`` dropped) and runs the module's own test subset against it; a mutant no test fails on is
a *survivor*: a wrong number the suite would pass. Mutants proven to change nothing (an equivalent mutant) are
listed with the reason in ``tools/mutation_equivalent.txt`` and left out of the score.

Why our own driver rather than mutmut: mutmut 3 copies the tree and re-imports pandas, polars and scipy for every
mutant (seconds each). Here the heavy libraries are imported once and each mutant runs in a forked child that
imports only this package, with the mutated module served from memory by an import hook, so a mutant costs its
tests' time, not the interpreter's start-up. The working tree is never written.

Run: ``make mutation`` (all five modules) or ``.venv/bin/python tools/mutation.py engagement_lab/stats/effects.py``;
``--list`` prints the mutants without running them, ``--jobs 2`` runs two at once.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib.abc
import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENT = ROOT / "tools" / "mutation_equivalent.txt"

TARGETS: dict[str, list[str]] = {
    "engagement_lab/stats/effects.py": [
        "tests/stats/test_pinned_numbers.py",
        "tests/stats/test_reference.py",
        "tests/stats/test_edges.py",
        "tests/stats/test_compare.py",
        "tests/stats/test_calibrated.py",
    ],
    "engagement_lab/stats/sufficient.py": [
        "tests/stats/test_sufficient.py",
        "tests/stats/test_pinned_numbers.py",
        "tests/stats/test_reference.py",
        "tests/stats/test_edges.py",
        "tests/stats/test_compare.py",
        "tests/stats/test_calibrated.py",
    ],
    "engagement_lab/stats/adjusted.py": [
        "tests/stats/test_few_clusters.py",
        "tests/stats/test_adjusted_scale.py",
        "tests/stats/test_adjusted.py",
    ],
    "engagement_lab/stats/fixed_effects.py": ["tests/stats/test_adjusted_scale.py", "tests/stats/test_adjusted.py"],
    "engagement_lab/load/observations.py": [
        "tests/load/test_observation_keys.py",
        "tests/load/test_recency.py",
        "tests/load/test_many_sources.py",
        "tests/load/test_sources.py",
        "tests/load/test_archive.py",
        "tests/load/test_load_everything.py",
    ],
    "engagement_lab/load/tweets.py": [
        "tests/load/test_per_tweet_metrics.py",
        "tests/load/test_tweets.py",
        "tests/load/test_populations.py",
        "tests/load/test_metadata_join.py",
        "tests/load/test_per_tweet_engines.py",
        "tests/load/test_many_sources.py",
    ],
    "engagement_lab/load/tweets_engine.py": [
        "tests/load/test_per_tweet_engines.py",
        "tests/load/test_many_sources.py",
        "tests/load/test_metadata_join.py",
        "tests/load/test_populations.py",
        "tests/load/test_per_tweet_metrics.py",
    ],
}
"""Each module and the tests that exercise it, the quickest and most pointed first (a mutant stops at its first
failing test)."""

_SWAPS: dict[type, type] = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.Pow: ast.Mult,
    ast.FloorDiv: ast.Div, ast.Mod: ast.FloorDiv,
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In,
    ast.And: ast.Or, ast.Or: ast.And, ast.BitAnd: ast.BitOr, ast.BitOr: ast.BitAnd,
}  # fmt: skip
_NAMES = {"any": "all", "all": "any", "min": "max", "max": "min"}


@dataclass(frozen=True)
class Mutant:
    module: str
    index: int
    line: int
    column: int
    what: str

    @property
    def key(self) -> str:
        """How the equivalent-mutants file names it: file, line, column and the change (stable while the line is)."""
        return f"{self.module}:{self.line}:{self.column}: {self.what}"


def _skipped_lines(source: str) -> set[int]:
    return {i for i, line in enumerate(source.splitlines(), start=1) if "pragma: no mutate" in line}


class _Sites(ast.NodeTransformer):
    """Walks a module's tree numbering every mutation site; with ``apply``, makes the change at that one site."""

    def __init__(self, apply: int | None, skip: set[int]) -> None:
        self.apply, self.skip, self.count = apply, skip, 0
        self.found: list[tuple[int, int, str]] = []

    def _site(self, node: ast.AST, what: str) -> bool:
        """Record a site; True when this is the one to change."""
        line = getattr(node, "lineno", 0)
        if line in self.skip:
            return False
        index = self.count
        self.count += 1
        self.found.append((line, getattr(node, "col_offset", 0) + 1, what))
        return index == self.apply

    # Nothing in decorators, annotations or f-strings (messages) is mutated: not numbers a test could see. They are
    # kept in the tree, only not visited: a class stripped of @dataclass or a method of @property breaks the module
    # whatever the mutant, and every mutant of it was "killed" (the scores of every module with a dataclass were
    # 100% until 2026-12-08). Docstrings need no care: they are strings, which no site changes.
    def visit_FunctionDef(self, node: ast.FunctionDef) -> Any:
        arguments = [*node.args.args, *node.args.kwonlyargs, *node.args.posonlyargs, node.args.vararg, node.args.kwarg]
        kept = [(arg, arg.annotation) for arg in arguments if arg is not None]
        decorators, returns = node.decorator_list, node.returns
        node.decorator_list, node.returns = [], None
        for arg, _ in kept:
            arg.annotation = None
        self.generic_visit(node)
        node.decorator_list, node.returns = decorators, returns
        for arg, annotation in kept:
            arg.annotation = annotation
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> Any:
        decorators, node.decorator_list = node.decorator_list, []  # frozen=True and the like: not numbers
        self.generic_visit(node)
        node.decorator_list = decorators
        return node

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_AnnAssign(self, node: ast.AnnAssign) -> Any:
        if node.value is None:
            return node
        node.value = self.visit(node.value)
        return node

    def visit_JoinedStr(self, node: ast.JoinedStr) -> Any:
        return node

    def visit_Assign(self, node: ast.Assign) -> Any:
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return node
        return self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        self.generic_visit(node)
        swap = _SWAPS.get(type(node.op))
        if swap and self._site(node, f"{type(node.op).__name__} -> {swap.__name__}"):
            node.op = swap()
        return node

    def visit_AugAssign(self, node: ast.AugAssign) -> Any:
        self.generic_visit(node)
        swap = _SWAPS.get(type(node.op))
        if swap and self._site(node, f"{type(node.op).__name__}= -> {swap.__name__}="):
            node.op = swap()
        return node

    def visit_Compare(self, node: ast.Compare) -> Any:
        self.generic_visit(node)
        for i, op in enumerate(node.ops):
            swap = _SWAPS.get(type(op))
            if swap and self._site(node, f"{type(op).__name__} -> {swap.__name__} (comparison {i + 1})"):
                node.ops[i] = swap()
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> Any:
        self.generic_visit(node)
        swap = _SWAPS[type(node.op)]
        if self._site(node, f"{type(node.op).__name__} -> {swap.__name__}"):
            node.op = swap()
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Any:
        self.generic_visit(node)
        if isinstance(node.op, (ast.Not, ast.USub, ast.Invert)) and self._site(
            node, f"{type(node.op).__name__} dropped"
        ):
            return node.operand
        return node

    def visit_Constant(self, node: ast.Constant) -> Any:
        value = node.value
        if isinstance(value, bool):
            if self._site(node, f"{value} -> {not value}"):
                return ast.copy_location(ast.Constant(not value), node)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            changed = value + 1
            if self._site(node, f"{value!r} -> {changed!r}"):
                return ast.copy_location(ast.Constant(changed), node)
        return node

    def visit_Name(self, node: ast.Name) -> Any:
        other = _NAMES.get(node.id)
        if other and isinstance(node.ctx, ast.Load) and self._site(node, f"{node.id} -> {other}"):
            return ast.copy_location(ast.Name(other, ast.Load()), node)
        return node


def mutants(module: str) -> list[Mutant]:
    source = (ROOT / module).read_text()
    sites = _Sites(None, _skipped_lines(source))
    sites.visit(ast.parse(source))
    return [Mutant(module, i, line, column, what) for i, (line, column, what) in enumerate(sites.found)]


def mutated_source(module: str, index: int) -> str:
    source = (ROOT / module).read_text()
    tree = _Sites(index, _skipped_lines(source)).visit(ast.parse(source))
    return ast.unparse(ast.fix_missing_locations(tree))


class _Serve(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves one module's mutated source from memory."""

    def __init__(self, name: str, path: Path, source: str) -> None:
        self.name, self.path, self.source = name, path, source

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        return importlib.util.spec_from_file_location(fullname, self.path, loader=self)

    def create_module(self, spec: Any) -> None:
        return None

    def exec_module(self, module: Any) -> None:
        exec(compile(self.source, str(self.path), "exec"), module.__dict__)


def _child(module: str, source: str | None, tests: list[str]) -> int:
    """In a forked child: import the package fresh (mutated module from memory) and run the tests."""
    import pytest

    if source is not None:
        name = module.removesuffix(".py").replace("/", ".")
        sys.meta_path.insert(0, _Serve(name, ROOT / module, source))
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    args = ["-x", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:randomly", "-m", "not slow", *tests]
    return int(pytest.main(args))


def _run(module: str, source: str | None, tests: list[str], timeout: float) -> tuple[str, float]:
    """'killed', 'survived' or 'timeout' (run again alone with more room, then a hang counts as killed), and seconds."""
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child never returns
        code = 3
        try:
            code = _child(module, source, tests)
        finally:
            os._exit(code)
    deadline = started + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            return ("survived" if code == 0 else "killed"), time.perf_counter() - started
        if time.perf_counter() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "timeout", time.perf_counter() - started
        time.sleep(0.05)


def _equivalent() -> dict[str, str]:
    """``file:line: change  # reason`` lines: mutants proven to change no result."""
    if not EQUIVALENT.exists():
        return {}
    out = {}
    for line in EQUIVALENT.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, reason = line.partition("  # ")
            out[key.strip()] = reason.strip()
    return out


def _preload() -> None:
    """The heavy libraries, once, before any fork (each child inherits them)."""
    import duckdb  # noqa: F401
    import numpy  # noqa: F401
    import pandas  # noqa: F401
    import polars  # noqa: F401
    import pyarrow  # noqa: F401
    import pytest  # noqa: F401
    import scipy.stats  # noqa: F401
    import statsmodels.api  # noqa: F401


def _batches(items: list[Mutant], jobs: int) -> Iterator[list[Mutant]]:
    for i in range(0, len(items), jobs):
        yield items[i : i + jobs]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modules", nargs="*", help=f"modules to mutate (default: {', '.join(TARGETS)})")
    parser.add_argument("--list", action="store_true", help="print the mutants, run nothing")
    parser.add_argument("--jobs", type=int, default=1, help="mutants run at once (default 1)")
    parser.add_argument("--limit", type=int, default=0, help="run only the first N mutants of each module")
    parser.add_argument(
        "--changed",
        metavar="REV",
        help="only mutants on lines changed since the git revision REV (the habit: "
        "score what a change touched; a full run scores the rest)",
    )
    args = parser.parse_args(argv)
    modules = args.modules or list(TARGETS)
    unknown = [m for m in modules if m not in TARGETS]
    if unknown:
        parser.error(f"no test subset is defined for {unknown}; known: {list(TARGETS)}")
    os.chdir(ROOT)
    # the package and tests of this tree (a snapshot such as a git worktree as well), not the editable install's
    sys.path.insert(0, str(ROOT))
    equivalent = _equivalent()
    if not args.list:
        _preload()
    total_killed = total_counted = 0
    for module in modules:
        found = mutants(module)
        if args.changed:
            try:
                lines = _changed_lines(module, args.changed)
            except subprocess.CalledProcessError as exc:
                parser.error(f"--changed {args.changed}: git cannot diff against it ({exc.stderr.strip()})")
            found = [m for m in found if m.line in lines]
        found = found[: args.limit or None]
        if args.list:
            for m in found:
                print(f"{m.key}{'  (equivalent)' if m.key in equivalent else ''}")
            continue
        if not found:
            print(f"{module}: no mutants{' on the lines changed since ' + args.changed if args.changed else ''}")
            continue
        # the baseline is the module as every mutant is served (parsed, rewritten by the walker, unparsed) with no
        # site changed: it must pass, or each mutant would be killed by the rewrite instead of by its change
        state, baseline = _run(module, mutated_source(module, -1), TARGETS[module], timeout=600)
        if state != "survived":
            own = _run(module, None, TARGETS[module], timeout=600)[0] == "survived"  # whose fault: the tool's?
            print(f"{module}: " + ("its tests fail on the rewritten source with no mutation (a fault of this tool)"
                                   if own else "its tests fail without any mutation; fix them first"))  # fmt: skip
            return 1
        timeout = 3 * baseline + 10
        print(f"{module}: {len(found)} mutants, tests take {baseline:.0f}s unmutated", flush=True)
        survivors: list[Mutant] = []
        killed = skipped = 0
        todo = [m for m in found if m.key not in equivalent]
        slow: list[Mutant] = []
        for batch in _batches(todo, max(1, args.jobs)):
            # forks run side by side; each waits its own deadline
            results = _run_batch(batch, timeout)
            for m, state in zip(batch, results, strict=True):
                if state == "survived":
                    survivors.append(m)
                    print(f"  survived  {m.key}", flush=True)
                elif state == "timeout":
                    slow.append(m)
                else:
                    killed += 1
            done = killed + len(survivors) + len(slow)
            print(f"  {done}/{len(todo)} run, {len(survivors)} survived, {len(slow)} to run again",
                  end="\r" if sys.stderr.isatty() else "\n", file=sys.stderr, flush=True)  # fmt: skip
        for m in slow:
            # a mutant past its deadline on a busy machine is not yet a hang: run alone with ten times the room, it
            # counts as killed only if it fails or hangs again (a load-bound timeout once passed survivors as kills)
            state, _ = _run(m.module, mutated_source(m.module, m.index), TARGETS[m.module], 10 * baseline + 30)
            if state == "survived":
                survivors.append(m)
                print(f"  survived  {m.key}", flush=True)
            else:
                killed += 1
                print(f"  {state:<9} {m.key} (after a timeout)", flush=True)
        skipped = sum(1 for m in found if m.key in equivalent)
        counted = len(found) - skipped
        score = killed / counted if counted else 1.0
        print(f"{module}: {killed}/{counted} killed ({score:.1%}); {skipped} listed as equivalent", flush=True)
        total_killed += killed
        total_counted += counted
    if not args.list and total_counted:
        print(f"all: {total_killed}/{total_counted} killed ({total_killed / total_counted:.1%})")
    return 0


def _changed_lines(module: str, rev: str) -> set[int]:
    """Line numbers of ``module`` (as it is now) that differ from revision ``rev``: the ``+`` side of each hunk."""
    diff = subprocess.run(
        ["git", "diff", "--unified=0", rev, "--", module], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    lines: set[int] = set()
    for start, count in re.findall(r"^@@ -\S+ \+(\d+)(?:,(\d+))? @@", diff, flags=re.MULTILINE):
        lines.update(range(int(start), int(start) + (int(count) if count else 1)))
    return lines


def _run_batch(batch: list[Mutant], timeout: float) -> list[str]:
    if len(batch) == 1:
        m = batch[0]
        return [_run(m.module, mutated_source(m.module, m.index), TARGETS[m.module], timeout)[0]]
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(len(batch)) as pool:  # threads only wait on forked children
        futures = [
            pool.submit(_run, m.module, mutated_source(m.module, m.index), TARGETS[m.module], timeout) for m in batch
        ]
        return [f.result()[0] for f in futures]


if __name__ == "__main__":
    sys.exit(main())
