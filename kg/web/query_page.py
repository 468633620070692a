"""The query page: /sparql in a browser. An editor, the example queries, and answers as tables.

It works without JavaScript: the editor is a plain GET form, each example is a plain link, and an
answer's URL is its query, so a link reproduces it. static/query.js only adds Ctrl+Enter.

The answer on the page is the endpoint's own: the query goes through the worker pool with the
same limits as a protocol request, asking for SPARQL JSON (N-Triples for CONSTRUCT/DESCRIBE),
which is read back here into a table. Terms become HTML only through markupsafe (every string
escaped) and kg.web.render (only http(s) IRIs become links; those under the public base local ones).
"""

import json
from dataclasses import dataclass, field
from functools import cache
from urllib.parse import urlencode

import pyoxigraph as ox
from flask import Response, render_template, url_for
from markupsafe import Markup
from rdflib import URIRef
from rdflib.namespace import RDF, XSD
from werkzeug.http import HTTP_STATUS_CODES

from kg import config, formats, negotiation
from kg.endpoint import OFFERS
from kg.sparql import prefixed
from kg.web.render import link

QUERIES_DIR = config.ROOT / "docs" / "queries"
XHTML = "application/xhtml+xml"
PAGE_TYPES = ("text/html", XHTML)
# What the endpoint offers for any query form; the page goes to clients that prefer HTML to all of it.
ANSWER_TYPES = tuple(dict.fromkeys(formats.by_name(name).media_type
                                   for names in OFFERS.values() for name in names))
# What the page asks the worker for: SPARQL JSON for SELECT and ASK, N-Triples for a graph.
JOB_ACCEPT = "application/sparql-results+json, application/n-triples"
# Protocol parameters the editor, the downloads and the examples carry over besides the query.
CARRIED = ("default-graph-uri", "named-graph-uri", "timeout")
FORM_NAMES = {"select": "SELECT", "ask": "ASK", "graph": "CONSTRUCT/DESCRIBE"}
# Shown bare, as kg.sparql.text (the terminal table) shows them; other datatypes are written out.
BARE = {str(XSD.integer), str(XSD.decimal), str(XSD.double), str(XSD.boolean)}
PLAIN = {str(XSD.string), str(RDF.langString)}
DEFAULT_QUERY = """PREFIX msc: <https://w3id.org/msc-kg/ontology#>
PREFIX dcterms: <http://purl.org/dc/terms/>
SELECT ?study ?title WHERE { ?study a msc:Study ; dcterms:title ?title } ORDER BY ?title
"""


def wants_page(accept):
    """Whether the client prefers the HTML page to every format the endpoint answers in.

    HTML is offered after the SPARQL formats, so a client that accepts anything (*/*) gets the
    protocol's answer; an unreadable Accept takes the protocol path too, which answers 400.
    """
    try:
        chosen = formats.choose(accept, list(ANSWER_TYPES) + list(PAGE_TYPES))
    except negotiation.AcceptError:
        return False
    return chosen in PAGE_TYPES


@dataclass(frozen=True)
class Example:
    name: str  # the file's stem, e.g. 01-studies
    purpose: str  # its first line, the "# purpose" comment
    text: str


@cache
def examples():
    """The example queries of docs/queries/, in file order."""
    found = []
    for path in sorted(QUERIES_DIR.glob("*.rq")):
        text = path.read_text(encoding="utf-8")
        purpose = text.splitlines()[0].lstrip("#").strip() if text.strip() else path.stem
        found.append(Example(path.stem, purpose, text))
    return tuple(found)


def query_url(query, params=None, fmt=None):
    """/sparql?query=... (plus the carried parameters, and format= when given): the URL of an answer."""
    pairs = [("query", query)]
    pairs += [(name, value) for name in CARRIED for value in (params or {}).get(name, [])]
    if fmt:
        pairs.append(("format", fmt))
    return url_for("sparql.endpoint") + "?" + urlencode(pairs)


@dataclass
class Table:
    kind: str  # "select", "ask" or "graph"
    columns: tuple = ()
    rows: list = field(default_factory=list)  # lists of Markup cells
    boolean: bool | None = None

    @property
    def noun(self):
        word = "triple" if self.kind == "graph" else "row"
        return word if len(self.rows) == 1 else word + "s"


