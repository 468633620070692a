"""Dereferencing: every minted IRI answers; HTML and RDF by Accept and by extension twin; same graphs."""

import json
import re

import pytest
from rdflib import Graph, Namespace, URIRef
from rdflib.compare import isomorphic

from kg import config
from kg.build import DATASET
from kg.dataset import default_files, load_graph, parse_file
from kg.describe import MAX_INCOMING, describe
from kg.store import open_store
from kg.web.app import close_app, create_app
from tests.remote import PAGE_KINDS, real_data_app

VOID_NS = Namespace("http://rdfs.org/ns/void#")
RDF_TWINS = {"ttl": ("text/turtle", "turtle"), "jsonld": ("application/ld+json", "json-ld"),
             "nt": ("application/n-triples", "nt"), "rdf": ("application/rdf+xml", "xml")}
PAGES = ["study/forbes-2014", "person/t-dhere", "indication/crohns-disease", "cell-source/bone-marrow",
         "phase/1b-2a", "measure/fistula-closure", "study/barnhoorn-2020/outcome/fistula-closure-cohort-2",
         "study/lightner-peripouch-fistulas/group/perianal", "library", "library/crohns-disease"]


@pytest.fixture(scope="module", params=PAGE_KINDS)
def app(request):
    yield from real_data_app(request, WORKERS=2)


@pytest.fixture(scope="module")
def store():
    return open_store("oxigraph")


@pytest.fixture
def client(app):
    return app.test_client()


def minted_iris():
    graph = load_graph([p for p in default_files() if config.DATA_DIR in p.parents])
    return sorted({str(s)[len(config.BASE):] for s in graph.subjects()
                   if isinstance(s, URIRef) and str(s).startswith(config.BASE)})


def test_every_minted_iri_answers_in_html(client):
    paths = minted_iris()
    assert len(paths) > 100
    for path in paths:
        response = client.get("/" + path, headers={"Accept": "text/html"})
        assert response.status_code == 200, path
        assert response.mimetype == "text/html"


ACCEPTS = {
    "text/turtle": ["text/turtle", "text/turtle;q=0.9, text/html;q=0.1", "application/x-turtle"],
    "application/ld+json": ["application/ld+json", "application/json;q=0.5, application/ld+json"],
    "application/n-triples": ["application/n-triples"],
    "application/rdf+xml": ["application/rdf+xml", "application/rdf+xml, text/html;q=0.5"],
    "text/html": ["text/html", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "*/*",
                  None],
}


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize(("media_type", "accept"),
                         [(m, a) for m, accepts in ACCEPTS.items() for a in accepts])
def test_negotiation_matrix(client, store, path, media_type, accept):
    response = client.get("/" + path, headers={"Accept": accept} if accept else {})
    assert response.status_code == 200
    assert response.mimetype == media_type
    assert response.headers["Vary"] == "Accept"
    extension = next((e for e, (m, _) in RDF_TWINS.items() if m == media_type), "html")
    assert response.headers["Content-Location"] == f"/{path}.{extension}"
    twin = client.get(f"/{path}.{extension}")
    assert twin.data == response.data and twin.mimetype == media_type
    if media_type != "text/html":
        answer = Graph().parse(data=response.data, format=RDF_TWINS[extension][1])
        assert isomorphic(answer, describe(store, config.BASE + path).graph())


@pytest.mark.parametrize("path", PAGES)
def test_every_page_advertises_its_twins(client, path):
    response = client.get("/" + path)
    links = re.findall(r'<([^>]+)>; rel="alternate"; type="([^"]+)"', response.headers["Link"])
    assert {href for href, _ in links} == {f"/{path}.{e}" for e in ("html", *RDF_TWINS)}
    page = response.get_data(as_text=True)
    for href, media_type in links:
        assert f'<link rel="alternate" type="{media_type}" href="{href}">' in page


def test_a_description_has_its_blank_nodes_and_the_labels_of_what_it_links_to(client):
    graph = Graph().parse(data=client.get("/study/zhang-2018.ttl").data, format="turtle")
    study = URIRef(config.BASE + "study/zhang-2018")
    authors = list(graph.items(graph.value(study, URIRef("http://purl.org/ontology/bibo/authorList"))))
    assert len(authors) == 5
    assert graph.value(authors[1], URIRef("https://schema.org/name")).toPython() == "Samei Lv"
    sources = {str(s) for s in graph.objects(None, URIRef("http://purl.org/dc/terms/source"))}
    assert "https://clinicaltrials.gov/show/NCT02445547" in sources


@pytest.mark.parametrize(("accept", "media_type"), [("text/html", "text/html"),
                                                    ("application/json", "application/json"),
                                                    ("text/turtle", "text/plain")])
