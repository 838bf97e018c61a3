"""X API v2: post and media analytics (``GET /2/tweets/analytics``, ``/2/media/analytics``) and post lookups with
metrics (``GET /2/tweets``; twarc2 files are pages of them): facts (``catalog``), the analytics query, client,
fetch judge, parsers (``parse`` for analytics answers, ``parse_posts`` for lookup payloads and twarc files), the
sandbox's routes (``sandbox``) and the watcher's reader (``watch``)."""
