"""The SHACL shapes: the curated data passes them, and every shape's examples pass or fail as stated.

Each node shape has a directory shapes/examples/<ShapeLocalName>/ with a valid.ttl and one or
more invalid-*.ttl. The first line of each file states what it expects:

    # expect: conforms
    # expect: <Violation|Warning> mscsh:<ShapeLocalName> [<result path>]

An example is validated together with ontology/msc.ttl and data/vocabulary.ttl, so that the
terms and concepts it refers to exist. A valid example has no violation at all and no result
from its own shape. An invalid example has a result of the stated severity (and path) from its
own shape, a property shape counting for the node shape that holds it; it has no violation from
any other shape, and a warning example no violation at all.
"""

import re

import pytest
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS, SH

from kg import config, dataset, validation
from kg.namespaces import SHAPES

EXAMPLES = config.SHAPES_DIR / "examples"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*/*.ttl"))
CONTEXT_FILES = [config.ONTOLOGY_DIR / "msc.ttl", config.DATA_DIR / "vocabulary.ttl"]
EXPECT = re.compile(
    r"# expect: (?:conforms|(?P<severity>Violation|Warning|Info) mscsh:(?P<shape>\w+)(?: (?P<path>\S+))?)"
)


@pytest.fixture(scope="module")
def shapes():
    return validation.load_shapes()


@pytest.fixture(scope="module")
def context():
    return dataset.load_graph(CONTEXT_FILES)


def example_id(path):
    return f"{path.parent.name}/{path.stem}"


def expectation(path):
    first = path.read_text(encoding="utf-8").splitlines()[0]
    match = EXPECT.fullmatch(first)
    assert match, f"{example_id(path)}: first line must be '# expect: ...', not {first!r}"
    return match["severity"], match["shape"], match["path"]


def run(path, context, shapes):
    data = Graph()
    data += context
    dataset.parse_file(path, data)
    return validation.validate_graph(data, shapes)


def node_shape_of(shapes, shape):
    """The named node shape a result's sh:sourceShape belongs to (a nested property shape's parent)."""
    while isinstance(shape, BNode):
        parents = list(shapes.subjects(SH.property, shape))
        assert len(parents) == 1, f"property shape {shape} has {len(parents)} parents"
        shape = parents[0]
    return shape


def node_shapes(shapes):
    return sorted(s for s in shapes.subjects(RDF.type, SH.NodeShape) if isinstance(s, URIRef))


def test_the_curated_data_conforms():
    report = validation.validate()
    assert report.conforms, report.to_text()
    assert {r.severity for r in report.results} <= {"Warning"}


def test_every_node_shape_has_a_valid_and_an_invalid_example(shapes):
    named = {str(s)[len(str(SHAPES)):] for s in node_shapes(shapes)}
    assert named, "no node shapes found in shapes/*.ttl"
    for name in sorted(named):
        files = [p.name for p in (EXAMPLES / name).glob("*.ttl")]
        assert "valid.ttl" in files, f"shapes/examples/{name}/valid.ttl is missing"
        assert any(f.startswith("invalid-") for f in files), f"shapes/examples/{name} has no invalid-*.ttl"
    directories = {p.name for p in EXAMPLES.iterdir() if p.is_dir()}
    assert directories <= named, f"examples for shapes that do not exist: {sorted(directories - named)}"


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=example_id)
def test_example_states_what_it_expects(path):
    severity, shape, _ = expectation(path)
    assert path.name == "valid.ttl" or path.name.startswith("invalid-"), path.name
    if path.name == "valid.ttl":
        assert severity is None, f"{example_id(path)}: a valid example expects '# expect: conforms'"
    else:
        assert severity in ("Violation", "Warning"), f"{example_id(path)}: say which severity it fails with"
        assert shape == path.parent.name, f"{example_id(path)}: expects {shape}, is under {path.parent.name}"


@pytest.mark.parametrize("path", [p for p in EXAMPLE_FILES if p.name == "valid.ttl"], ids=example_id)
def test_valid_example_passes(path, context, shapes):
    report = run(path, context, shapes)
    own = str(SHAPES[path.parent.name])
    assert report.conforms, report.to_text()
    assert not [r for r in report.results if r.shape == own], report.to_text()


@pytest.mark.parametrize("path", [p for p in EXAMPLE_FILES if p.name.startswith("invalid-")], ids=example_id)
def test_invalid_example_fails_its_own_shape(path, context, shapes):
    severity, name, expected_path = expectation(path)
    report = run(path, context, shapes)
    own = str(SHAPES[name])
    hits = [r for r in report.results if r.shape == own and r.severity == severity]
    if expected_path:
        hits = [r for r in hits if r.path == expected_path]
    assert hits, f"expected a {severity} from mscsh:{name} at {expected_path}:\n{report.to_text()}"
    others = [r for r in report.violations if r.shape != own]
    assert not others, f"violations from other shapes:\n{report.to_text()}"
    if severity == "Warning":
        assert report.conforms, f"a warning example must have no violation:\n{report.to_text()}"
    # The report's shapes agree with the SHACL results graph, read here independently.
    graph = report.results_graph
    from_graph = {
        (str(node_shape_of(shapes, graph.value(r, SH.sourceShape))), graph.value(r, SH.resultSeverity))
        for r in graph.subjects(RDF.type, SH.ValidationResult)
    }
    from_graph = {(shape, validation.SEVERITIES[severity]) for shape, severity in from_graph}
    assert from_graph == {(r.shape, r.severity) for r in report.results}


def test_every_shape_is_labelled_and_every_constraint_speaks_to_the_curator(shapes):
    property_shapes = {o for s in node_shapes(shapes) for o in shapes.objects(s, SH.property)}
    assert property_shapes
    for shape in node_shapes(shapes) + sorted(property_shapes):
        for predicate in (RDFS.label, RDFS.comment):
            assert isinstance(shapes.value(shape, predicate), Literal), f"{shape} has no {predicate}"
    for shape in property_shapes:
        has_sparql = (shape, SH.sparql, None) in shapes
        has_message = (shape, SH.message, None) in shapes
        # A property shape either has core constraints and a message, or SPARQL constraints with their own.
        assert has_sparql != has_message, f"property shape {shape} ({shapes.value(shape, RDFS.label)})"
        assert (shape, SH.severity, None) in shapes, f"property shape {shape} states no severity"
    for constraint in shapes.objects(None, SH.sparql):
        for predicate in (SH.message, SH.prefixes, SH.select):
            assert shapes.value(constraint, predicate) is not None, f"{constraint}: no {predicate}"
    for shape in node_shapes(shapes):
        core = [p for p in (SH.pattern, SH.nodeKind, SH["class"], SH.datatype) if (shape, p, None) in shapes]
        if core:
            assert shapes.value(shape, SH.message) is not None, f"{shape} has node constraints but no message"
            assert (shape, SH.sparql, None) not in shapes, f"{shape}: its message would repeat on SPARQL ones"


def test_the_shapes_graphs_are_named_and_labelled(shapes):
    graph = URIRef(config.SHAPES_IRI)
    assert isinstance(shapes.value(graph, RDFS.label), Literal)
    declared = {str(p) for p in shapes.objects(None, SH.prefix)}
    assert {"msc", "dcterms", "qudt", "unit", "bibo", "schema"} <= declared
