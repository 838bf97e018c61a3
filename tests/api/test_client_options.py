"""The clients' bounds are checked where they are given: a zero, negative, NaN or infinite timeout (every wait
endless, or none possible) and a response limit that is not a positive whole number are refused by name."""

from __future__ import annotations

import math

import pytest

from engagement_lab.api import Credentials
from engagement_lab.errors import ConfigError
from engagement_lab.sources.engagement.client import AsyncEngagementClient, EngagementClient
from engagement_lab.sources.x_v2.client import AnalyticsClient
from tests.api.conftest import BASE


@pytest.mark.parametrize("client", [EngagementClient, AnalyticsClient, AsyncEngagementClient])
@pytest.mark.parametrize("timeout", [0, -1, math.nan, math.inf, "30", True])
def test_a_timeout_that_cannot_bound_a_wait_is_refused(client: type, timeout: object, credentials: Credentials) -> None:
    with pytest.raises(ConfigError, match=r"timeout must be a positive number of seconds.*e\.g\. timeout=30"):
        client(credentials, base_url=BASE, timeout=timeout)


@pytest.mark.parametrize("limit", [0, -5, 1.5, math.inf, "1MB", False])
def test_a_response_limit_must_be_a_positive_whole_number(limit: object, credentials: Credentials) -> None:
    with pytest.raises(ConfigError, match="max_response_bytes must be a positive whole number of bytes"):
        EngagementClient(credentials, base_url=BASE, max_response_bytes=limit)  # type: ignore[arg-type]


def test_valid_bounds_are_kept(credentials: Credentials) -> None:
    with EngagementClient(credentials, base_url=BASE, timeout=2, max_response_bytes=1024) as client:
        assert (client.timeout, client.max_response_bytes) == (2.0, 1024)


def test_numpy_numbers_are_bounds_too(credentials: Credentials) -> None:
    import numpy as np

    with EngagementClient(credentials, base_url=BASE, timeout=np.float64(2.5), max_response_bytes=np.int64(4096)) as c:
        assert (c.timeout, c.max_response_bytes) == (2.5, 4096)
