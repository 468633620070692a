"""Fixtures shared by the store, query, build and CLI tests."""

import pytest

from kg.store import KINDS, open_store


@pytest.fixture(scope="session")
def stores():
    """Both backends over the real data, loaded once: {kind: store}."""
    return {kind: open_store(kind) for kind in KINDS}


@pytest.fixture(params=KINDS)
def store(request, stores):
    return stores[request.param]


@pytest.fixture
def turtle(tmp_path):
    """Write a Turtle file into tmp_path and return its path: turtle("name.ttl", text)."""

    def write(name, text):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
