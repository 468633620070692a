"""The page helpers of the home page, indications and sections, people and concepts."""

from urllib.parse import urlencode

from flask import current_app
from rdflib import RDF, Graph
from rdflib.namespace import PROV, SKOS

from kg.namespaces import MSC
from kg.terms import values_block
from kg.web.cards import as_int, as_text, matches, narrower, outcome_rows, sorted_by_label
from kg.web.data import select
from kg.web.paging import listing, paged, study_count, study_page
from kg.web.render import Labels

# The concept pages, and the path from a study (or an outcome) to the concept. skos:broader* makes a
# broader concept's page list the studies of its narrower ones too.
CONCEPTS = {
    MSC.CellSource: ("study", "msc:intervention/msc:cellSource/skos:broader*", "source"),
    MSC.CellType: ("study", "msc:intervention/msc:cellType/skos:broader*", None),
    MSC.Phase: ("study", "msc:phase/skos:broader*", "phase"),
    MSC.DesignFeature: ("study", "msc:designFeature", "design"),
    MSC.DonorRelation: ("study", "msc:intervention/msc:donorRelation", "donor"),
    MSC.UnitOfAnalysis: ("outcome", "msc:unitOfAnalysis", None),
    MSC.OutcomeMeasure: ("outcome", "msc:measure/skos:broader*", None),
}


# ---------------------------------------------------------------- home


LIBRARY = """SELECT ?key ?title ?headline ?description WHERE {
  ?key a msc:ResearchLibrary .
  OPTIONAL { ?key dcterms:title ?title }
  OPTIONAL { ?key schema:headline ?headline }
  OPTIONAL { ?key dcterms:description ?description }
}"""

SECTIONS = """SELECT ?library ?section ?title ?description ?indication ?position
    (COUNT(DISTINCT ?study) AS ?studies) WHERE {
  ?library msc:hasSection ?section .
  OPTIONAL { ?section msc:sectionIndication ?indication
    OPTIONAL { ?study a msc:Study ; msc:indication/skos:broader* ?indication } }
  OPTIONAL { ?section dcterms:title ?title }
  OPTIONAL { ?section dcterms:description ?description }
  OPTIONAL { ?section schema:position ?position }
} GROUP BY ?library ?section ?title ?description ?indication ?position"""


LISTED_IN = "?study msc:listedIn ?key ."


def home_page(iri):
    rows = select(LIBRARY, key=iri)
    first = rows[0] if rows else {}
    sections = []
    seen = set()
    for row in select(SECTIONS, library=iri):
        if row["section"] in seen:
            continue
        seen.add(row["section"])
        sections.append({
            "iri": row["section"], "title": as_text(row["title"]) or "",
            "description": as_text(row["description"]),
            "indication": row["indication"], "studies": as_int(row["studies"]) or 0,
            "position": as_int(row["position"]),
        })
    sections.sort(key=lambda s: (s["position"] is None, s["position"] or 0, s["title"].lower()))
    # Each section shows its first page of cards, as the research library page does, and links to
    # the section's own page for the rest.
    size = max(1, int(current_app.config["PAGE_SIZE"]))
    for section in sections:
        section["cards"] = study_page(LISTED_IN, 1, size, key=section["iri"])
        section["listed"] = (len(section["cards"]) if len(section["cards"]) < size
                             else study_count(LISTED_IN, key=section["iri"]))
    return {
        "title": as_text(first.get("title")) or "Research library",
        "headline": as_text(first.get("headline")),
        "description": as_text(first.get("description")),
        "sections": sections,
    }


# ---------------------------------------------------------------- indications and sections


SECTIONS_OF = """SELECT ?section ?title ?description ?key WHERE {
  ?section msc:sectionIndication ?key .
  OPTIONAL { ?section dcterms:title ?title }
  OPTIONAL { ?section dcterms:description ?description }
}"""


