"""Where numbers come from: one folder per source, the same file names in each, and the registry that names them.

``engagement/`` is the X/Twitter Enterprise Engagement API, ``x_v2/`` X API v2 (post and media analytics, post
lookups and the twarc files made of them), ``exports/`` the CSV files of analytics.twitter.com and X Premium. Each
holds what applies of: ``catalog`` (the spec's facts, pure data), ``rules`` and ``query`` (a request checked and
planned), ``client`` (one HTTP call), ``fetch`` (its judge for the shared runner), ``parse`` (answers or files into
the tidy schema), ``sandbox`` (the routes the local server mounts) and ``watch`` (lifetime totals for the watcher).

The rest of the package asks this registry instead of keeping lists of its own: which ``source`` tag wins for one
tweet's metric (:func:`tag_order`), what to call the API an archive came from (:func:`describe_endpoints`), which
APIs the CLI, the demo and the watcher offer (:func:`names`). A new source is a folder (or any module) plus one
:func:`register` call; nothing else needs editing. Entries name their code as ``"module:attribute"`` strings, so
this module imports nothing and every part imports only what it uses.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from ..errors import ConfigError, did_you_mean
from ..options import deprecated

__all__ = [
    "ENGAGEMENT",
    "EXPORTS",
    "X_V2",
    "Source",
    "describe_endpoints",
    "get",
    "names",
    "register",
    "tag_order",
    "unregister",
]

Part = Literal["loader", "fetch", "watch", "sandbox"]


@dataclass(frozen=True)
class Source:
    """One source of engagement numbers.

    Parameters
    ----------
    name : str
        How the package spells it (``"engagement"``, ``"x-v2"``): the ``api=`` of the watcher and the demo, the
        CLI's ``--api`` choices, ``FetchResult.api``.
    label : str
        How a report names it (``"the Engagement API"``).
    tags : mapping of str to int
        The values of the tidy ``source`` column its rows carry (``""``: rows with no tag), each with its rank
        among every registered source's tags: when one tweet's metric is reported by several, the lowest rank is
        used and the others are never added to it (they count differently: organic, public, promoted).
    endpoints : tuple of str
        The ``endpoint`` values of its rows in a fetch archive.
    loader, fetch, watch, sandbox : str, optional
        ``"module:attribute"`` of the function that reads its files into a tidy frame, of its fetch into an
        archive, of its reader of lifetime totals for the watcher, and of the routes the sandbox mounts.
    aliases : tuple of str
        Spellings of the previous release, still accepted with a ``DeprecationWarning``.
    """

    name: str
    label: str
    tags: Mapping[str, int] = field(default_factory=dict)
    endpoints: tuple[str, ...] = ()
    loader: str | None = None
    fetch: str | None = None
    watch: str | None = None
    sandbox: str | None = None
    aliases: tuple[str, ...] = ()

    def part(self, which: Part) -> Any:
        """The object a ``"module:attribute"`` entry names, imported on first use."""
        where = getattr(self, which)
        if where is None:
            raise ConfigError(f"the source {self.name!r} has no {which}")
        module, _, attribute = where.partition(":")
        return getattr(importlib.import_module(module), attribute)


_REGISTRY: dict[str, Source] = {}


def register(source: Source) -> Source:
    """Add a source (or replace one of the same name); its tags join the order of every other source's."""
    if not isinstance(source, Source):
        raise ConfigError(f"register() takes a Source, got {type(source).__name__}")
    for other in _REGISTRY.values():
        shared = (set(other.tags) & set(source.tags)) if other.name != source.name else set()
        if shared:
            raise ConfigError(f"source tags {sorted(shared)} already belong to the source {other.name!r}")
    _REGISTRY[source.name] = source
    return source


def unregister(name: str) -> Source:
    """Remove a source added with :func:`register` (and return it); the built-in sources cannot be removed."""
    if name in _BUILT_IN:
        raise ConfigError(f"the source {name!r} is built in and cannot be removed")
    if name not in _REGISTRY:
        raise ConfigError(
            f"no source {name!r} is registered{did_you_mean(name, _REGISTRY)}; sources: {list(_REGISTRY)}"
        )
    return _REGISTRY.pop(name)


def names(part: Part | None = None) -> tuple[str, ...]:
    """Every registered source's name, in registration order (only those with ``part``, when given)."""
    return tuple(s.name for s in _REGISTRY.values() if part is None or getattr(s, part) is not None)


def get(name: object, part: Part | None = None) -> Source:
    """The source called ``name`` (an alias of the previous release warns and names the new spelling); with
    ``part``, only a source that has it. An unknown name is refused with the closest one and every choice."""
    choices = names(part)
    for source in _REGISTRY.values():
        if isinstance(name, str) and name in source.aliases and source.name in choices:
            deprecated(f"{name!r} is now called {source.name!r}; the old spelling works for one more release")
            return source
    if not isinstance(name, str) or name not in choices:
        hint = did_you_mean(name, choices) if isinstance(name, str) else ""
        raise ConfigError(f"api={name!r} is not an option{hint}; choose one of {list(choices)}")
    return _REGISTRY[name]


def tag_order() -> tuple[str, ...]:
    """Every registered ``source`` tag, best first: per tweet and metric, the rows of the first tag present win."""
    ranked = sorted((rank, tag) for source in _REGISTRY.values() for tag, rank in source.tags.items())
    return tuple(tag for _, tag in ranked)


def describe_endpoints(endpoints: set[str]) -> str:
    """What to call the API(s) an archive's ``endpoint`` values came from (``"the Engagement API"``...)."""
    labels = [s.label for s in _REGISTRY.values() if set(s.endpoints) & endpoints]
    return " and ".join(labels) or "an unknown API"


ENGAGEMENT: Final = register(
    Source(
        name="engagement",
        label="the Engagement API",
        tags={"": 0},  # its rows carry no tag; its impressions are organic
        endpoints=("totals", "28hr", "historical"),
        loader="engagement_lab.load:load_response",
        fetch="engagement_lab.sources.engagement.fetch:fetch",
        watch="engagement_lab.sources.engagement.watch:EngagementTotals",
        sandbox="engagement_lab.sources.engagement.sandbox:EngagementRoutes",
        aliases=("v1",),
    )
)
X_V2: Final = register(
    Source(
        name="x-v2",
        label="X API v2 post analytics",
        tags={
            "v2.analytics": 10,
            "v2.media_analytics": 11,
            "v2.organic_metrics": 20,
            "v2.non_public_metrics": 21,
            "v2.public_metrics": 22,
            "v2.media.organic_metrics": 30,
            "v2.media.non_public_metrics": 31,
            "v2.media.public_metrics": 32,
            "v2.promoted_metrics": 60,  # promoted counts rank after every organic and public one
            "v2.media.promoted_metrics": 61,
        },
        endpoints=("tweets/analytics", "media/analytics"),
        loader="engagement_lab.load:load_analytics",
        fetch="engagement_lab.sources.x_v2.fetch:fetch_analytics",
        watch="engagement_lab.sources.x_v2.watch:AnalyticsTotals",
        sandbox="engagement_lab.sources.x_v2.sandbox:V2Routes",
        aliases=("v2",),
    )
)
EXPORTS: Final = register(
    Source(
        name="exports",
        label="analytics.twitter.com and X Premium exports",
        tags={"analytics_csv": 50, "analytics_csv.promoted": 70},
        loader="engagement_lab.load:load_analytics_csv",
    )
)
_BUILT_IN: Final = frozenset(_REGISTRY)