def test_unknown_iris_are_404_in_the_negotiated_format(client, accept, media_type):
    response = client.get("/study/no-such-study", headers={"Accept": accept})
    assert response.status_code == 404
    assert response.mimetype == media_type
    assert "no-such-study" in response.get_data(as_text=True)


@pytest.mark.parametrize(("name", "rdflib_format"), [("ttl", "turtle"), ("nt", "nt"), ("jsonld", "json-ld")])
def test_dumps_are_the_dataset(client, tmp_path, name, rdflib_format):
    response = client.get(f"/dumps/dataset.{name}")
    assert response.status_code == 200
    path = tmp_path / f"dump.{name}"
    path.write_bytes(response.data)
    assert isomorphic(parse_file(path), load_graph())


def test_the_nquads_dump_keeps_a_graph_per_file(client, tmp_path):
    path = tmp_path / "dump.nq"
    path.write_bytes(client.get("/dumps/dataset.nq").data)
    names = {str(line.rsplit(" ", 2)[-2]) for line in path.read_text(encoding="utf-8").splitlines() if line}
    assert len(names) == len(default_files())


def test_void_counts_the_dataset(client):
    graph = Graph().parse(data=client.get("/.well-known/void").data, format="turtle")
    triples = graph.value(DATASET, URIRef("http://rdfs.org/ns/void#triples"))
    assert int(triples) == len(load_graph())
    # Every dump, the endpoint and the dataset's own IRI answer on this server.
    endpoint = graph.value(DATASET, VOID_NS.sparqlEndpoint)
    for iri in [DATASET, *graph.objects(DATASET, VOID_NS.dataDump), endpoint]:
        path = str(iri)[len(config.BASE) - 1:].split("#")[0]
        assert client.get(path, headers={"Accept": "text/turtle"}).status_code == 200, path


def test_the_public_base_is_configured_apart_from_the_servers_address(tmp_path):
    data = tmp_path / "elsewhere.ttl"
    data.write_text('@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n'
                    '<https://data.example.org/kg/thing/a> rdfs:label "A" ; '
                    'rdfs:seeAlso <https://data.example.org/kg/thing/b> .\n'
                    '<https://data.example.org/kg/thing/b> rdfs:label "B" .\n', encoding="utf-8")
    app = create_app({"DATA_FILES": [data], "PUBLIC_BASE": "https://data.example.org/kg/", "WORKERS": 1})
    try:
        client = app.test_client()
        page = client.get("/thing/a", headers={"Accept": "text/html"}).get_data(as_text=True)
        assert 'href="/thing/b"' in page
        graph = Graph().parse(data=client.get("/thing/a.ttl").data, format="turtle")
        assert (URIRef("https://data.example.org/kg/thing/a"), None, None) in graph
        assert client.get("/study/forbes-2014").status_code == 404
    finally:
        close_app(app)


def test_the_jsonld_twin_is_json(client):
    assert isinstance(json.loads(client.get("/study/forbes-2014.jsonld").data), (list, dict))


@pytest.mark.parametrize("path", ["ontology", "shapes", "shapes/ontology"])
def test_the_ontology_and_shapes_documents_resolve(client, path):
    assert client.get("/" + path, headers={"Accept": "text/html"}).status_code == 200
    turtle = client.get("/" + path, headers={"Accept": "text/turtle"}).data
    graph = Graph().parse(data=turtle, format="turtle")
    assert len(graph) > 100


def test_literals_reach_clients_as_the_data_writes_them(client):
    # A worker that never parsed a file once answered "P0D" for the data's "PT0S" (rdflib normalizing).
    answer = client.get("/study/forbes-2014/outcome/cdai-baseline.nt").get_data(as_text=True)
    assert '"PT0S"^^<http://www.w3.org/2001/XMLSchema#duration>' in answer
    assert '"370"^^<http://www.w3.org/2001/XMLSchema#decimal>' in answer


@pytest.mark.parametrize("kind", ["oxigraph", "memory"])
def test_a_description_labels_the_incoming_links_it_keeps_and_no_others(tmp_path, kind):
    hub, ex = config.BASE + "indication/hub", "https://example.org/"
    extra = 30
    lines = [f'<{ex}s{i}> <{ex}about> <{hub}> ; <http://purl.org/dc/terms/title> "Title {i}" .'
             for i in range(MAX_INCOMING + extra)]
    lines.append(f'<{hub}> <http://www.w3.org/2004/02/skos/core#prefLabel> "Hub" .')
    data = tmp_path / "hub.ttl"
    data.write_text("\n".join(lines), encoding="utf-8")
    store = open_store(kind, files=[data])
    description = describe(store, hub)
    kept = {x for x, _ in description.incoming}
    labelled = {s for s, _, _ in description.graph().triples((None, URIRef("http://purl.org/dc/terms/title"),
                                                              None))}
    assert len(kept) == MAX_INCOMING
    assert labelled == kept
