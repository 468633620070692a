"""The W3C SPARQL 1.1 Graph Store Protocol tests (direct and indirect graph identification), run from
their manifests against the real server over HTTP on 127.0.0.1, with writes enabled.

Each test starts from an empty store, as the manifests assume (they create the same graph in several
tests and expect 201 each time): the harness empties it with `DROP ALL` through SPARQL Update first.
Paths starting with /gsp are served at /graph-store, as the manifest tells runners to do.
"""

import json
from pathlib import Path
from urllib.parse import quote

import pytest
from rdflib import RDF, Graph, Namespace
from rdflib.collection import Collection
from rdflib.compare import isomorphic

from tests.live import request, running_server

GSP = Path(__file__).parent / "fixtures" / "w3c" / "graph-store-protocol"
MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
HT = Namespace("http://www.w3.org/2011/http#")
CNT = Namespace("http://www.w3.org/2011/content#")
STATUS = {"OK": 200, "Created": 201, "NoContent": 204, "NotFound": 404}
TOKEN = "gsp-test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def headers_of(g, node):
    found = {}
    if node is not None:
        for header in Collection(g, node):
            found[str(g.value(header, HT.fieldName)).lower()] = str(g.value(header, HT.fieldValue))
    return found


def gsp_tests():
    tests = []
    for name in ("manifest-direct.ttl", "manifest-indirect.ttl"):
        path = GSP / name
        g = Graph().parse(path, publicID=path.as_uri())
        manifest = next(g.subjects(RDF.type, MF.Manifest))
        for node in Collection(g, g.value(manifest, MF.entries)):
            requests = []
            for req in Collection(g, g.value(g.value(node, MF.action), HT.requests)):
                body, resp = g.value(req, HT.body), g.value(req, HT.resp)
                expected = g.value(resp, HT.body)
                requests.append({
                    "method": str(g.value(req, HT.methodName)),
                    "path": str(g.value(req, HT.absolutePath)).replace("/gsp", "/graph-store", 1),
                    "headers": headers_of(g, g.value(req, HT.headers)),
                    "body": None if body is None else str(g.value(body, CNT.chars)),
                    "statuses": {STATUS[str(s).rsplit("#", 1)[1]]
                                 for s in g.objects(resp, MF.expectedStatus)},
                    "location": g.value(resp, MF.expectedLocation),
                    "response_headers": headers_of(g, g.value(resp, HT.headers)),
                    "expected": None if expected is None else str(g.value(expected, CNT.chars)),
                })
            tests.append(pytest.param(requests, id=str(node).rsplit("#", 1)[1]))
    return tests


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gsp")
    (folder / "empty.nq").write_text("", encoding="utf-8")
    with running_server("--data", folder / "empty.nq", "--workers", "1", "--write-token", TOKEN) as server:
        yield server


def record_of_writes(server):
    path = "/graph-store?graph=https%3A%2F%2Fw3id.org%2Fmsc-kg%2Fgraph%2Fprovenance"
    status, _, body = request(server, "GET", path, headers={"Accept": "text/turtle"})
    assert status == 200, body
    return Graph().parse(data=body.decode("utf-8"), format="turtle")


def drop_all(server):
    headers = {**AUTH, "Content-Type": "application/sparql-update"}
    status, _, body = request(server, "POST", "/sparql", b"DROP ALL", headers)
    assert status == 200, body


@pytest.mark.parametrize("requests", gsp_tests())
def test_graph_store_protocol(server, requests):
    drop_all(server)
    template = {}
    for req in requests:
        path, body = req["path"], req["body"]
        for name, value in template.items():
            path = path.replace(name, value)
            body = None if body is None else body.replace(name, value)
        headers = {**req["headers"], **AUTH}
        status, headers, payload = request(server, req["method"], path,
                                           None if body is None else body.encode("utf-8"), headers)
        assert status in req["statuses"], (req["method"], path, status, payload[:500])
        if req["location"] is not None:
            template[str(req["location"])] = headers["location"]
        for name, value in req["response_headers"].items():
            if name == "content-type":
                assert headers["content-type"].split(";")[0] == value.split(";")[0], headers
        if req["method"] == "HEAD":
            assert payload == b""
        if req["expected"] is not None:
            got = Graph().parse(data=payload.decode("utf-8"), format="turtle")
            assert isomorphic(got, Graph().parse(data=req["expected"], format="turtle")), payload.decode()


def test_the_record_of_writes_is_queryable_but_not_in_the_graph_stores_default_graph(server):
    triple = "<http://example.org/s> <http://example.org/p> <http://example.org/o> .\n"
    put = {"Content-Type": "text/turtle", "Authorization": f"Bearer {TOKEN}"}
    status, _, body = request(server, "PUT", "/graph-store?default", triple.encode(), headers=put)
    assert status in (200, 201, 204), body
    record = record_of_writes(server)
    assert len(record) > 0
    status, _, body = request(server, "GET", "/graph-store?default", headers={"Accept": "text/turtle"})
    got = Graph().parse(data=body.decode(), format="turtle")
    assert isomorphic(got, Graph().parse(data=triple, format="nt"))
    ask = "ASK { ?activity a <http://www.w3.org/ns/prov#Activity> }"
    status, _, body = request(server, "GET", "/sparql?query=" + quote(ask),
                              headers={"Accept": "application/sparql-results+json"})
    assert status == 200 and b"true" in body


def test_writes_need_the_token(server):
    turtle = {"Content-Type": "text/turtle"}
    status, headers, _ = request(server, "PUT", "/graph-store?graph=http://example.org/g",
                                 b"<http://example.org/s> <http://example.org/p> 1 .", turtle)
    assert status == 401
    assert headers["www-authenticate"].startswith("Bearer")
    status, _, _ = request(server, "GET", "/graph-store?graph=http://example.org/g")
    assert status == 404


@pytest.mark.parametrize(("content_type", "body", "status"), [
    ("text/plain", b"hello", 415),
    ("text/turtle", b"<http://example.org/s> <http://example.org/p> .", 400),
    ("application/rdf+xml", b'<!DOCTYPE r [<!ENTITY a "aaaa">]><r/>', 400),
    ("text/turtle; charset=latin-1", b"<http://example.org/s> <http://example.org/p> 1 .", 415),
])
def test_bad_bodies_are_refused_and_change_nothing(server, content_type, body, status):
    drop_all(server)
    got, _, payload = request(server, "PUT", "/graph-store?graph=http://example.org/g", body,
                              {**AUTH, "Content-Type": content_type})
    assert got == status, payload
    assert json.loads(payload)["detail"]
    assert request(server, "GET", "/graph-store?graph=http://example.org/g")[0] == 404
