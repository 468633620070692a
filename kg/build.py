"""The published dumps: the merged graph in three formats, the dataset in N-Quads, and a VoID description.

The dumps come from oxigraph, which writes every literal as the data spells it (rdflib's Turtle writer
turns "7"^^xsd:decimal into 7.0); the VoID numbers are counted by queries over the same store.
"""

from collections import Counter
from pathlib import Path

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF, XSD

from kg import config
from kg.commit import write_atomic
from kg.namespaces import PREFIXES
from kg.store import open_store

VOID = PREFIXES["void"]
DCTERMS = PREFIXES["dcterms"]
# The dataset is named within its VoID document, which the server publishes at /.well-known/void.
DATASET = URIRef(config.BASE + ".well-known/void#dataset")
TITLE = "msc-kg: a knowledge graph of clinical research on mesenchymal stem cells"
# (file, format, merged): the server publishes the dumps at /dumps/<file> under the public base.
DUMPS = (
    ("dataset.ttl", "turtle", True),
    ("dataset.nt", "ntriples", True),
    ("dataset.jsonld", "jsonld", True),
    ("dataset.nq", "nquads", False),
)
VOID_FILE = "void.ttl"

TOTALS = """SELECT (COUNT(*) AS ?triples) (COUNT(DISTINCT ?s) AS ?subjects) (COUNT(DISTINCT ?o) AS ?objects)
    (COUNT(DISTINCT ?p) AS ?properties) WHERE { ?s ?p ?o }"""
ENTITIES = "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s ?p ?o FILTER isIRI(?s) }"
TYPED = "SELECT DISTINCT ?class ?instance WHERE { ?instance a ?class }"
PROPERTIES = "SELECT DISTINCT ?p WHERE { ?s ?p ?o }"


def build(out_dir, files=None):
    """Write the dumps and void.ttl into out_dir; each file is replaced whole or not at all."""
    out_dir = Path(out_dir)
    store = open_store("oxigraph", files=files)
    # Everything is serialized before anything is written, so a failure leaves the old build intact.
    contents = {name: store.dump(fmt, merged=merged) for name, fmt, merged in DUMPS}
    contents[VOID_FILE] = void(store).serialize(format="turtle", encoding="utf-8")
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, content in contents.items():
        write_atomic(out_dir / name, content)
    return [out_dir / name for name in contents]


def void(store):
    """A VoID description of the store's dataset, one subset per named graph; every number is counted."""
    description = Graph()
    for prefix, namespace in PREFIXES.items():
        description.bind(prefix, namespace)
    add = description.add
    add((DATASET, RDF.type, VOID.Dataset))
    add((DATASET, DCTERMS.title, Literal(TITLE, lang="en")))
    add((DATASET, VOID.uriSpace, Literal(config.BASE)))

    triples, subjects, objects, properties = (int(n) for n in store.query(TOTALS).rows[0])
    typed = store.query(TYPED).rows
    classes = {cls for cls, _ in typed}
    for predicate, value in (
        (VOID.triples, triples),
        (VOID.entities, int(store.query(ENTITIES).rows[0][0])),
        (VOID.distinctSubjects, subjects),
        (VOID.distinctObjects, objects),
        (VOID.properties, properties),
        (VOID.classes, len(classes)),
    ):
        add((DATASET, predicate, _integer(value)))
    for name, _, _ in DUMPS:
        add((DATASET, VOID.dataDump, URIRef(config.BASE + "dumps/" + name)))
    add((DATASET, VOID.sparqlEndpoint, URIRef(config.BASE + "sparql")))

    used = {row[0] for row in store.query(PROPERTIES).rows} | classes
    for vocabulary in sorted({_namespace(term) for term in used if isinstance(term, URIRef)}):
        add((DATASET, VOID.vocabulary, URIRef(vocabulary)))

    # As for the dataset, an entity has an IRI: blank-node instances are not counted.
    entities = Counter(cls for cls, instance in typed if isinstance(instance, URIRef))
    for cls in sorted(c for c in classes if isinstance(c, URIRef)):
        partition = BNode()
        add((DATASET, VOID.classPartition, partition))
        add((partition, VOID["class"], cls))
        add((partition, VOID.entities, _integer(entities[cls])))

    for graph, size in sorted(store.graph_sizes().items()):
        add((DATASET, VOID.subset, graph))
        add((graph, RDF.type, VOID.Dataset))
        add((graph, VOID.triples, _integer(size)))
    return description


def _integer(value):
    return Literal(value, datatype=XSD.integer)


def _namespace(iri):
    cut = max(iri.rfind("#"), iri.rfind("/"))
    return iri[: cut + 1]
