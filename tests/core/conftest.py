"""Fixtures of the core's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.mattermost_server import FakeMattermost


@pytest.fixture
def mattermost() -> Iterator[FakeMattermost]:
    """A local Mattermost v4 API on 127.0.0.1 (``mode`` makes it hang, fail or answer 429)."""
    with FakeMattermost() as server:
        yield server
