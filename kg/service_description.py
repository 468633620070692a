"""The SPARQL 1.1 Service Description of the running endpoint, generated from its configuration."""

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, RDF, RDFS, VOID, XSD

from kg import formats

SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
W3C_FORMATS = Namespace("http://www.w3.org/ns/formats/")
# Terms for limits the sd: vocabulary has no words for; documented in docs/endpoint.md.
LIMITS = Namespace("https://w3id.org/msc-kg/service#")

# The W3C's IRIs for the formats of kg.formats, as sd:resultFormat wants them.
FORMAT_IRIS = {
    "turtle": W3C_FORMATS.Turtle, "ntriples": W3C_FORMATS["N-Triples"], "jsonld": W3C_FORMATS["JSON-LD"],
    "rdfxml": W3C_FORMATS.RDF_XML, "nquads": W3C_FORMATS["N-Quads"], "trig": W3C_FORMATS.TriG,
    "json": W3C_FORMATS.SPARQL_Results_JSON, "xml": W3C_FORMATS.SPARQL_Results_XML,
    "csv": W3C_FORMATS.SPARQL_Results_CSV, "tsv": W3C_FORMATS.SPARQL_Results_TSV,
}


def describe(endpoint, limits, graph_counts, default_triples, title="msc-kg SPARQL endpoint", writable=False):
    """An sd:Service for `endpoint` (its absolute URL); writable: curators' updates are enabled.

    limits: dict with timeout, max_rows, max_bytes, max_body; graph_counts: {graph IRI: triples};
    default_triples: the size of the union default graph (a triple in two files counts once).
    """
    g = Graph()
    for prefix, ns in (("sd", SD), ("void", VOID), ("formats", W3C_FORMATS), ("limits", LIMITS),
                       ("dcterms", DCTERMS)):
        g.bind(prefix, ns)
    service = URIRef(endpoint + "#service")
    g.add((service, RDF.type, SD.Service))
    g.add((service, SD.endpoint, URIRef(endpoint)))
    g.add((service, DCTERMS.title, Literal(title)))
    g.add((service, SD.supportedLanguage, SD.SPARQL11Query))
    g.add((service, SD.feature, SD.UnionDefaultGraph))
    g.add((service, SD.feature, SD.EmptyGraphs))
    for fmt in formats.FORMATS:
        g.add((service, SD.resultFormat, FORMAT_IRIS[fmt.name]))
    if writable:
        g.add((service, SD.supportedLanguage, SD.SPARQL11Update))
        access = ("SPARQL Update needs a curator's bearer token, and a write that the SHACL shapes refuse "
                  "is not committed (422); LOAD and SERVICE are refused.")
    else:
        access = "Read-only: SPARQL Update is refused, and so is SERVICE."
    g.add((service, RDFS.comment, Literal(
        f"{access} FROM and FROM NAMED name graphs of this dataset; nothing is fetched. The default graph "
        "is the union of the named graphs.")))
    g.add((service, LIMITS.maxExecutionTime, Literal(limits["timeout"], datatype=XSD.decimal)))
    g.add((service, LIMITS.maxResultRows, Literal(limits["max_rows"], datatype=XSD.integer)))
    g.add((service, LIMITS.maxResultBytes, Literal(limits["max_bytes"], datatype=XSD.integer)))
    g.add((service, LIMITS.maxRequestBytes, Literal(limits["max_body"], datatype=XSD.integer)))

    dataset = BNode("dataset")
    default_graph = BNode("default")
    g.add((service, SD.defaultDataset, dataset))
    g.add((dataset, RDF.type, SD.Dataset))
    g.add((dataset, SD.defaultGraph, default_graph))
    g.add((default_graph, RDF.type, SD.Graph))
    g.add((default_graph, VOID.triples, Literal(default_triples)))
    for name, count in sorted(graph_counts.items()):
        named = BNode()
        described = BNode()
        g.add((dataset, SD.namedGraph, named))
        g.add((named, RDF.type, SD.NamedGraph))
        g.add((named, SD.name, URIRef(name)))
        g.add((named, SD.graph, described))
        g.add((described, RDF.type, SD.Graph))
        g.add((described, VOID.triples, Literal(count)))
    return g
