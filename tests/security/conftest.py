"""Fixtures of the attack tests: the real-server fixtures of the integration tests and the browser of the browser tests."""

from tests.browser.conftest import browser, page, playwright
from tests.integration.server_fixture import postgres_server, sqlite_server

__all__ = ["browser", "page", "playwright", "postgres_server", "sqlite_server"]
