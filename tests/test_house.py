"""The house shows its parts: what users imported before the move still works, no module imports one that imports
it back, the package root stays small, and the layers keep the direction the design gives them."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import engagement_lab

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "engagement_lab"

# ``engagement_lab.__all__`` of the release before the move (0.1.0), spelled out so that a name dropped from
# today's ``__all__`` fails here.
PUBLIC_NAMES_0_1 = [
    "NAMED_METRICS", "APIConnectionError", "APIError", "APIStatusError", "APITimeoutError", "AnalyticsQuery",
    "AuthenticationError", "BadRequestError", "CompactResult", "Comparison", "ConfigError", "Credentials", "DataError",
    "EngagementLabError", "EngagementQuery", "EngagementRequest", "FetchResult", "ForbiddenError", "LoadReport",
    "LockError", "Mean", "MediaAnalyticsQuery", "NotAcceptableError", "QueryError", "RateLimitError", "Ratio",
    "ResponseFormatError", "Sandbox", "ServerError", "StatsInputError", "Summary", "__version__", "catalog", "columns",
    "compact", "compare", "enable_offline", "fetch", "fetch_analytics", "load_analytics", "load_analytics_csv",
    "load_archive", "load_response", "load_v2", "omnibus", "parse_tweet_id", "parse_tweet_ids", "per_tweet",
    "save_chart", "scan", "summarize", "to_parquet", "tweet_created_at",
]  # fmt: skip

# Every ``from X import Y`` the README, the notebooks and the benchmarks used before the move.
IMPORT_PATHS_0_1 = {
    "engagement_lab": ["compare", "per_tweet", "summarize", "EngagementQuery", "to_parquet", "load_response",
                       "load_archive", "load_analytics_csv", "load_v2", "scan", "enable_offline", "report_parts",
                       "columns", "catalog", "fetch", "Credentials", "Sandbox", "AnalyticsQuery", "fetch_analytics",
                       "compact"],
    "engagement_lab.datasets": ["load_sample"],
    "engagement_lab.timeseries": ["posting_time", "by_age", "half_life", "hour_weekday_profile", "time_to_threshold"],
    "engagement_lab.sandbox": ["World", "SandboxApp", "SandboxTransport", "Sandbox", "FaultConfig"],
    "engagement_lab.metrics": ["NAMED_METRICS"],
    "engagement_lab.watch": ["watch", "verify"],
    "engagement_lab.viz": ["power_curve_plot", "distribution_plot", "balance_plot", "age_curves_plot", "heatmap_plot"],
    "engagement_lab.stats": ["group_stats", "mde", "power_curve", "format_p", "balance", "adjust_pvalues",
                             "cluster_bootstrap", "compare", "GroupStats", "sample_size_ratio", "srm_check"],
    "engagement_lab.sandbox.world": ["HORIZON_HOURS", "METRICS"],
    "engagement_lab.sandbox.responses": ["build_response"],
    "engagement_lab.query": ["EngagementRequest"],
    "engagement_lab.load": ["read_metadata"],
    "engagement_lab.catalog_v2": ["TO_ENGAGEMENT_NAMES"],
    "engagement_lab.api.client": ["RawResponse"],
    "engagement_lab.api.archive": ["Archive"],
    "engagement_lab.api": ["Credentials", "FetchResult", "fetch", "AccountTokens", "PKCEFlow", "Secret"],
}  # fmt: skip


def test_every_public_name_of_the_previous_release_is_still_public() -> None:
    missing = [name for name in PUBLIC_NAMES_0_1 if name not in engagement_lab.__all__]
    assert not missing, f"dropped from engagement_lab.__all__: {missing}"
    for name in PUBLIC_NAMES_0_1:
        assert getattr(engagement_lab, name) is not None


def test_every_import_path_the_docs_used_still_imports_and_a_moved_one_names_its_new_place() -> None:
    # a fresh interpreter, so that no earlier test has imported a module under its new name already
    script = f"""
import importlib, json, warnings
found, moved = {{}}, []
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for module, names in {IMPORT_PATHS_0_1!r}.items():
        imported = importlib.import_module(module)
        for name in names:
            value = getattr(imported, name, None)
            if value is None:
                value = importlib.import_module(module + "." + name)  # a submodule, as ``from pkg import mod``
            found[module + "." + name] = type(value).__name__
    moved = [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]
