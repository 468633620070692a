"""What the linked-data pages need from the store, run inside the query workers like any query.

A resource's description is its outgoing triples, the blank nodes they lead to (attribution notes,
RDF lists), and the labels of everything it links to; incoming links are listed separately. Every
value from a request reaches a query as a bound variable, never as text.
"""

from dataclasses import dataclass

from rdflib import URIRef
from rdflib.namespace import RDFS, SKOS

from kg import sparql
from kg.build import void
from kg.store import GRAPH, Result
from kg.terms import values_block

# Which property names a thing, in order of preference.
LABEL_PROPERTIES = (SKOS.prefLabel, URIRef("http://purl.org/dc/terms/title"),
                    URIRef("https://schema.org/name"), RDFS.label)
LABEL_IN = ", ".join(f"<{p}>" for p in LABEL_PROPERTIES)
MAX_INCOMING = 500

OUTGOING = """SELECT ?s ?x ?p ?o WHERE {
  { ?s ?p ?o }
  UNION
  { ?s ?q ?b . FILTER(isBlank(?b)) ?b rdf:rest* ?x . ?x ?p ?o }
}"""
# The label lookup sits in each branch, as a FILTER IN: with one VALUES ?property after the union,
# oxigraph joined the union with every label of the dataset (19 ms a page at seed size, growing with
# the data; 0.5 ms this way).
LABELS = f"""SELECT DISTINCT ?s ?x ?property ?label WHERE {{
  {{ ?s ?p ?x . FILTER(isIRI(?x)) ?x ?property ?label . FILTER(?property IN ({LABEL_IN})) }}
  UNION
  {{ ?s ?q ?b . FILTER(isBlank(?b)) ?b rdf:rest*/!rdf:type ?x . FILTER(isIRI(?x))
     ?x ?property ?label . FILTER(?property IN ({LABEL_IN})) }}
}}"""
INCOMING = f"SELECT ?s ?x ?p WHERE {{ ?x ?p ?s . FILTER(!isBlank(?x)) }} LIMIT {MAX_INCOMING}"


@dataclass(frozen=True)
class View:
    """A SELECT a page runs, with values bound to its variables (which the SELECT must project)."""

    query: str
    bindings: tuple = ()
    limit: int | None = None


@dataclass(frozen=True)
class Describe:
    iri: str


@dataclass(frozen=True)
class Dump:
    format: str  # a kg.formats name
    merged: bool = True  # one graph, or (in N-Quads and TriG) a graph per source file


@dataclass(frozen=True)
class Void:
    pass


@dataclass(frozen=True)
class Description:
    """The RDF of a resource (its description plus labels) and the statements that point at it."""

    triples: tuple
    incoming: tuple  # (subject, predicate) pairs

    @property
    def exists(self):
        return bool(self.triples or self.incoming)

    def graph(self):
        return sparql.graph(Result(GRAPH, triples=self.triples))


def incoming_labels(values):
    """The labels of the incoming links kept (at most MAX_INCOMING), not of every subject that points
    at the resource: for an indication of a 10k-study library that was 10,000 titles a page."""
    return (f"SELECT ?x ?property ?label WHERE {{ {values} ?x ?property ?label . "
            f"FILTER(?property IN ({LABEL_IN})) }}")


def describe(store, iri):
    subject = {"s": URIRef(iri)}
    # ?x is unbound for the resource's own triples, the blank node otherwise.
    triples = [(URIRef(iri) if x is None else x, p, o)
               for _, x, p, o in store.query(OUTGOING, bindings=subject).rows]
    labels = [(x, p, label) for _, x, p, label in store.query(LABELS, bindings=subject).rows]
    incoming = tuple(sorted((x, p) for _, x, p in store.query(INCOMING, bindings=subject).rows))
    # The subjects come from the store's answer above, so they may be written into the query.
    values = values_block("x", dict.fromkeys(x for x, _ in incoming))
    if values is not None:
        labels += store.query(incoming_labels(values)).rows
    return Description(tuple(dict.fromkeys(triples + labels)), incoming)


def run(store, job):
    """The answer to one of this module's jobs."""
    if isinstance(job, View):
        return store.query(job.query, bindings=dict(job.bindings), limit=job.limit)
    if isinstance(job, Describe):
        return describe(store, job.iri)
    if isinstance(job, Dump):
        return store.dump(job.format, merged=job.merged)
    if isinstance(job, Void):
        return void(store).serialize(format="turtle")
    raise TypeError(f"not a describe job: {job!r}")
