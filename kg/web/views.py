"""The pages that read like the research library: the home route, and the templates and helpers of
the typed pages (kg.web.pages, kg.web.study_page). /browse is kg.web.browse; the documentation of the
ontology and of the shapes is kg.web.documentation.

Every IRI the data mints answers at one route, kg.web.resources.resource, which negotiates, serves
the extension twins and picks a template by rdf:type. This module registers its templates there
(TEMPLATES) and gives each template one helper, a Jinja global such as study_page(iri, graph,
incoming), that runs the selects its page needs beyond the resource's description. So RDF, twins,
404s and headers stay in one place, and a page is just a template plus the queries it reads.

Every value that comes from a request reaches a query as a binding, never as query text.
"""

from flask import Blueprint, Response
from rdflib import URIRef

from kg.namespaces import MSC
from kg.web import resources
from kg.web.data import select
from kg.web.errors import problem
from kg.web.pages import CONCEPTS, concept_page, home_page, indication_page, person_page
from kg.web.render import href
from kg.web.study_page import study_page

bp = Blueprint("views", __name__)

SCHEMA_PERSON = URIRef("https://schema.org/Person")

resources.TEMPLATES.update({
    MSC.ResearchLibrary: "home.html",
    MSC.LibrarySection: "indication.html",
    MSC.Indication: "indication.html",
    MSC.Study: "study.html",
    SCHEMA_PERSON: "person.html",
    **{concept: "concept.html" for concept in CONCEPTS},
})


def page_helper(function):
    """Make function a Jinja global of the same name: a template's way to ask for its data."""
    bp.add_app_template_global(function)
    return function


for helper in (home_page, indication_page, study_page, person_page, concept_page):
    page_helper(helper)


@bp.route("/favicon.ico")
def favicon():
    """No icon: an empty answer, so that browsers do not log a 404 for every page."""
    return Response(status=204, headers={"Cache-Control": "public, max-age=86400"})


@bp.route("/")
def home():
    """The home page is the research library's page (and, by Accept, its RDF)."""
    rows = select("SELECT ?library WHERE { ?library a msc:ResearchLibrary } ORDER BY ?library", limit=1)
    target = href(rows[0]["library"]) if rows else None
    if not target or not target.startswith("/"):
        problem(404, "There is no research library in the data; ask the SPARQL endpoint at /sparql.")
    return resources.resource(target.lstrip("/"))
