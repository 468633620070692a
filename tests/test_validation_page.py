"""The dataset's validation on the server: /validation (report, shape coverage, twins) and the status
each resource page shows, over the real data plus a fixture file with a known violation and a node no
shape targets. Expected results come from kg.validation run here on the same files, not from lists."""

import json
import re

import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import RDF, SH

from kg import config, dataset, validation
from kg.namespaces import MSC, SHAPES
from kg.web import validation_page
from kg.web.app import close_app, create_app
from kg.web.validation_page import dataset_validation, forget, page_validation

HTML = {"Accept": "text/html"}
NAMELESS = config.BASE + "person/validation-fixture-nameless"
UNTARGETED = "https://example.org/validation-fixture-note"
FIXTURE = f"""@prefix schema: <https://schema.org/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
<{NAMELESS}> a schema:Person .
<{UNTARGETED}> rdfs:label "A note no shape targets"@en .
"""
TWINS = {"ttl": ("text/turtle", "turtle"), "jsonld": ("application/ld+json", "json-ld"),
         "nt": ("application/n-triples", "nt"), "rdf": ("application/rdf+xml", "xml")}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    path = tmp_path_factory.mktemp("validation") / "fixture.ttl"
    path.write_text(FIXTURE, encoding="utf-8")
    return [*dataset.default_files(), path]


@pytest.fixture(scope="module")
def expected(files):
    """The report kg.validation makes of the same files, here in the test process."""
    return validation.validate(files)


@pytest.fixture(scope="module")
def app(files, tmp_path_factory):
    app = create_app({"DATA_FILES": files, "WORKERS": 1,
                      "VALIDATION_CACHE": str(tmp_path_factory.mktemp("validation-cache"))})
    for holder in (dataset_validation(app), page_validation(app)):
        assert holder.get(wait=120) is not None, holder.error
    yield app
    close_app(app)


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


def section(html, cls):
    match = re.search(rf'<section class="{cls}"[^>]*>(.*?)</section>', html, re.DOTALL)
    assert match, f"no section {cls}"
    return match.group(1)


def text(html):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'").replace("&#34;", '"')


def shape_message(shape, path):
    shapes = validation.load_shapes()
    for prop in shapes.objects(shape, SH.property):
        if shapes.value(prop, SH.path) == path:
            return str(shapes.value(prop, SH.message))
    raise AssertionError(f"{shape} has no rule on {path}")


# ---------------------------------------------------------------- resource pages


def test_the_known_violation_shows_on_its_page_linked_to_its_shape(client, expected):
    mine = [r for r in expected.results if r.focus == NAMELESS]
    assert any(r.severity == "Violation" for r in mine)
    html = client.get("/person/validation-fixture-nameless", headers=HTML).get_data(as_text=True)
    status = section(html, "validation")
    assert "Does not conform to the" in status
    for result in mine:
        assert result.message in text(status)
    assert shape_message(SHAPES.PersonShape, URIRef("https://schema.org/name")) in text(status)
    assert 'href="/shapes#PersonShape"' in status
    shapes_page = client.get("/shapes", headers=HTML).get_data(as_text=True)
    assert 'id="PersonShape"' in shapes_page


def test_a_node_without_results_says_it_conforms(client, expected):
    people = {str(s) for s in dataset.load_graph().subjects(RDF.type, URIRef("https://schema.org/Person"))}
    flagged = {r.focus for r in expected.results}
    clean = sorted(p for p in people - flagged if p.startswith(config.BASE))
    assert clean
    html = client.get("/" + clean[0][len(config.BASE):], headers=HTML).get_data(as_text=True)
    assert "Conforms to the" in section(html, "validation")
    assert "no violation, no warning" in section(html, "validation")


def test_a_study_page_shows_the_results_of_its_parts(client, expected):
    parts = {}
    for result in expected.results:
        study = re.match(rf"{re.escape(config.BASE)}study/[^/]+", result.focus)
        if study and result.focus != study.group(0):
            parts.setdefault(study.group(0), []).append(result)
    assert parts, "some study has a result on a part (a publication's missing PubMed id, say)"
    study, results = sorted(parts.items())[0]
    status = section(client.get("/" + study[len(config.BASE):], headers=HTML).get_data(as_text=True),
                     "validation")
    for result in results:
        assert result.message in text(status)
        assert f'href="/{result.focus[len(config.BASE):]}"' in status


# ---------------------------------------------------------------- /validation


def test_the_validation_page_has_the_report_and_the_coverage(client, expected, files):
    response = client.get("/validation", headers=HTML)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    counts = expected.counts()
    facts = text(html)
    assert f"Violations {counts['violations']} Warnings {counts['warnings']}" in facts
    results = section(html, "results")
    assert results.split("<tbody>")[1].count("<tr>") == len(expected.results)
    for result in expected.results:
        assert result.message in text(results)
    assert 'href="/person/validation-fixture-nameless"' in results
    coverage = section(html, "coverage")
    data = dataset.load_graph(files)
    studies = len(set(data.subjects(RDF.type, MSC.Study)))
    assert re.search(rf'href="/shapes#StudyShape">study shape</a></td><td class="n">{studies}</td>', coverage)
    assert UNTARGETED in coverage and "A note no shape targets" in coverage
    assert NAMELESS not in text(coverage)  # PersonShape targets it
    assert "bibo:authorList" in coverage  # the author lists' RDF list cells, which no shape targets