print(json.dumps({{"found": found, "moved": moved}}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(done.stdout)
    assert len(result["found"]) == sum(len(names) for names in IMPORT_PATHS_0_1.values())
    moved = "\n".join(result["moved"])
    for old, new in [
        ("engagement_lab.query", "engagement_lab.sources.engagement.query"),
        ("engagement_lab.sandbox.responses", "engagement_lab.sources.engagement.sandbox"),
        ("engagement_lab.catalog_v2", "engagement_lab.sources.x_v2.catalog"),
        ("engagement_lab.api.client", "engagement_lab.sources.engagement.client"),
        ("engagement_lab.report_parts", "engagement_lab.report.parts"),
    ]:
        assert f"{old} moved to {new}" in moved


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports_at_load(module: str) -> set[str]:
    """The package's modules that importing ``module`` imports at once (top-level statements, not imports inside
    functions or ``if TYPE_CHECKING``), parents of a dotted module included; its own parent packages, which Python
    always imports first, left out."""
    path = MODULES[module]
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    named: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
            target = base if node.level else (node.module or "")
            named |= {f"{target}.{a.name}" if f"{target}.{a.name}" in MODULES else target for a in node.names}
        elif isinstance(node, ast.Import):
            named |= {a.name for a in node.names}
    dotted = {".".join(n.split(".")[:i]) for n in named for i in range(1, n.count(".") + 2)}
    parents = {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1)}
    return {m for m in dotted if m in MODULES and m != module and m not in parents}


GRAPH = {module: _imports_at_load(module) for module in MODULES}


def _reach(start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in GRAPH[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def test_no_module_imports_one_that_imports_it_back() -> None:
    cycles = sorted(m for m in MODULES if m in _reach(m))
    assert not cycles, f"modules that import themselves through others: {cycles}"


def test_the_package_root_holds_at_most_ten_modules_besides_its_init_and_version() -> None:
    loose = sorted(p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "_version.py"))
    assert len(loose) <= 10, loose


def _layer(prefix: str) -> Iterator[str]:
    return (m for m in MODULES if m == prefix or m.startswith(prefix + "."))


@pytest.mark.parametrize(
    ("layer", "never"),
    [
        # the sandbox stays an independent check of the clients: it meets them only in each source's catalog
        ("engagement_lab.sandbox", ["engagement_lab.api", "client", "fetch", "engagement_lab.load"]),
        ("engagement_lab.sources.engagement.sandbox", ["engagement_lab.api", "client", "fetch"]),
        ("engagement_lab.sources.x_v2.sandbox", ["engagement_lab.api", "client", "fetch"]),
        # the pure core never imports the shell
        ("engagement_lab.stats", ["engagement_lab.api", "engagement_lab.cli", "engagement_lab.report", "sandbox"]),
        ("engagement_lab.load", ["engagement_lab.api", "engagement_lab.cli", "engagement_lab.report", "sandbox"]),
        ("engagement_lab.viz", ["engagement_lab.stats", "engagement_lab.api", "engagement_lab.cli"]),
        # parsers read files; they never fetch
        ("engagement_lab.sources.engagement.parse", ["engagement_lab.api", "client", "fetch"]),
        ("engagement_lab.sources.x_v2.parse", ["engagement_lab.api", "client", "fetch"]),
        ("engagement_lab.sources.exports.parse", ["engagement_lab.api", "client", "fetch"]),
        # nothing imports the command line
        ("engagement_lab", ["engagement_lab.cli"]),
    ],
)
def test_layers_import_in_one_direction(layer: str, never: list[str]) -> None:
    for module in _layer(layer) if layer != "engagement_lab" else [m for m in MODULES if ".cli" not in m]:
        forbidden = sorted(m for m in _reach(module) if any(m.startswith(n) or m.endswith("." + n) for n in never))
        assert not forbidden, f"{module} imports {forbidden}"


def test_sources_do_not_import_each_other() -> None:
    for module in _layer("engagement_lab.sources"):
        parts = module.split(".")
        if len(parts) < 4:  # the registry and the checks they share
            continue
        others = {f"engagement_lab.sources.{s}" for s in ("engagement", "x_v2", "exports")} - {".".join(parts[:3])}
        crossing = sorted(m for m in GRAPH[module] if any(m.startswith(o) for o in others))
        assert not crossing, f"{module} imports another source's {crossing}"
