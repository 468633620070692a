"""Which nodes the shapes reach: how many focus nodes each shape's targets select in the data, and
which subjects of the data no shape targets (a node no shape targets is checked only where a shape
of a node pointing to it looks inside it).

Targets are found by pyshacl itself (class, node, subjects-of, objects-of and SPARQL targets), so
the counts are the focus nodes a validation starts from.
"""

from dataclasses import dataclass

from pyshacl.shapes_graph import ShapesGraph
from rdflib import BNode, Graph
from rdflib.namespace import RDFS, SH

from kg.report_text import curie, node_id
from kg.validation import node_label

TARGETS = (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf, SH.target)


@dataclass(frozen=True)
class ShapeCoverage:
    shape: str  # the shape's IRI (or "_:id")
    label: str
    focus_nodes: int


@dataclass(frozen=True)
class Coverage:
    shapes: tuple  # ShapeCoverage of every shape with a target, in label order
    untargeted: tuple  # (IRI, label) of each IRI subject no shape targets
    # The blank subjects no shape targets, by the property that holds them: (property, nodes, holders).
    untargeted_blank: tuple
    subjects: int  # how many distinct subjects the data has


def coverage(data_graph, shapes_graph):
    """The Coverage of data_graph (one rdflib Graph, the union) by the shapes of shapes_graph."""
    copy = Graph()
    copy += shapes_graph  # pyshacl adds a few triples of its own to the shapes graph it reads
    shapes_of = ShapesGraph(copy)
    found = []
    targeted = set()
    for shape in shapes_of.shapes:
        declared = any(copy.value(shape.node, p) is not None for p in TARGETS)
        if not declared and not shape.implicit_class_targets():
            continue
        shape.set_advanced(True)  # SPARQL targets, as the validation reads them
        nodes = shape.focus_nodes(data_graph)
        targeted |= nodes
        label = next((str(v) for v in copy.objects(shape.node, RDFS.label)), None) or curie(shape.node)
        found.append(ShapeCoverage(node_id(shape.node), label, len(nodes)))
    subjects = set(data_graph.subjects())
    left = subjects - targeted
    blank = {}
    for node in (n for n in left if isinstance(n, BNode)):
        owner, predicate = holder(data_graph, node) or (None, None)
        nodes, owners = blank.setdefault(curie(predicate) if predicate else "(nothing)", (set(), set()))
        nodes.add(node)
        owners.add(owner)
    iris = sorted(n for n in left if not isinstance(n, BNode))
    return Coverage(
        shapes=tuple(sorted(found, key=lambda c: c.label.lower())),
        untargeted=tuple((str(n), node_label(data_graph, n)) for n in iris),
        untargeted_blank=tuple((name, len(nodes), len(owners - {None}))
                               for name, (nodes, owners) in sorted(blank.items())),
        subjects=len(subjects),
    )


def holder(graph, node):
    """(IRI, property) through which an IRI holds a blank node, directly or through other blank
    nodes (an RDF list's cells, say); None when no IRI does."""
    seen = {node}
    frontier = [node]
    while frontier:
        current = frontier.pop(0)
        for subject, predicate in sorted(graph.subject_predicates(current)):
            if not isinstance(subject, BNode):
                return subject, predicate
            if subject not in seen:
                seen.add(subject)
                frontier.append(subject)
    return None
