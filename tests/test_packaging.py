"""The project's own promises: conda twin agrees with pyproject, public API is sorted and importable."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

import engagement_lab

ROOT = Path(__file__).resolve().parents[1]


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-")


def _pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs.extend(extra)
    return {_canonical(Requirement(r).name): str(Requirement(r).specifier) for r in reqs}


def _environment_requirements() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    specs: list[str] = []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            specs.extend(p for p in dep["pip"] if not p.startswith("-e"))
        elif dep.split(">")[0].split("=")[0] not in {"python", "pip"}:
            specs.append(dep)
    return {_canonical(Requirement(s).name): str(Requirement(s).specifier) for s in specs}


def test_environment_yml_is_the_twin_of_pyproject() -> None:
    py, conda = _pyproject_requirements(), _environment_requirements()
    assert set(py) == set(conda), f"only in pyproject: {set(py) - set(conda)}; only in conda: {set(conda) - set(py)}"
    assert py == conda, {k: (py[k], conda[k]) for k in py if py[k] != conda[k]}


def test_all_is_sorted_unique_and_importable() -> None:
    names = engagement_lab.__all__
    # isort style, as ruff keeps it: CONSTANTS, then Classes, then functions and modules
    assert names == sorted(names, key=lambda n: (0 if n.isupper() else 1 if n[0].isupper() else 2, n))
    assert len(set(names)) == len(names)
    for name in names:
        assert hasattr(engagement_lab, name), name


def test_package_is_typed() -> None:
    assert (ROOT / "engagement_lab" / "py.typed").exists()


def test_importing_the_package_loads_no_heavy_library() -> None:
    """``import engagement_lab`` stays light (timed in benchmarks/import_time.py); names load on first use."""
    code = (
        "import sys, engagement_lab\n"
        "heavy = ['pandas', 'polars', 'scipy', 'numpy', 'httpx', 'narwhals', 'altair', 'pyarrow', 'statsmodels']\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
        "from engagement_lab import compare, per_tweet, Comparison\n"
        "import engagement_lab.stats\n"
        "assert compare is engagement_lab.stats.compare and engagement_lab.compare is compare\n"
        "assert engagement_lab.columns.__name__ == 'engagement_lab.columns'\n"
        "try:\n"
        "    engagement_lab.comapre\n"
        "except AttributeError as exc:\n"
        "    print(exc)\n"
        # a comparison and its HTML load no chart library (#35): altair and vl-convert come with the first chart
        "import pandas as pd\n"
        "tweets = pd.DataFrame({'v': ['A'] * 3 + ['B'] * 3, 'impressions': [100, 120, 90] * 2,\n"
        "                       'engagements': [3, 4, 2, 5, 6, 4]})\n"
        "result = compare(tweets, metric='engagement_rate', by='v')\n"
        "html = result._repr_html_()\n"
        "print(','.join(m for m in ('altair', 'vl_convert', 'vegafusion') if m in sys.modules) or 'no chart library')\n"
        "result.chart()\n"
        "print('altair' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    loaded, error, charts_before, charts_after = done.stdout.splitlines()
    assert loaded == ""
    assert "has no attribute 'comapre' (did you mean 'compare'?)" in error
    assert charts_before == "no chart library"
    assert charts_after == "True"


def test_constraints_pin_every_requirement_make_setup_installs() -> None:
    """constraints.txt (``make lock``) pins each requirement of the base install and the dev, notebook and dask
    extras, at a version its pyproject specifier accepts: a dependency changed without re-locking fails here."""
    from packaging.version import Version

    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            name, _, version = line.partition("==")
            pins[_canonical(name.strip())] = Version(version.split(";")[0].strip())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    wanted = [Requirement(r) for r in [*project["dependencies"], *extras["dev"], *extras["notebook"], *extras["dask"]]]
    unpinned = [str(r) for r in wanted if _canonical(r.name) not in pins]
    assert not unpinned, f"not in constraints.txt (run make lock): {unpinned}"
    refused = {str(r): str(pins[_canonical(r.name)]) for r in wanted if pins[_canonical(r.name)] not in r.specifier}
    assert not refused, f"constraints.txt pins versions pyproject.toml refuses (run make lock): {refused}"
