"""The shapes' SPARQL scales: each constraint starts from its focus node, and the rewrites that made it
so (bench/RESULTS.md, "Validation at scale") report exactly what the earlier texts reported.

pyshacl runs a SPARQL constraint once per focus node with $this bound, and rdflib orders a block of
triple patterns by their variables' names without knowing that, so a constraint can scan the whole
graph for every focus node. The check below follows rdflib's own evaluation order (the algebra it
prepares) and asks of every triple pattern that its subject, or its object variable, is already
bound when rdflib reaches it.
"""

import re
from dataclasses import asdict

import pytest
from rdflib import BNode, Literal, Variable
from rdflib.namespace import SH
from rdflib.paths import Path as RDFPath
from rdflib.plugins.sparql.parserutils import CompValue

from kg import dataset, validation
from kg.namespaces import SHAPES
from tests.test_shapes import CONTEXT_FILES, EXAMPLE_FILES, example_id, run

# Constraints allowed to read beyond their focus node, and why that stays cheap.
EXEMPT = {SHAPES.StudyTitleShape: "its target selects only the studies whose title another study has"}

# (rewritten text, text before the rewrite), whitespace collapsed: the earlier forms, kept to show
# that the rewrites changed no result.
REWRITES = [
    ("FILTER NOT EXISTS { $this msc:attribution ?attribution . "
     "FILTER EXISTS { ?attribution msc:attributedProperty ?path } "
     "FILTER EXISTS { ?attribution dcterms:source ?source } }",
     "FILTER NOT EXISTS { $this msc:attribution ?attribution . "
     "?attribution msc:attributedProperty ?path ; dcterms:source ?source . }"),
    ("{ ?other msc:registryId ?value . }", "?other msc:registryId ?value ."),
    ("{ ?outcome msc:group ?value . }", "?outcome msc:group ?value ."),
    ("SELECT DISTINCT ?this WHERE { { { SELECT ?term WHERE { ?anySubject ?term ?anyValue } GROUP BY ?term } "
     "UNION { SELECT ?term WHERE { ?anySubject ?anyPredicate ?term } GROUP BY ?term } "
     "FILTER (isIRI(?term) && STRSTARTS(STR(?term), \"https://w3id.org/msc-kg/ontology#\")) "
     "FILTER NOT EXISTS { ?term rdfs:isDefinedBy <https://w3id.org/msc-kg/ontology> } } "
     "{ ?this ?term ?anyValue } UNION { ?this ?anyPredicate ?term } }",
     "SELECT DISTINCT ?this WHERE { { ?this ?term ?anyValue } UNION { ?this ?anyPredicate ?term } "
     "FILTER (isIRI(?term) && STRSTARTS(STR(?term), \"https://w3id.org/msc-kg/ontology#\")) "
     "FILTER NOT EXISTS { ?term rdfs:isDefinedBy <https://w3id.org/msc-kg/ontology> } }"),
    ("{ ?this a owl:Class } UNION { ?this a owl:ObjectProperty } UNION { ?this a owl:DatatypeProperty } "
     "UNION { ?this a owl:NamedIndividual } UNION { ?this rdfs:isDefinedBy ?ontology }",
     "{ ?this a ?type . FILTER (?type IN (owl:Class, owl:ObjectProperty, owl:DatatypeProperty, "
     "owl:NamedIndividual)) } UNION { ?this rdfs:isDefinedBy ?ontology }"),
]


@pytest.fixture(scope="module")
def shapes():
    return validation.load_shapes()


@pytest.fixture(scope="module")
def earlier(shapes):
    """The shapes as they were before the rewrites."""
    graph = validation.load_shapes()
    used = set()
    for node, text in list(graph.subject_objects(SH.select)):
        collapsed = " ".join(str(text).split())
        for new, old in REWRITES:
            if new in collapsed:
                collapsed = collapsed.replace(new, old)
                used.add(new)
        graph.set((node, SH.select, Literal(collapsed)))
    assert used == {new for new, _ in REWRITES}, "a rewrite is no longer in the shapes: update REWRITES"
    return graph


def comparable(report):
    return sorted(tuple(re.sub(r"_:\w+", "_:", str(v)) for v in asdict(r).values()) for r in report.results)


def test_the_curated_data_gets_the_same_results_as_before(shapes, earlier):
    assert comparable(validation.validate(shapes=shapes)) == comparable(validation.validate(shapes=earlier))


