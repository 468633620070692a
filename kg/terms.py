"""Terms between rdflib and oxigraph, and oxigraph's syntax errors told the way a person reads them.

The stores answer in rdflib terms (what pyshacl, the serializers and the pages use) and oxigraph
works in its own; every crossing goes through these few functions.
"""

import re

import pyoxigraph as ox
from rdflib import BNode, Literal, URIRef
from rdflib.namespace import XSD

from kg.errors import QueryError

# Characters an IRI may not hold (RFC 3987), and so no IRI written into query text may either.
UNWRITABLE = re.compile(r'[\x00-\x20<>"{}|\\^`\x7f]')


def values_block(variable, iris):
    """`VALUES ?variable { <iri> ... }` of the IRIs that can be written between <>, or None if none can.

    For IRIs a store has answered with, never ones from a request (those go in as bindings): a
    binding holds one value, and a page sometimes needs a query over hundreds.
    """
    written = [str(i) for i in iris if isinstance(i, URIRef) and not UNWRITABLE.search(str(i))]
    if not written:
        return None
    return f"VALUES ?{variable} {{ " + " ".join(f"<{i}>" for i in written) + " }"


def tidy(message, what="query"):
    """Oxigraph's "error at 1:26: expected one of ..." without the character classes it lists."""
    match = re.match(r"error at (\d+):(\d+): (.*)", message, re.DOTALL)
    if not match:
        return message.splitlines()[0]
    line, column, detail = match.groups()
    detail = re.sub(r"\[[^\]]*\]", "", detail.replace("\n", " "))
    detail = re.sub(r"(,\s*)+(?=,|$)", "", detail).strip(" ,")
    return f"malformed {what} at line {line}, column {column}: {detail}"

def bindable(term):
    """An rdflib term as the oxigraph term, for substitutions."""
    try:
        return to_oxigraph(term)
    except ValueError as exc:
        # An IRI with characters IRIs cannot hold (from a request path, say) names nothing.
        raise QueryError(f"cannot bind {term!r}: {exc}") from None

def to_oxigraph(term):
    """An rdflib term as the oxigraph term."""
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    if isinstance(term, Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype or XSD.string)))
    raise QueryError(f"{term!r} is no IRI, blank node or literal")

def to_rdflib(term):
    """An oxigraph term as the rdflib term the memory store would give."""
    if term is None:
        return None
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return Literal(term.value, lang=term.language)
        datatype = term.datatype.value
        # rdflib parses "x" as an untyped literal, which is a different term from "x"^^xsd:string.
        # normalize=False: the lexical form stays as stored, whatever rdflib's process-wide flag says.
        datatype = None if datatype == str(XSD.string) else datatype
        return Literal(term.value, datatype=datatype, normalize=False)
    raise QueryError(f"RDF 1.2 triple terms are not supported: {term}")
