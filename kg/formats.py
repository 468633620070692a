"""The serialization formats msc-kg reads and writes: one table, looked up by name, extension or media type.

The web server negotiates content from this table, so a format is added here and nowhere else.
"""

from dataclasses import dataclass

from pyoxigraph import QueryResultsFormat, RdfFormat

from kg import negotiation

RDF = "rdf"
RESULTS = "results"


@dataclass(frozen=True)
class Format:
    name: str
    label: str
    kind: str  # RDF (graphs and datasets) or RESULTS (SELECT and ASK answers)
    media_types: tuple  # the first is the one we send; the rest are accepted as well
    extensions: tuple  # without the dot; the first is the one we write
    named_graphs: bool
    oxigraph: object
    rdflib: str

    @property
    def media_type(self):
        return self.media_types[0]

    @property
    def extension(self):
        return self.extensions[0]


FORMATS = (
    Format("turtle", "Turtle", RDF, ("text/turtle", "application/x-turtle"), ("ttl",),
           False, RdfFormat.TURTLE, "turtle"),
    Format("ntriples", "N-Triples", RDF, ("application/n-triples",), ("nt",),
           False, RdfFormat.N_TRIPLES, "nt"),
    Format("jsonld", "JSON-LD", RDF, ("application/ld+json",), ("jsonld",),
           True, RdfFormat.JSON_LD, "json-ld"),
    Format("rdfxml", "RDF/XML", RDF, ("application/rdf+xml",), ("rdf", "owl"),
           False, RdfFormat.RDF_XML, "xml"),
    Format("nquads", "N-Quads", RDF, ("application/n-quads",), ("nq",),
           True, RdfFormat.N_QUADS, "nquads"),
    Format("trig", "TriG", RDF, ("application/trig",), ("trig",),
           True, RdfFormat.TRIG, "trig"),
    Format("json", "SPARQL results JSON", RESULTS, ("application/sparql-results+json", "application/json"),
           ("srj", "json"), False, QueryResultsFormat.JSON, "json"),
    Format("xml", "SPARQL results XML", RESULTS, ("application/sparql-results+xml", "application/xml"),
           ("srx", "xml"), False, QueryResultsFormat.XML, "xml"),
    Format("csv", "SPARQL results CSV", RESULTS, ("text/csv",), ("csv",),
           False, QueryResultsFormat.CSV, "csv"),
    Format("tsv", "SPARQL results TSV", RESULTS, ("text/tab-separated-values",), ("tsv",),
           False, QueryResultsFormat.TSV, "tsv"),
)


def content_type(media_type):
    """The Content-Type to send: every answer is UTF-8, which text/* types must say."""
    return media_type + "; charset=utf-8" if media_type.startswith("text/") else media_type


def rdf_formats():
    return [f for f in FORMATS if f.kind == RDF]


def results_formats():
    return [f for f in FORMATS if f.kind == RESULTS]


def by_name(name):
    """The format called name (e.g. "turtle"), or None."""
    return next((f for f in FORMATS if f.name == name.lower()), None)


def by_extension(extension, kind=None):
    """The format a file extension ("ttl" or ".ttl") names, or None; kind limits it to RDF or RESULTS."""
    extension = extension.lower().lstrip(".")
    return next((f for f in FORMATS if extension in f.extensions and kind in (None, f.kind)), None)


def by_media_type(media_type, kind=None):
    """The format a media type names, ignoring parameters such as charset, or None."""
    media_type = media_type.split(";")[0].strip().lower()
    return next((f for f in FORMATS if media_type in f.media_types and kind in (None, f.kind)), None)


def choose(header, media_types):
    """The client's choice (kg.negotiation.choose) among media_types, where an alias of a format in
    the table (application/x-turtle, application/json) counts as that format's main media type.

    Returns one of media_types or None; raises negotiation.AcceptError for an unreadable header.
    """
    aliases = {}
    for media_type in media_types:
        fmt = by_media_type(media_type)
        for alias in fmt.media_types if fmt is not None and fmt.media_type == media_type else (media_type,):
            aliases.setdefault(alias, media_type)
    chosen = negotiation.choose(header, list(aliases))
    return None if chosen is None else aliases[chosen]
