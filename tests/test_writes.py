"""Curators' writes over real HTTP, on a copy of the data in a temporary directory: the token, the SHACL
gate (422, nothing changed on disk), durability across a restart, the PROV record, concurrent
writers, the refusal of LOAD and SERVICE, and the commit journal after a crash."""

import json
import os
import shutil
import socket
import threading
from pathlib import Path
from urllib.parse import quote

import pytest
from rdflib import Dataset, Graph, Namespace, URIRef

from kg import commit, writer, writes
from kg.web.app import close_app, create_app
from tests.live import ROOT, request, running_server

TOKENS = "alice:alice-token-0123456789,bob:bob-token-0123456789"
ALICE = {"Authorization": "Bearer alice-token-0123456789"}
SH = Namespace("http://www.w3.org/ns/shacl#")
STUDY = "https://w3id.org/msc-kg/study/forbes-2014"
TITLE = f"ASK {{ <{STUDY}> dcterms:title ?t }}"


def copy_data(folder):
    """ontology/ and data/ copied into folder; the files to serve."""
    for name in ("ontology", "data"):
        shutil.copytree(ROOT / name, folder / name)
    return sorted(folder.rglob("*.ttl"))


def snapshot(folder):
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")}


def update(server, text, headers=ALICE, accept="application/json"):
    headers = {**headers, "Content-Type": "application/sparql-update", "Accept": accept}
    return request(server, "POST", "/sparql", text.encode("utf-8"), headers)


def ask(server, query):
    headers = {"Content-Type": "application/sparql-query", "Accept": "application/sparql-results+json"}
    status, _, body = request(server, "POST", "/sparql", query.encode("utf-8"), headers)
    assert status == 200, body
    return json.loads(body)["boolean"]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("writes")
    files = copy_data(folder)
    with running_server("--data", *files, "--workers", "1", "--write-token", TOKENS) as server:
        yield server, folder


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Bearer "},
                                     {"Authorization": "Basic YWxpY2UtdG9rZW4tMDEyMzQ1Njc4OQ=="}])
def test_a_write_without_a_good_token_gets_401_and_changes_nothing(served, headers):
    server, folder = served
    before = snapshot(folder)
    text = "INSERT DATA { <http://example.org/s> <http://example.org/p> 1 }"
    status, got, body = update(server, text, headers)
    assert status == 401, body
    assert got["www-authenticate"].startswith("Bearer")
    assert snapshot(folder) == before
    assert not ask(server, "ASK { <http://example.org/s> ?p ?o }")


def test_a_read_only_server_refuses_writes_with_403(tmp_path):
    files = copy_data(tmp_path)
    with running_server("--data", *files, "--workers", "1") as server:
        status, _, body = update(server, "INSERT DATA { <http://example.org/s> <http://example.org/p> 1 }")
        assert status == 403 and b"read-only" in body
        status, _, _ = request(server, "PUT", "/graph-store?graph=http://example.org/g", b"<a:b> <a:c> 1 .",
                               {**ALICE, "Content-Type": "text/turtle"})
        assert status == 403
        status, _, body = request(server, "GET", "/sparql", headers={"Accept": "text/turtle"})
        assert status == 200 and b"SPARQL11Update" not in body
    assert not (tmp_path / "data" / "writes.trig").exists()


@pytest.mark.parametrize("accept", ["application/problem+json", "text/turtle", "text/plain", "text/html"])
def test_a_write_the_shapes_refuse_gets_422_with_the_report_and_nothing_changes(served, accept):
    server, folder = served
    before = snapshot(folder)
    status, headers, body = update(server, f"DELETE WHERE {{ <{STUDY}> dcterms:title ?t }}", accept=accept)
    assert status == 422, body
    assert headers["content-type"].startswith(accept)
    if accept == "application/problem+json":
        report = json.loads(body)["report"]
        assert report["conforms"] is False
        assert any(r["focus"] == STUDY and r["severity"] == "Violation" for r in report["results"])
    elif accept == "text/turtle":
        graph = Graph().parse(data=body.decode("utf-8"), format="turtle")
        assert (None, SH.focusNode, URIRef(STUDY)) in graph
    else:
        assert b"dcterms:title" in body
    assert snapshot(folder) == before
    assert ask(server, TITLE)


