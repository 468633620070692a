"""The W3C SPARQL 1.1 Protocol and Service Description tests, run from their manifests against the
real server over HTTP on 127.0.0.1, with the data loaded under the graph names the manifest gives.

Without a write token the endpoint is read-only: the manifest's update tests must get the refusal
(403) and leave the dataset unchanged; every query test must pass as the manifest says. With a token
(sent with every request), the manifest's update tests must pass as it says, on a server of their own.
"""

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from rdflib import RDF, Graph, Namespace, URIRef
from rdflib.collection import Collection

from tests.live import request, running_server

W3C = Path(__file__).parent / "fixtures" / "w3c"
MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
HT = Namespace("http://www.w3.org/2011/http#")
CNT = Namespace("http://www.w3.org/2011/content#")
UT = Namespace("http://www.w3.org/2009/sparql/tests/test-update#")
HTS = Namespace("http://www.w3.org/2011/http-statusCodes#")
SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
RDFS_LABEL = URIRef("http://www.w3.org/2000/01/rdf-schema#label")

BOOLEAN_TYPES = ("application/sparql-results+json", "application/sparql-results+xml")
TABULAR_TYPES = BOOLEAN_TYPES + ("text/csv", "text/tab-separated-values")
RDF_TYPES = ("application/rdf+xml", "text/turtle", "application/n-triples", "application/ld+json")


def protocol_tests():
    manifest_path = W3C / "sparql11-protocol" / "manifest.ttl"
    g = Graph().parse(manifest_path, publicID=manifest_path.as_uri())
    manifest = next(g.subjects(RDF.type, MF.Manifest))
    tests = []
    for node in Collection(g, g.value(manifest, MF.entries)):
        requests = []
        for req in Collection(g, g.value(g.value(node, MF.action), HT.requests)):
            body = g.value(req, HT.body)
            headers = {}
            header_list = g.value(req, HT.headers)
            if header_list is not None:
                for header in Collection(g, header_list):
                    headers[str(g.value(header, HT.fieldName))] = str(g.value(header, HT.fieldValue))
            response = g.value(req, HT.resp)
            requests.append({
                "method": str(g.value(req, HT.methodName)),
                "path": str(g.value(req, HT.absolutePath)).replace("/sparql/", "/sparql", 1),
                "body": None if body is None else str(g.value(body, CNT.chars)),
                "charset": None if body is None else str(g.value(body, CNT.characterEncoding)),
                "headers": headers,
                "statuses": {str(s).rsplit("StatusCode", 1)[1]
                             for s in g.objects(response, MF.expectedStatus)},
                "boolean": g.value(response, MF.expectedBoolean),
                "format": g.value(response, MF.expectedFormat),
            })
        graphs = {str(g.value(d, RDFS_LABEL)): g.value(d, UT.graph) for d in g.objects(node, UT.graphData)}
        tests.append(pytest.param(requests, graphs, id=str(node).rsplit("#", 1)[1]))
    return tests


TOKEN = "protocol-test-token-0123456789"


def protocol_dataset(folder):
    """data1-3 of the manifest in named graphs given by their labels, as one N-Quads file."""
    dataset = folder / "protocol.nq"
    lines = []
    for n in (1, 2, 3):
        for triple in Graph().parse(W3C / "sparql11-protocol" / f"data{n}.nt", format="nt"):
            s, p, o = (t.n3() for t in triple)
            lines.append(f"{s} {p} {o} <http://kasei.us/2009/09/sparql/data/data{n}.rdf> .")
    dataset.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dataset


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    dataset = protocol_dataset(tmp_path_factory.mktemp("w3c"))
    with running_server("--data", dataset, "--timeout", "5") as server:
        yield server


@pytest.fixture(scope="module")
def writable_server(tmp_path_factory):
    dataset = protocol_dataset(tmp_path_factory.mktemp("w3c-writable"))
    options = ("--timeout", "5", "--workers", "1", "--write-token", TOKEN)
    with running_server("--data", dataset, *options) as server:
        yield server


def dataset_size(server):
    query = "SELECT (COUNT(*) AS ?n) WHERE { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } }"
    headers = {"Content-Type": "application/sparql-query"}
    status, _, body = request(server, "POST", "/sparql", query.encode(), headers)
    assert status == 200
    return json.loads(body)["results"]["bindings"][0]["n"]["value"]


