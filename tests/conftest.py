"""Fixtures shared by several test modules."""

import pytest

from kg.store import KINDS, open_store
from kg.web.app import close_app, create_app


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


@pytest.fixture(scope="module")
def app():
    """The web app over the real data with one query worker; modules needing another app define their own."""
    app = create_app({"WORKERS": 1})
    yield app
    close_app(app)