def read(answer):
    """The endpoint's Answer (SPARQL JSON or N-Triples) as a Table of HTML cells."""
    fmt = formats.by_media_type(answer.media_type)
    if fmt.name == "json":
        document = json.loads(answer.body)
        if "boolean" in document:
            return Table("ask", boolean=bool(document["boolean"]))
        names = tuple(document["head"]["vars"])
        rows = [[cell(binding.get(name)) for name in names] for binding in document["results"]["bindings"]]
        return Table("select", names, rows)
    quads = ox.parse(answer.body, format=fmt.oxigraph)
    rows = [[cell(_term(t)) for t in (q.subject, q.predicate, q.object)] for q in quads]
    return Table("graph", ("subject", "predicate", "object"), rows)


def _term(term):
    """An oxigraph term as a SPARQL JSON term."""
    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, ox.Literal):
        value = {"type": "literal", "value": term.value}
        if term.language:
            value["xml:lang"] = term.language
        elif term.datatype.value != str(XSD.string):
            value["datatype"] = term.datatype.value
        return value
    return {"type": "other", "value": str(term)}


def _label(term):
    return prefixed(term).strip("<>")


def cell(term):
    """One SPARQL JSON term as HTML: a link for an http(s) IRI, escaped text for everything else."""
    if term is None:
        return Markup("")
    kind, value = term.get("type"), str(term.get("value", ""))
    if kind == "uri":
        return link(URIRef(value), _label)
    if kind == "bnode":
        return Markup('<span class="bnode">_:{}</span>').format(value)
    if kind in ("literal", "typed-literal"):
        if term.get("xml:lang"):
            return Markup('<span lang="{0}">{1}</span> <span class="lang">@{0}</span>').format(
                term["xml:lang"], value)
        datatype = term.get("datatype")
        if datatype in BARE:
            return Markup('<span class="literal" title="{}">{}</span>').format(_label(datatype), value)
        if datatype and datatype not in PLAIN:
            return Markup('<span class="literal">{}</span> <span class="datatype">^^{}</span>').format(
                value, _label(datatype))
        return Markup('<span class="literal">{}</span>').format(value)
    return Markup('<span class="term">{}</span>').format(value)


def truncation_note(truncated, shown):
    """What the page says when the endpoint cut the answer (its Results-Truncated value)."""
    reason, _, limit = truncated.partition("; limit=")
    if reason == "rows":
        return (f"The answer has more than {limit} rows or triples, the server's limit: only the first "
                f"{shown} are shown, and the downloads are cut the same way. Narrow the query, or page "
                "through it with LIMIT and OFFSET.")
    return (f"The answer was over the server's limit of {limit} bytes, so it was cut to its first {shown} "
            "rows or triples. Narrow the query, or page through it with LIMIT and OFFSET.")


def downloads(kind, query, params):
    """(format, media type, URL) for every format the endpoint answers this query form in."""
    return [(fmt, fmt.media_type, query_url(query, params, fmt.name))
            for fmt in (formats.by_name(name) for name in OFFERS[kind])]


def _format_choices():
    return [("SELECT or ASK", [formats.by_name(name) for name in OFFERS["select"]]),
            ("CONSTRUCT or DESCRIBE", [formats.by_name(name) for name in OFFERS["graph"]])]


def _problem(error):
    return {"type": "about:blank", "title": HTTP_STATUS_CODES.get(error.code, "Error"),
            "status": error.code, "detail": error.message}


def _render(status, headers, query, params, **context):
    carried = [(name, value) for name in CARRIED for value in params.get(name, [])]
    body = render_template(
        "sparql.html", query=query, carried=carried, choices=_format_choices(),
        examples=[(example, query_url(example.text)) for example in examples()], **context)
    response = Response(body, status, mimetype="text/html")
    response.headers["Vary"] = "Accept"
    for name, value in headers.items():
        response.headers[name] = value
    return response


def form_page():
    """The editor with a first query in it, and the examples."""
    return _render(200, {}, DEFAULT_QUERY, {})


def results_page(query, params, answer=None, error=None):
    """The editor holding query, then its answer as a table, or the error (a kg.web.errors.Problem)
    that stopped it, with that error's status and headers."""
    if error is not None:
        return _render(error.code, error.extra_headers, query, params, problem=_problem(error))
    table = read(answer)
    headers = {}
    note = None
    if answer.truncated:
        headers["Results-Truncated"] = answer.truncated
        note = truncation_note(answer.truncated, len(table.rows))
    return _render(200, headers, query, params, table=table, form=FORM_NAMES[table.kind], truncated=note,
                   downloads=downloads(table.kind, query, params))
