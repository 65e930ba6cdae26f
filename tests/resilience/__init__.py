"""Outage tests: Redis and PostgreSQL going away under a running desk, and chats that are gone."""