@pytest.mark.parametrize("extension", TWINS)
def test_the_rdf_twins_hold_the_report(client, expected, extension):
    media_type, fmt = TWINS[extension]
    response = client.get(f"/validation.{extension}")
    assert response.status_code == 200
    assert response.headers["Content-Type"].split(";")[0] == media_type
    graph = Graph()
    graph.parse(data=response.get_data(as_text=True), format=fmt)
    report = next(graph.subjects(RDF.type, SH.ValidationReport))
    assert graph.value(report, SH.conforms).toPython() is expected.conforms
    assert len(list(graph.objects(report, SH.result))) == len(expected.results)
    assert {str(f) for f in graph.objects(None, SH.focusNode) if isinstance(f, URIRef)} == {
        r.focus for r in expected.results if not r.focus.startswith("_:")}


def test_the_json_twin_has_results_and_coverage(client, expected):
    document = json.loads(client.get("/validation.json").data)
    assert document["conforms"] is expected.conforms
    assert document["counts"] == expected.counts()
    assert sorted(r["message"] for r in document["results"]) == sorted(r.message for r in expected.results)
    assert {"node": UNTARGETED, "label": "A note no shape targets"} in document["coverage"]["untargeted"]
    shapes = {c["label"]: c["focus_nodes"] for c in document["coverage"]["shapes"]}
    assert shapes["person shape"] == len(set(dataset.load_graph().subjects(
        RDF.type, URIRef("https://schema.org/Person")))) + 1


@pytest.mark.parametrize(("accept", "location"), [
    ("text/turtle", "/validation.ttl"), ("application/json", "/validation.json"),
    ("text/html,*/*;q=0.8", "/validation.html"), ("application/ld+json", "/validation.jsonld"),
])
def test_validation_negotiates_and_names_its_twins(client, accept, location):
    response = client.get("/validation", headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["Content-Location"] == location
    assert response.headers["Vary"] == "Accept"
    links = response.headers["Link"]
    for extension in ("html", "ttl", "jsonld", "nt", "rdf", "json"):
        assert f"</validation.{extension}>; rel=\"alternate\"" in links
    twin = client.get(location)
    assert twin.data == response.data and "Content-Location" not in twin.headers


def test_validation_refuses_what_it_cannot_offer(client):
    assert client.get("/validation", headers={"Accept": "image/png"}).status_code == 406
    assert client.get("/validation.csv").status_code == 404


def test_forget_makes_the_next_request_compute_it_again(app, client):
    before = dataset_validation(app)
    forget(app)
    after = dataset_validation(app)
    assert after is not before
    assert client.get("/validation.json").status_code == 200  # waits for the new computation
    assert after.report is not None and after.report.results == before.report.results


def test_a_new_worker_pool_gets_its_own_report(app):
    """A reload serves new data through a new pool; the report of the old pool is not shown for it."""
    before = dataset_validation(app)
    pool = app.extensions["kg.pool"]
    app.extensions["kg.pool"] = object()  # stands in for the new pool; nothing runs on it here
    try:
        with app.app_context():
            assert dataset_validation().pool is app.extensions["kg.pool"]
    finally:
        app.extensions["kg.pool"] = pool
    assert dataset_validation(app) is not before


# ---------------------------------------------------------------- before the report is ready


@pytest.fixture(scope="module")
def failing_app():
    """An app whose dataset validation cannot finish: its time limit is below a worker's minimum run."""
    app = create_app({"WORKERS": 1, "VALIDATION_TIMEOUT": 0.001})
    yield app
    close_app(app)


def test_without_the_report_pages_say_so_and_validation_is_503(failing_app):
    client = failing_app.test_client()
    page = client.get("/study/forbes-2014", headers=HTML)
    assert page.status_code == 200
    assert "not available yet" in section(page.get_data(as_text=True), "validation")
    response = client.get("/validation", headers={"Accept": "application/json"})
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert "not available yet" in json.loads(response.data)["detail"]
    again = client.get("/study/forbes-2014", headers=HTML).get_data(as_text=True)
    assert "did not finish in time" in section(again, "validation")


@pytest.fixture(scope="module")
def slow_app():
    """An app whose dataset validation runs past its time limit and is stopped."""
    app = create_app({"WORKERS": 1, "VALIDATION_TIMEOUT": 0.2})
    yield app
    close_app(app)


def test_a_validation_that_ran_out_of_time_is_not_run_again_on_the_same_data(slow_app, monkeypatch):
    validation = dataset_validation(slow_app)
    assert validation.get(wait=30) is None
    assert "too large to validate" in validation.error
    monkeypatch.setattr(validation_page, "RETRY_AFTER", 0)
    validation.get()
    assert not validation._running and validation.report is None
