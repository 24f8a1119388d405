"""Fixtures of the attack tests: the real-server fixtures of the integration tests, and two keys of two entities."""

from tests.integration.server_fixture import postgres_server, sqlite_server

__all__ = ["postgres_server", "sqlite_server"]
