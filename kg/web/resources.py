"""Dereferenceable IRIs: every IRI the data mints answers at its path on this server.

HTML for browsers, RDF by Accept, and the same bytes at extension twins (`.ttl`, `.jsonld`, `.nt`,
`.rdf`, `.html`); a negotiated answer is a 200 with Content-Location naming its twin (decision
0006). Also the dumps and the VoID description.
"""

import re

from flask import Blueprint, Response, render_template, request
from rdflib import RDF
from rdflib.compare import to_canonical_graph

from kg import formats, negotiation, sparql
from kg.build import DUMPS
from kg.describe import Describe, Dump, Void
from kg.store import GRAPH, Result
from kg.web.data import cached, run
from kg.web.errors import problem
from kg.web.render import Labels, iri_for_path

bp = Blueprint("resources", __name__)

HTML = "text/html"
BAD_IRI = re.compile(r'[\x00-\x20<>"{}|\\^`\x7f]')
TWINS = {"html": HTML, "ttl": "text/turtle", "jsonld": "application/ld+json",
         "nt": "application/n-triples", "rdf": "application/rdf+xml"}
# Page templates by rdf:type; kg.web.views adds its own, a resource of another type gets the
# generic page.
TEMPLATES = {}


def negotiate(offers, extension=None):
    """The media type to answer with: the extension's, or the client's choice among offers."""
    if extension is not None:
        return TWINS[extension]
    try:
        chosen = formats.choose(request.headers.get("Accept"), offers)
    except negotiation.AcceptError as exc:
        problem(400, str(exc))
    if chosen is None:
        problem(406, f"This resource is offered as {', '.join(offers)}.")
    return chosen


def split_extension(path):
    stem, dot, extension = path.rpartition(".")
    if dot and extension in TWINS and "/" not in extension:
        return stem, extension
    return path, None


def alternates(path):
    """Link header and <link> values for every twin of the page at path."""
    return [(f"/{path}.{ext}", media_type) for ext, media_type in TWINS.items()]


def answer_rdf(triples, media_type, path, negotiated):
    fmt = formats.by_media_type(media_type)
    body = sparql.serialize(Result(GRAPH, triples=tuple(triples)), fmt.name)
    response = Response(body, content_type=formats.content_type(media_type))
    return finish(response, path, fmt.extension if fmt.name != "rdfxml" else "rdf", negotiated)


def finish(response, path, extension, negotiated):
    response.headers["Vary"] = "Accept"
    response.headers["Link"] = ", ".join(f'<{href}>; rel="alternate"; type="{media_type}"'
                                         for href, media_type in alternates(path))
    if negotiated:
        response.headers["Content-Location"] = f"/{path}.{extension}"
    return response


@bp.route("/<path:path>")
def resource(path):
    path, extension = split_extension(path)
    iri = iri_for_path(path)
    # A path with characters no IRI may hold cannot name anything the data knows.
    description = None if BAD_IRI.search(str(iri)) else run(Describe(str(iri)))
    if description is None or not description.exists:
        problem(404, f"Nothing is known about <{iri}>. Browse the library from the home page, "
                "or ask the SPARQL endpoint at /sparql.")
    media_type = negotiate(list(TWINS.values()), extension)
    # Each worker holds its own copy of the store, with its own blank node labels; canonical labels
    # and a fixed order make a resource's bytes the same whichever worker answered.
    graph = to_canonical_graph(description.graph())
    triples = sorted(graph, key=lambda t: (t[1].n3(), t[0].n3(), t[2].n3()))
    if media_type != HTML:
        return answer_rdf(triples, media_type, path, extension is None)
    labels = Labels(graph)
    types = set(graph.objects(iri, RDF.type))
    template = next((TEMPLATES[t] for t in types if t in TEMPLATES), "resource.html")
    page = render_template(template, iri=iri, graph=graph, triples=triples, labels=labels,
                           description=description, incoming=description.incoming,
                           alternates=alternates(path), path=path)
    return finish(Response(page, mimetype=HTML), path, "html", extension is None)


@bp.route("/dumps/<name>")
def dump(name):
    found = next(((fmt_name, merged) for file, fmt_name, merged in DUMPS if file == name), None)
    if found is None:
        problem(404, f"No dump called {name}; there are {', '.join(file for file, _, _ in DUMPS)}.")
    fmt = formats.by_name(found[0])
    body = cached(("dump", name), lambda: run(Dump(fmt.name, merged=found[1]), timeout=120))
    response = Response(body, content_type=formats.content_type(fmt.media_type))
    response.headers["Content-Disposition"] = f'inline; filename="msc-kg-{name}"'
    return response


@bp.route("/.well-known/void")
def void():
    body = cached(("void",), lambda: run(Void(), timeout=120))
    return Response(body, content_type=formats.content_type("text/turtle"))