def parse_boolean(content_type, body):
    if content_type.startswith("application/sparql-results+json"):
        return json.loads(body)["boolean"]
    root = ET.fromstring(body)
    return root.find("{http://www.w3.org/2005/sparql-results#}boolean").text == "true"


def is_update(req):
    content_type = req["headers"].get("content-type", "")
    return content_type.startswith("application/sparql-update") or (req["body"] or "").startswith("update=")


def run_requests(server, requests, token=None):
    for req in requests:
        encoding = "utf-16" if "UTF-16" in req["headers"].get("content-type", "") else "utf-8"
        body = None if req["body"] is None else req["body"].encode(encoding)
        headers = {**req["headers"], **({"Authorization": f"Bearer {token}"} if token else {})}
        status, headers, payload = request(server, req["method"], req["path"], body, headers)
        expected = {s[0] for s in req["statuses"]}
        if not token and is_update(req) and req["method"] == "POST" and expected <= {"2", "3"}:
            # Read-only: the refusal the protocol allows for an operation the service does not offer.
            assert status == 403, payload
            assert b"read-only" in payload
            continue
        assert str(status)[0] in expected, (status, payload[:300])
        if str(status)[0] == "4":
            assert payload.strip(), "an error needs a message"
        content_type = headers.get("content-type", "")
        if req["format"] is not None and status == 200:
            allowed = {"boolean": BOOLEAN_TYPES, "tabular": TABULAR_TYPES,
                       "RDF": RDF_TYPES}[str(req["format"])]
            assert content_type.startswith(allowed), content_type
        if req["boolean"] is not None and status == 200:
            answer = parse_boolean(content_type, payload)
            if not token and any(is_update(r) for r in requests):
                assert isinstance(answer, bool)
            else:
                assert answer == req["boolean"].toPython()


@pytest.mark.parametrize(("requests", "graphs"), protocol_tests())
def test_protocol(server, requests, graphs):
    before = dataset_size(server)
    run_requests(server, requests)
    assert dataset_size(server) == before, "the read-only dataset changed"


@pytest.mark.parametrize(("requests", "graphs"), [t for t in protocol_tests() if "update" in t.id])
def test_protocol_updates_with_a_token(writable_server, requests, graphs):
    """The update tests, each as the manifest says; those that must fail leave the data as it was."""
    before = dataset_size(writable_server)
    run_requests(writable_server, requests, TOKEN)
    if all(s[0] == "4" for r in requests for s in r["statuses"]):
        assert dataset_size(writable_server) == before, "a refused update changed the dataset"


def service_description(server, accept="text/turtle"):
    status, headers, body = request(server, "GET", "/sparql", headers={"Accept": accept})
    assert status == 200
    return headers, Graph().parse(data=body, format="turtle" if accept == "text/turtle" else "json-ld")


def test_sd_returns_rdf(server):
    headers, graph = service_description(server)
    assert headers["content-type"].startswith("text/turtle")
    assert len(graph) > 0


def test_sd_has_a_matching_endpoint_triple(server):
    _, graph = service_description(server)
    endpoint = URIRef(f"http://{server[0]}:{server[1]}/sparql")
    assert (None, SD.endpoint, endpoint) in graph


@pytest.mark.parametrize("accept", ["text/turtle", "application/ld+json"])
def test_sd_conforms_to_the_schema(server, accept):
    _, graph = service_description(server, accept)
    service = next(graph.subjects(RDF.type, SD.Service))
    assert (service, SD.supportedLanguage, SD.SPARQL11Query) in graph
    assert set(graph.objects(service, SD.resultFormat)) >= {
        URIRef("http://www.w3.org/ns/formats/SPARQL_Results_JSON"), URIRef("http://www.w3.org/ns/formats/Turtle")}
    dataset = graph.value(service, SD.defaultDataset)
    assert (dataset, RDF.type, SD.Dataset) in graph
    names = {str(graph.value(n, SD.name)) for n in graph.objects(dataset, SD.namedGraph)}
    assert names == {f"http://kasei.us/2009/09/sparql/data/data{n}.rdf" for n in (1, 2, 3)}