def test_a_committed_write_is_in_its_file_served_and_recorded_with_who_and_when(served):
    server, folder = served
    label = "Forbes et al., 2014 (written by a test)"
    graph = "https://w3id.org/msc-kg/graph/forbes-2014"
    text = f'INSERT DATA {{ GRAPH <{graph}> {{ <{STUDY}> skos:altLabel "{label}" }} }}'
    status, _, body = update(server, text)
    assert status == 200, body
    answer = json.loads(body)
    assert answer["committed"] and answer["served"] and answer["graphs"] == [graph]
    assert label in (folder / "data" / "studies" / "forbes-2014.ttl").read_text(encoding="utf-8")
    assert ask(server, f'ASK {{ GRAPH <{graph}> {{ <{STUDY}> skos:altLabel "{label}" }} }}')
    assert ask(server, f"""ASK {{ GRAPH <https://w3id.org/msc-kg/graph/provenance> {{
        <{answer['activity']}> a prov:Activity ;
            prov:wasAssociatedWith <https://w3id.org/msc-kg/curator/alice> ;
            prov:startedAtTime ?start ; prov:endedAtTime ?end ;
            prov:generated/prov:specializationOf <{graph}> .
        FILTER(?start <= ?end) }} }}""")


def test_delete_data_without_graph_removes_the_triple_from_every_file_that_states_it(served):
    """The default graph is the union, for writing as for reading (decision 0009)."""
    server, folder = served
    triple = f'<{STUDY}> skos:altLabel "to be deleted"'
    graph = "https://w3id.org/msc-kg/graph/forbes-2014"
    text = f"INSERT DATA {{ GRAPH <{graph}> {{ {triple} }} GRAPH <http://example.org/g> {{ {triple} }} }}"
    assert update(server, text)[0] == 200
    study, writes = folder / "data" / "studies" / "forbes-2014.ttl", folder / "data" / "writes.trig"
    assert "to be deleted" in study.read_text(encoding="utf-8")
    assert "to be deleted" in writes.read_text(encoding="utf-8")
    status, _, body = update(server, f"DELETE DATA {{ {triple} }}")
    assert status == 200, body
    assert "to be deleted" not in study.read_text(encoding="utf-8")
    assert "to be deleted" not in writes.read_text(encoding="utf-8")
    assert not ask(server, f"ASK {{ {triple} }}")


@pytest.mark.parametrize("text", [
    "LOAD <http://127.0.0.1:{port}/data.ttl>",
    "INSERT { ?s ?p ?o } WHERE { SERVICE <http://127.0.0.1:{port}/sparql> { ?s ?p ?o } }",
])
def test_load_and_service_are_refused_and_fetch_nothing(served, text):
    server, folder = served
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(0.5)
        status, _, body = update(server, text.replace("{port}", str(listener.getsockname()[1])))
        assert status == 400 and b"refused" in body
        with pytest.raises(TimeoutError):
            listener.accept()


