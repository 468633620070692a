"""kg.build: the dumps read back to the dataset, VoID counts what is there, every write is atomic."""

import json
import os

import pytest
from rdflib import RDF, Dataset, Graph, Literal, URIRef
from rdflib.compare import isomorphic

from kg import commit as commit_module
from kg import config
from kg.build import DATASET, build
from kg.commit import write_atomic
from kg.dataset import default_files, graph_name, load_graph, parse_file
from kg.errors import DataParseError
from kg.namespaces import MSC, PREFIXES

VOID = PREFIXES["void"]
DCTERMS = PREFIXES["dcterms"]
NAMES = ["dataset.jsonld", "dataset.nq", "dataset.nt", "dataset.ttl", "void.ttl"]


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    directory = tmp_path_factory.mktemp("build")
    written = build(directory)
    assert sorted(p.name for p in written) == NAMES
    return directory


@pytest.fixture(scope="module")
def void(out):
    return Graph().parse(out / "void.ttl", format="turtle")


def count(graph, predicate, subject=DATASET):
    value = graph.value(subject, predicate)
    assert isinstance(value, Literal), f"no {predicate} on {subject}"
    return value.toPython()


def test_exactly_the_five_files_and_no_temporary_ones(out):
    assert sorted(os.listdir(out)) == NAMES


@pytest.mark.parametrize("name", ["dataset.ttl", "dataset.nt", "dataset.jsonld"])
def test_merged_dumps_read_back_to_the_data(out, name):
    # Read as the project reads its data, literals as written ("PT0S" stays "PT0S").
    assert isomorphic(parse_file(out / name), load_graph())


def test_nquads_has_one_graph_per_source_file(out):
    data = Dataset()
    data.parse(out / "dataset.nq", format="nquads")
    sizes = {g.identifier: len(g) for g in data.graphs() if len(g)}
    assert sizes == {graph_name(path): len(parse_file(path)) for path in default_files()}


def test_jsonld_is_json(out):
    assert isinstance(json.loads((out / "dataset.jsonld").read_text(encoding="utf-8")), (list, dict))


def test_void_counts_the_dataset(out, void):
    merged = Graph().parse(out / "dataset.ttl", format="turtle")
    subjects = set(merged.subjects())
    classes = set(merged.objects(None, RDF.type))
    assert count(void, VOID.triples) == len(merged)
    assert count(void, VOID.entities) == len({s for s in subjects if isinstance(s, URIRef)})
    assert count(void, VOID.distinctSubjects) == len(subjects)
    assert count(void, VOID.distinctObjects) == len(set(merged.objects()))
    assert count(void, VOID.properties) == len(set(merged.predicates()))
    assert count(void, VOID.classes) == len(classes)
    assert void.value(DATASET, DCTERMS.title) is not None
    assert void.value(DATASET, VOID.uriSpace) == Literal(config.BASE)
    assert void.value(DATASET, VOID.sparqlEndpoint) == URIRef(config.BASE + "sparql")


def test_void_class_partitions(void):
    load = load_graph()
    partitions = {void.value(p, VOID["class"]): count(void, VOID.entities, p)
                  for p in void.objects(DATASET, VOID.classPartition)}
    assert set(partitions) == set(load.objects(None, RDF.type))
    studies = {s for s in load.subjects(RDF.type, MSC.Study) if isinstance(s, URIRef)}
    assert partitions[MSC.Study] == len(studies) > 0


def test_void_subsets_are_the_named_graphs(void):
    subsets = {s: count(void, VOID.triples, s) for s in void.objects(DATASET, VOID.subset)}
    assert subsets == {graph_name(path): len(parse_file(path)) for path in default_files()}
    assert all((s, RDF.type, VOID.Dataset) in void for s in subsets)


def test_void_links_the_dumps_and_the_vocabularies(void):
    dumps = {str(d) for d in void.objects(DATASET, VOID.dataDump)}
    assert dumps == {config.BASE + "dumps/" + name for name in NAMES if name.startswith("dataset.")}
    vocabularies = {str(v) for v in void.objects(DATASET, VOID.vocabulary)}
    assert {str(PREFIXES["msc"]), str(DCTERMS), str(PREFIXES["skos"])} <= vocabularies
    used = set(load_graph().predicates())
    assert all(any(str(term).startswith(v) for term in used) or v.endswith("#") for v in vocabularies)


def test_write_atomic_leaves_the_old_file_when_the_rename_fails(tmp_path, monkeypatch):
    target = tmp_path / "dataset.ttl"
    target.write_text("old", encoding="utf-8")

    def fail(*_):
        raise OSError("disk full")

    monkeypatch.setattr(commit_module.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, "new")
    assert target.read_text(encoding="utf-8") == "old"
    assert os.listdir(tmp_path) == ["dataset.ttl"]


def test_write_atomic_replaces_and_is_readable(tmp_path):
    target = tmp_path / "void.ttl"
    write_atomic(target, "ünïcode\n")
    assert target.read_text(encoding="utf-8") == "ünïcode\n"
    assert target.stat().st_mode & 0o777 == 0o644


def test_a_parse_error_writes_nothing(tmp_path, turtle):
    out = tmp_path / "out"
    out.mkdir()
    (out / "dataset.ttl").write_text("previous build", encoding="utf-8")
    broken = turtle("broken.ttl", "<http://example.org/a> <http://example.org/p> .\n")
    with pytest.raises(DataParseError):
        build(out, files=[default_files()[0], broken])
    assert os.listdir(out) == ["dataset.ttl"]
    assert (out / "dataset.ttl").read_text(encoding="utf-8") == "previous build"
