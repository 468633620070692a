"""Turning RDF terms into safe HTML pieces: labels instead of IRIs, links only where they are safe.

Jinja escapes every string; what it cannot know is which IRIs may become an href. Only http(s)
IRIs do (a `javascript:` IRI stays text), and IRIs under the public base become local paths, so
the same data browses on localhost and under its real base.
"""

from urllib.parse import urlsplit

from flask import current_app
from markupsafe import Markup, escape
from rdflib import BNode, Literal, URIRef

from kg.describe import LABEL_PROPERTIES
from kg.sparql import prefixed


def public_base():
    return current_app.config["PUBLIC_BASE"]


def iri_for_path(path):
    """The IRI a request path names: the public base plus the path."""
    return URIRef(public_base() + path.lstrip("/"))


def href(iri):
    """Where a link to iri should point, or None when it must not be a link."""
    text, base = str(iri), public_base()  # once: each lookup goes through Flask's context proxies
    local = text[len(base):]
    # A local part starting with "/" would make "//host/...", a link to another site.
    if text.startswith(base) and not local.startswith("/"):
        return "/" + local
    parts = urlsplit(text)
    if parts.scheme in ("http", "https") and parts.netloc:
        return text
    return None


class Labels:
    """The best label of each node a graph describes (skos:prefLabel, title, name, rdfs:label)."""

    def __init__(self, graph):
        self._labels = {}
        rank = {p: i for i, p in enumerate(LABEL_PROPERTIES)}
        best = {}
        for prop in LABEL_PROPERTIES:
            for node, label in graph.subject_objects(prop):
                english = not isinstance(label, Literal) or label.language in (None, "en")
                key = (rank[prop], not english)
                if node not in best or key < best[node]:
                    best[node], self._labels[node] = key, str(label)

    def __call__(self, term):
        if isinstance(term, Literal):
            return str(term)
        if term in self._labels:
            return self._labels[term]
        if isinstance(term, BNode):
            return "(unnamed node)"
        return prefixed(term).strip("<>")

    def has(self, term):
        return term in self._labels


def link(term, labels):
    """A term as HTML: a link with its label for a safe IRI, escaped text for anything else."""
    if isinstance(term, URIRef):
        target = href(term)
        text = escape(labels(term))
        if target is None:
            return Markup(f'<span class="iri">{text}</span>')
        return Markup(f'<a href="{escape(target)}" title="{escape(str(term))}">{text}</a>')
    if isinstance(term, Literal):
        text = escape(str(term))
        if term.language:
            return Markup(f'<span lang="{escape(term.language)}">{text}</span>')
        return text
    return escape(labels(term))


def register(app):
    app.jinja_env.globals.update(link=link, href=href)