def test_concurrent_writers_lose_nothing(served):
    server, _ = served
    results = []

    def insert(n):
        text = f"INSERT DATA {{ <http://example.org/writer/{n}> <http://example.org/p> {n} }}"
        results.append(update(server, text, ALICE)[0])

    threads = [threading.Thread(target=insert, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert results == [200] * 8
    query = "SELECT (COUNT(*) AS ?n) WHERE { ?s <http://example.org/p> ?o }"
    status, _, body = request(server, "GET", "/sparql?query=" + quote(query),
                              headers={"Accept": "application/sparql-results+json"})
    assert json.loads(body)["results"]["bindings"][0]["n"]["value"] == "8"


def test_a_committed_write_survives_a_restart(tmp_path):
    files = copy_data(tmp_path)
    triple = "<http://example.org/durable> <http://example.org/p> 1"
    with running_server("--data", *files, "--workers", "1", "--write-token", TOKENS) as server:
        assert update(server, f"INSERT DATA {{ {triple} }}")[0] == 200
    with running_server("--data", *files, "--workers", "1") as server:
        assert ask(server, f"ASK {{ {triple} }}")
        assert ask(server, "ASK { GRAPH <https://w3id.org/msc-kg/graph/provenance> { ?a a prov:Activity } }")


def crash_during(monkeypatch, renames_before_crash):
    """Make os.replace fail after some renames: a crash in the middle of a commit."""
    real, done = os.replace, []

    def replace(source, target):
        if len(done) == renames_before_crash:
            raise OSError("simulated crash")
        done.append(target)
        real(source, target)

    monkeypatch.setattr(os, "replace", replace)


def test_a_commit_cut_short_after_its_journal_is_finished_at_start_up(tmp_path, monkeypatch):
    files = copy_data(tmp_path)
    first, second = files[-1], files[-2]
    new = {first: first.read_bytes() + b"\n# first\n", second: second.read_bytes() + b"\n# second\n"}
    crash_during(monkeypatch, 2)  # the journal is in place and one file is renamed; then the crash
    with pytest.raises(OSError):
        commit.commit(new, tmp_path / "data" / ".msc-kg-commit.journal")
    monkeypatch.undo()
    assert (tmp_path / "data" / ".msc-kg-commit.journal").exists()
    app = create_app({"DATA_FILES": [str(f) for f in files], "WORKERS": 1})
    close_app(app)
    assert {p: p.read_bytes() for p in new} == new
    assert not list(tmp_path.rglob(commit.STAGED + "*"))
    assert not (tmp_path / "data" / ".msc-kg-commit.journal").exists()


def test_a_commit_cut_short_before_its_journal_changes_nothing(tmp_path, monkeypatch):
    files = copy_data(tmp_path)
    old = {p: p.read_bytes() for p in files}
    crash_during(monkeypatch, 0)  # the journal's own rename fails: the commit never happened
    with pytest.raises(OSError):
        commit.commit({files[0]: b"garbage"}, tmp_path / "data" / ".msc-kg-commit.journal")
    monkeypatch.undo()
    writer.recover({"DATA_FILES": [str(f) for f in files]})
    assert {p: p.read_bytes() for p in files} == old
    assert not list(tmp_path.rglob(commit.STAGED + "*"))


def test_the_service_description_says_updates_are_supported_only_with_writes(served):
    server, _ = served
    status, _, body = request(server, "GET", "/sparql", headers={"Accept": "text/turtle"})
    assert status == 200
    assert b"SPARQL11Update" in body


def test_no_test_wrote_into_the_repository():
    assert not (ROOT / "data" / "writes.trig").exists()
    assert not (ROOT / "data" / "provenance.ttl").exists()
    assert not list(Path(ROOT / "data").glob(".msc-kg-*"))


EX = "PREFIX ex: <http://example.org/>\n"
INTEGER = "<http://www.w3.org/2001/XMLSchema#integer>"
A1 = f'<http://example.org/a> <http://example.org/p> "1"^^{INTEGER}'
B2 = f'<http://example.org/b> <http://example.org/p> "2"^^{INTEGER}'
G, H = "http://example.org/g", "http://example.org/h"


@pytest.fixture(scope="module")
def shapes():
    return writes.open_writer(None)


def graphs_after(shapes, folder, text):
    """{graph: set of N-Triples lines} of the dataset after the update, applied to folder's files."""
    data = folder / "g.trig"
    job = writes.Write(operation=writes.UPDATE, update=text, files=(str(data),),
                       writes_file=str(folder / "w.trig"), base="https://w3id.org/msc-kg/")
    outcome = writes.handle(shapes, job)
    assert outcome.status == 200, outcome.message
    quads = Dataset()
    for content in {str(data.resolve()): data.read_bytes(), **outcome.changes}.values():
        quads.parse(data=content.decode("utf-8"), format="trig")
    return {str(g.identifier): {" ".join(t.n3() for t in triple) for triple in g}
            for g in quads.graphs() if len(g)}


@pytest.mark.parametrize(("text", "expected"), [
    # A triple deleted from the default graph goes from every graph, even one written just before.
    (EX + "INSERT DATA { GRAPH ex:h { ex:a ex:p 1 } } ; DELETE WHERE { ex:a ex:p ?o }", {G: {B2}}),
    # Moved from the default graph into a named one in one operation: kept there.
    (EX + "DELETE { ?s ex:p 2 } INSERT { GRAPH ex:h { ?s ex:p 2 } } WHERE { ?s ex:p 2 }", {G: {A1}, H: {B2}}),
    # Deleted from its only graph: gone from the union too, not kept in the writes graph.
    (EX + "DELETE DATA { GRAPH ex:g { ex:a ex:p 1 } }", {G: {B2}}),
    # Prefixes carry over ';', and a ';' inside a string or a comment splits nothing.
    (EX + 'INSERT DATA { GRAPH ex:g { ex:c ex:q "x;y" } } # ; not here\n'
          '; DELETE DATA { GRAPH ex:g { ex:a ex:p 1 } }',
     {G: {B2, '<http://example.org/c> <http://example.org/q> "x;y"'}}),
])
def test_updates_treat_the_default_graph_as_the_union(tmp_path, shapes, text, expected):
    data = "<http://example.org/g> { <http://example.org/a> <http://example.org/p> 1 . " \
           "<http://example.org/b> <http://example.org/p> 2 . }\n"
    (tmp_path / "g.trig").write_text(data, encoding="utf-8")
    assert graphs_after(shapes, tmp_path, text) == expected


@pytest.mark.parametrize("verb", ["MOVE", "ADD", "COPY"])
def test_writes_into_default_whose_meaning_is_unclear_are_refused(tmp_path, shapes, verb):
    job = writes.Write(operation=writes.UPDATE, update=f"{verb} <http://example.org/g> TO DEFAULT",
                       files=(), writes_file=str(tmp_path / "w.trig"), base="https://w3id.org/msc-kg/")
    outcome = writes.handle(shapes, job)
    assert outcome.status == 400 and "DEFAULT" in outcome.message
    assert not outcome.changes
