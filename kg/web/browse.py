"""The /browse page: the studies narrowed by facets and a search, each facet value with its count."""

import re
from dataclasses import dataclass
from urllib.parse import urlencode

from flask import Blueprint, Response, render_template, request
from rdflib import Literal, URIRef
from rdflib.namespace import XSD

from kg.web.cards import as_int, as_text
from kg.web.data import cached, select
from kg.web.errors import problem
from kg.web.paging import listing, match_parts, requested_page, study_count
from kg.web.render import public_base
from kg.web.resources import BAD_IRI

bp = Blueprint("browse", __name__)


@dataclass(frozen=True)
class Facet:
    name: str
    title: str
    path: str
    literal: bool = False


FACETS = [
    Facet("indication", "Indication", "msc:indication/skos:broader*"),
    Facet("source", "Tissue / cell source", "msc:intervention/msc:cellSource/skos:broader*"),
    Facet("donor", "Donor relation", "msc:intervention/msc:donorRelation"),
    Facet("phase", "Phase", "msc:phase/skos:broader*"),
    Facet("design", "Design feature", "msc:designFeature"),
    Facet("year", "Year", "msc:publication/fabio:hasPublicationYear", literal=True),
]
FACET_BY_NAME = {f.name: f for f in FACETS}
FACET_UNION = "\n  UNION ".join(f'{{ ?study {f.path} ?value . BIND("{f.name}" AS ?facet) }}' for f in FACETS)
SEARCH = """FILTER(CONTAINS(LCASE(STR(?title)), LCASE(STR(?q)))
       || (BOUND(?summary) && CONTAINS(LCASE(STR(?summary)), LCASE(STR(?q)))))"""
MAX_CHOSEN = 24
MAX_SEARCH = 200
# Characters an IRI may not hold (RFC 3987), and so a facet value may not either.


def facet_term(facet, raw):
    """A facet value from the query string as an RDF term, or a 400 that says what is wrong."""
    if facet.literal:
        if not re.fullmatch(r"\d{4}", raw):
            problem(400, f"The {facet.name}= value {raw!r} is not a year such as 2016.")
        return Literal(raw, datatype=XSD.gYear)
    base = public_base()
    if not raw.startswith(base) or BAD_IRI.search(raw):
        problem(400, f"The {facet.name}= value {raw!r} is not one of this library's IRIs: a facet value "
                f"is an IRI starting with {base}, as the links on /browse give them.")
    return URIRef(raw)


def browse_href(chosen, q):
    pairs = [(name, str(term)) for name, term in chosen]
    if q:
        pairs.append(("q", q))
    return "/browse" + ("?" + urlencode(pairs) if pairs else "")


def facet_counts(pattern="", **bindings):
    """{facet name: {value: (studies of the pattern with it, label)}}, counted by the store."""
    bound, match = match_parts(pattern, bindings)
    query = (f"SELECT ?facet ?value (COUNT(DISTINCT ?study) AS ?count) (SAMPLE(?l) AS ?label) {bound} "
             f"WHERE {{ {match}\n  {FACET_UNION}\n  OPTIONAL {{ ?value skos:prefLabel ?l }} }} "
             f"GROUP BY ?facet ?value {bound}")
    counted = {facet.name: {} for facet in FACETS}
    for row in select(query, **bindings):
        label = as_text(row["label"]) or str(row["value"])
        counted[str(row["facet"])][row["value"]] = (as_int(row["count"]) or 0, label)
    return counted


@bp.route("/browse")
def browse():
    chosen = []
    for facet in FACETS:
        for raw in request.args.getlist(facet.name):
            term = facet_term(facet, raw.strip())
            if (facet.name, term) not in chosen:
                chosen.append((facet.name, term))
    if len(chosen) > MAX_CHOSEN:
        problem(400, f"Choose at most {MAX_CHOSEN} facet values at once.")
    q = request.args.get("q", "").strip()
    if len(q) > MAX_SEARCH:
        problem(400, f"The search text is {len(q)} characters long; at most {MAX_SEARCH} are searched.")
    # The pattern is built from this module's facet paths only; every value is a binding.
    patterns, bindings = [], {}
    for i, (name, term) in enumerate(chosen):
        patterns.append(f"?study {FACET_BY_NAME[name].path} ?v{i} .")
        bindings[f"v{i}"] = term
    if q:
        patterns.append(SEARCH)
        bindings["q"] = Literal(q)
    pattern = "\n".join(patterns)
    requested_page()  # a bad page= is refused before any query runs
    # The facet counts cover every matching study, the cards only the page shown. Unnarrowed, both
    # are the same for every request until the data changes.
    if pattern:
        counted, total = facet_counts(pattern, **bindings), study_count(pattern, **bindings)
    else:
        counted, total = cached("facet-counts", facet_counts), cached("study-count", study_count)
    pager, cards = listing(pattern, total=total, **bindings)
    facets = []
    for facet in FACETS:
        values = []
        for value, (count, label) in counted[facet.name].items():
            selected = (facet.name, value) in chosen
            toggled = ([c for c in chosen if c != (facet.name, value)] if selected
                       else chosen + [(facet.name, value)])
            values.append({"value": value, "label": label, "count": count,
                           "selected": selected, "href": browse_href(toggled, q)})
        for name, term in chosen:  # a chosen value no study matches still shows, to remove it
            if name == facet.name and term not in counted[facet.name]:
                _, label = cached("facet-counts", facet_counts)[name].get(term, (0, str(term)))
                values.append({"value": term, "label": label, "count": 0, "selected": True,
                               "href": browse_href([c for c in chosen if c != (name, term)], q)})
        if facet.literal:
            values.sort(key=lambda v: str(v["value"]), reverse=True)
        else:
            values.sort(key=lambda v: (-v["count"], v["label"].lower()))
        facets.append({"name": facet.name, "title": facet.title, "values": values})
    page = render_template("browse.html", cards=cards, pager=pager, facets=facets, q=q,
                           chosen=[(name, str(term)) for name, term in chosen],
                           clear=browse_href([], ""), without_search=browse_href(chosen, ""))
    return Response(page, mimetype="text/html")
