"""How a SHACL validation result reads to a curator: compact names (msc:registryId, never an invented
prefix), values in Turtle notation, property paths in SPARQL notation, messages with short IRIs."""

import json
import re

from rdflib import BNode, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, RDF, RDFS, SH, XSD

from kg import config
from kg.namespaces import PREFIXES, SHAPES

NAMESPACES = {
    **{prefix: str(ns) for prefix, ns in PREFIXES.items()},
    "mscsh": str(SHAPES), "rdf": str(RDF), "rdfs": str(RDFS), "owl": str(OWL), "xsd": str(XSD),
}
LOCAL_NAME = re.compile(r"[A-Za-z_][\w.-]*(?<!\.)")
IRI_IN_TEXT = re.compile(r"https?://[^\s<>\"]+")


def node_id(node):
    return f"_:{node}" if isinstance(node, BNode) else str(node)


def curie(iri):
    """prefix:local for a namespace we bind, else the IRI itself (never an invented prefix)."""
    text = str(iri)
    matches = [(len(ns), f"{prefix}:{text[len(ns):]}") for prefix, ns in NAMESPACES.items()
               if text.startswith(ns) and LOCAL_NAME.fullmatch(text[len(ns):])]
    return max(matches)[1] if matches else text


def term_text(term):
    if isinstance(term, Literal):
        text = json.dumps(str(term), ensure_ascii=False)
        if term.language or term.datatype in (None, XSD.string):
            return text + (f"@{term.language}" if term.language else "")
        return f"{text}^^{curie(term.datatype)}"
    if isinstance(term, URIRef):
        shown = curie(term)
        return shown if shown != str(term) else f"<{term}>"
    return node_id(term)


def path_text(graph, path):
    """A SHACL property path in SPARQL notation: msc:outcome, ^msc:outcome, a|b, a/b, a*."""
    if isinstance(path, URIRef):
        return curie(path)
    if (path, RDF.first, None) in graph:
        return "/".join(path_text(graph, p) for p in Collection(graph, path))
    for predicate, pattern in ((SH.inversePath, "^{}"), (SH.zeroOrMorePath, "{}*"), (SH.oneOrMorePath, "{}+"),
                               (SH.zeroOrOnePath, "{}?"), (SH.alternativePath, "({})")):
        inner = graph.value(path, predicate)
        if predicate == SH.alternativePath and inner is not None:
            return pattern.format("|".join(path_text(graph, p) for p in Collection(graph, inner)))
        if inner is not None:
            return pattern.format(path_text(graph, inner))
    return node_id(path)


def compact_text(text):
    """Shorten the IRIs that SPARQL messages spell out (msc:registryId for the full IRI)."""

    def compact(match):
        iri = match.group(0)
        stripped = iri.rstrip(".,;:)")
        short = curie(stripped)
        if short == stripped and stripped.startswith(config.BASE) and len(stripped) > len(config.BASE):
            short = f"<{stripped[len(config.BASE):]}>"  # as the data files write it, under @base
        return short + iri[len(stripped):]

    return IRI_IN_TEXT.sub(compact, text)


def result_line(result):
    line = f"  {result.severity:<9}  {result.path or '-'}  {result.message}"
    return line + (f"  value: {result.value}" if result.value is not None else "")


def plural(count, word):
    return f"{count} {word}{'' if count == 1 else 's'}"
