"""Integration fixtures shared across files: the real-server fixtures of server_fixture.py."""

from tests.integration.server_fixture import postgres_server, sqlite_server

__all__ = ["postgres_server", "sqlite_server"]