def indication_page(iri, graph, incoming):
    labels = Labels(graph)
    indication = iri
    if MSC.LibrarySection in set(graph.objects(iri, RDF.type)):
        indication = graph.value(iri, MSC.sectionIndication) or iri
    sections = [{"iri": r["section"], "title": as_text(r["title"]), "description": as_text(r["description"])}
                for r in select(SECTIONS_OF, key=indication)]
    if indication == iri:
        pager, cards = listing("?study msc:indication/skos:broader* ?key .", key=iri)
        indication_graph, indication_incoming = graph, incoming
    else:
        pager, cards = listing(LISTED_IN, key=iri)
        indication_graph, indication_incoming = Graph(), ()
    return {
        "labels": labels,
        "indication": indication,
        "sections": sections,
        "cards": cards,
        "pager": pager,
        "alt_labels": sorted(str(a) for a in indication_graph.objects(indication, SKOS.altLabel)),
        "broader": sorted_by_label(indication_graph.objects(indication, SKOS.broader), labels),
        "narrower": sorted_by_label(narrower(indication, indication_incoming), labels),
        "matches": matches(indication_graph, indication, labels),
        "browse": "/browse?" + urlencode({"indication": str(indication)}),
    }


# ---------------------------------------------------------------- people and concepts


def person_page(iri, graph):
    labels = Labels(graph)
    pager, cards = listing("?study schema:author|msc:firstAuthor ?key .", key=iri)
    return {
        "labels": labels,
        "cards": cards,
        "pager": pager,
        "matches": matches(graph, iri, labels),
        "derived_from": sorted(graph.objects(iri, PROV.wasDerivedFrom)),
    }


def concept_page(iri, graph, incoming):
    labels = Labels(graph)
    types = set(graph.objects(iri, RDF.type))
    kind = next((t for t in CONCEPTS if t in types), None)
    page = {
        "labels": labels,
        "kind": labels(kind) if kind is not None else "concept",
        "alt_labels": sorted(str(a) for a in graph.objects(iri, SKOS.altLabel)),
        "notation": as_text(graph.value(iri, SKOS.notation)),
        "notes": [str(n) for p in (SKOS.definition, SKOS.scopeNote) for n in graph.objects(iri, p)],
        "broader": sorted_by_label(graph.objects(iri, SKOS.broader), labels),
        "narrower": sorted_by_label(narrower(iri, incoming), labels),
        "matches": matches(graph, iri, labels),
        "cards": None,
        "pager": None,
        "outcomes": None,
        "outcome_count": None,
        "browse": None,
    }
    if kind is not None:
        subject, path, facet = CONCEPTS[kind]
        if subject == "study":
            page["pager"], page["cards"] = listing(f"?study {path} ?key .", key=iri)
        else:
            page["pager"], page["outcome_count"], page["outcomes"] = outcome_table(path, iri)
        if facet:
            page["browse"] = "/browse?" + urlencode({facet: str(iri)})
    return page


OUTCOME_COUNT = """SELECT (COUNT(DISTINCT ?outcome) AS ?count) ?key WHERE {
  ?study msc:outcome ?outcome ; a msc:Study ; dcterms:title ?title .
  FILTER(isIRI(?study))
  ?outcome %s ?key .
} GROUP BY ?key"""


def outcome_table(path, key):
    """The pager over the studies with outcomes on path to key, the number of those outcomes, and the
    outcome rows of the requested page's studies, in the library's order of studies (a measure has
    an outcome in thousands of studies at 10,000)."""
    pattern = f"?study msc:outcome ?outcome . ?outcome {path} ?key ."
    pager, studies = paged(pattern, key=key)
    rows = select(OUTCOME_COUNT % path, key=key)
    count = int(str(rows[0]["count"])) if rows else 0
    block = values_block("study", studies)
    if block is None:
        return pager, count, []
    rank = {study: place for place, study in enumerate(studies)}
    found = outcome_rows(f"{block} ?outcome {path} ?key .", key)
    return pager, count, sorted(found, key=lambda row: (rank.get(row.study, len(rank)), row.order))
