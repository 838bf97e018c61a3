"""The X/Twitter Enterprise Engagement API (``/insights/engagement/totals``, ``/28hr``, ``/historical``): its facts
(``catalog``), request rules (``rules``, ``query``), client, fetch judge, response parsers (``parse``,
``parse_bytes``), the sandbox's routes (``sandbox``) and the watcher's reader (``watch``)."""