@pytest.fixture(scope="module")
def context():
    return dataset.load_graph(CONTEXT_FILES)


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=example_id)
def test_every_example_gets_the_same_results_as_before(path, context, shapes, earlier):
    now, before = run(path, context, shapes), run(path, context, earlier)
    assert comparable(now) == comparable(before), f"now:\n{now.to_text()}\nbefore:\n{before.to_text()}"


def constraint_texts(shapes):
    """(node shape, query text as pyshacl runs it) for every SPARQL constraint of the shapes."""
    prologue = "".join(f"PREFIX {prefix}: <{namespace}>\n" for prefix, namespace in shapes.namespaces())
    for constraint in shapes.objects(None, SH.sparql):
        holder = next(shapes.subjects(SH.sparql, constraint))
        owner = next(shapes.subjects(SH.property, holder), holder)
        # pyshacl puts the property shape's path in place of $PATH; any IRI shows the plan.
        text = str(shapes.value(constraint, SH.select)).replace("$PATH", "<https://example.org/path>")
        yield owner, prologue + text


def scans(text):
    """The triple patterns of a query that rdflib evaluates with neither their subject nor their
    object variable bound, $this being bound from the start."""
    found = []

    def bound_term(term, bound):
        return not isinstance(term, (Variable, BNode)) or term in bound

    def expression(expr, bound):
        if isinstance(expr, CompValue):
            if expr.name in ("Builtin_EXISTS", "Builtin_NOTEXISTS"):
                pattern(expr.graph, set(bound))
                return
            for value in expr.values():
                expression(value, bound)
        elif isinstance(expr, list):
            for value in expr:
                expression(value, bound)

    def pattern(node, bound):
        """Check node with the variables in bound; return the variables bound after it."""
        if not isinstance(node, CompValue):
            return bound
        name = node.name
        if name == "BGP":
            for triple in node.triples:
                subject, _, obj = triple
                if not bound_term(subject, bound) and not (isinstance(obj, Variable) and obj in bound):
                    found.append(triple)
                bound = bound | {t for t in triple if isinstance(t, (Variable, BNode))}
            return bound
        if name in ("Join", "LeftJoin"):
            left = pattern(node.p1, bound)
            right = pattern(node.p2, left if node.get("lazy", name == "LeftJoin") else bound)
            if name == "LeftJoin" and node.get("expr") is not None:
                expression(node.expr, right)
            return left | right
        if name == "Union":
            return pattern(node.p1, bound) & pattern(node.p2, bound)
        if name == "Minus":
            pattern(node.p2, bound)
            return pattern(node.p1, bound)
        if name == "Filter":
            inner = pattern(node.p, bound)
            expression(node.expr, inner)
            return inner
        if name == "Extend":
            return pattern(node.p, bound) | {node.var}
        return pattern(node.get("p"), bound)

    pattern(validation._prepared(text).algebra, {Variable("this")})
    return [" ".join(t.n3() if not isinstance(t, RDFPath) else str(t) for t in triple) for triple in found]


def test_every_sparql_constraint_starts_from_its_focus_node(shapes):
    checked = 0
    for owner, text in constraint_texts(shapes):
        if owner in EXEMPT:
            continue
        checked += 1
        assert not scans(text), f"{owner}: these patterns read the whole graph for each focus node:\n{text}"
    assert checked > 20


def test_the_check_finds_the_scans_the_rewrites_removed(earlier):
    flagged = {owner for owner, text in constraint_texts(earlier) if owner not in EXEMPT and scans(text)}
    assert flagged == {SHAPES.StudyShape, SHAPES.PublicationShape}


def test_the_examples_cover_the_rewritten_constraints():
    """Each rewritten constraint has an invalid example that its results depend on."""
    expected = {
        "PublicationShape": ["invalid-unattributed-property", "invalid-volume-attributed-on-the-study"],
        "StudyShape": ["invalid-unattributed-registry-id", "invalid-shared-registry-id",
                       "invalid-registry-id-attributed-on-the-publication",
                       "invalid-outcome-group-of-another-study"],
        "DefinedTermShape": ["invalid-misspelt-class", "invalid-misspelt-property", "invalid-misspelt-value"],
        "OntologyTermShape": ["invalid-undeclared", "invalid-not-owned"],
    }
    present = {example_id(p) for p in EXAMPLE_FILES}
    missing = [f"{shape}/{name}" for shape, names in expected.items() for name in names
               if f"{shape}/{name}" not in present]
    assert not missing, missing
