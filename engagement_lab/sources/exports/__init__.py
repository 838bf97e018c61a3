"""CSV exports of analytics.twitter.com (both eras) and X Premium (content, account overview, video): read only
(``parse``); nothing to fetch."""
