"""Sanic test fixtures: each test's apps leave Sanic's global registry (as sanic-ext's
``reset_globals`` does), so hundreds of test apps do not pile up in one process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sanic import Sanic


@pytest.fixture(autouse=True)
def reset_sanic_registry() -> Iterator[None]:
    yield
    Sanic._app_registry.clear()
