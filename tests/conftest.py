"""Fixtures shared by several test modules."""

import socket
import threading

import pytest

from kg.store import KINDS, open_store
from tests.remote import oxigraph_server, real_data_app, store_name


@pytest.fixture(scope="session")
def remote(tmp_path_factory):
    """One `oxigraph serve` on 127.0.0.1 for the session, holding the real data put there by kg load."""
    with oxigraph_server(tmp_path_factory.mktemp("oxigraph")) as server:
        yield server


@pytest.fixture(scope="session")
def stores(request):
    """The three backends over the real data, loaded once: {kind: store}."""
    return {kind: open_store(store_name(kind, request)) for kind in KINDS}


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


@pytest.fixture(scope="module", params=KINDS)
def app(request):
    """The web app over the real data, once per store; modules needing another app define their own."""
    yield from real_data_app(request)


@pytest.fixture
def listener():
    """A local endpoint that records and drops every connection, so a regression fails fast, not hangs."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.05)
    connections, done = [], threading.Event()

    def serve():
        while not done.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            connections.append(connection.recv(200))
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/sparql"
    done.set()
    thread.join()
    server.close()
    assert connections == [], "the query opened a network connection"
