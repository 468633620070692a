"""The study page's helper: its parts, identifiers, authors, related studies and schema.org markup."""

from rdflib import Graph, URIRef
from rdflib.collection import Collection
from rdflib.namespace import DCTERMS, PROV

from kg.namespaces import BIBO, FABIO, MSC, PRISM
from kg.web.cards import as_text, doi_url, link_url, outcome_rows, pubmed_url, script_json, sorted_by_label
from kg.web.data import select
from kg.web.render import Labels
from kg.web.wording import duration_words

SCHEMA_AUTHOR = URIRef("https://schema.org/author")
SCHEMA_POSITION = URIRef("https://schema.org/position")

# Plain names for the properties of other vocabularies that provenance notes name.
PLAIN_NAMES = {
    PRISM.publicationName: "journal", FABIO.hasPublicationYear: "year", PRISM.volume: "volume",
    PRISM.number: "issue", PRISM.startingPage: "first page", PRISM.endingPage: "last page",
    PRISM.doi: "DOI", FABIO.hasPubMedId: "PubMed id", FABIO.hasPubMedCentralId: "PMC id",
    DCTERMS.available: "online publication date", SCHEMA_AUTHOR: "authors", BIBO.authorList: "author order",
}


PARTS = "msc:intervention|msc:publication|msc:outcome|msc:studyGroup"
NAMES = "FILTER(?p IN (skos:prefLabel, dcterms:title, schema:name, rdfs:label))"
# The study's path is stated outside the UNION, which lets oxigraph start from the study (the bound
# value), and again inside every branch, because rdflib (the memory store) evaluates each branch
# before joining it with the study: a branch starting from an unbound ?part reads the whole graph
# (minutes). Measured at 10k studies on oxigraph: 32 ms; 1 ms without the inner repeats.
STUDY_PARTS = f"""SELECT DISTINCT ?study ?s ?p ?o WHERE {{
  ?study {PARTS} ?part .
  {{ ?study {PARTS} ?part . ?part ?p ?o . BIND(?part AS ?s) }}
  UNION {{ ?study {PARTS} ?part . ?part msc:attribution ?s . ?s ?p ?o }}
  UNION {{ ?study {PARTS} ?part . ?part ?q ?s . FILTER(isIRI(?s)) ?s ?p ?o . {NAMES} }}
  UNION {{ ?study {PARTS} ?part . ?part msc:attribution ?b . ?b ?q ?s . FILTER(isIRI(?s)) ?s ?p ?o .
          {NAMES} }}
}}"""


def identifiers(study, publications, graph):
    """(name, value, outbound URL) for every identifier of the study and its publications."""
    found = []
    for publication in publications:
        for doi in sorted(graph.objects(publication, PRISM.doi)):
            found.append(("DOI", str(doi), doi_url(doi)))
        for pmid in sorted(graph.objects(publication, FABIO.hasPubMedId)):
            found.append(("PubMed", str(pmid), pubmed_url(pmid)))
        for pmcid in sorted(graph.objects(publication, FABIO.hasPubMedCentralId)):
            found.append(("PubMed Central", str(pmcid),
                          link_url("https://pmc.ncbi.nlm.nih.gov/articles/{}/", pmcid)))
    for nct in sorted(graph.objects(study, MSC.registryId)):
        found.append(("ClinicalTrials.gov", str(nct), link_url("https://clinicaltrials.gov/study/{}", nct)))
    for eudract in sorted(graph.objects(study, MSC.eudractNumber)):
        found.append(("EudraCT", str(eudract),
                      link_url("https://www.clinicaltrialsregister.eu/ctr-search/search?query={}", eudract)))
    return found


def publication_facts(publication, graph):
    value = lambda p: as_text(graph.value(publication, p))  # noqa: E731
    volume, issue = value(PRISM.volume), value(PRISM.number)
    first, last = value(PRISM.startingPage), value(PRISM.endingPage)
    citation = volume or ""
    if issue:
        citation += f"({issue})"
    pages = f"{first}-{last}" if first and last else first or ""
    if pages:
        citation += f":{pages}" if citation else f"pages {pages}"
    return {"iri": publication, "journal": value(PRISM.publicationName),
            "year": value(FABIO.hasPublicationYear), "citation": citation,
            "available": value(DCTERMS.available)}


def interventions(study, graph):
    found = []
    for node in sorted(graph.objects(study, MSC.intervention)):
        found.append({
            "iri": node,
            "cell_types": sorted(graph.objects(node, MSC.cellType)),
            "cell_sources": sorted(graph.objects(node, MSC.cellSource)),
            "donor_relations": sorted(graph.objects(node, MSC.donorRelation)),
            "products": sorted(str(n) for n in graph.objects(node, MSC.productName)),
            "doses": sorted(str(d) for d in graph.objects(node, MSC.dose)),
        })
    return found


def authors(study, graph):
    """(people in order, whether the list is only the first author)."""
    for head in graph.objects(study, BIBO.authorList):
        people = [p for p in Collection(graph, head) if isinstance(p, URIRef)]
        if people:
            return people, False
    first = graph.value(study, MSC.firstAuthor)
    if first is not None:
        return [first], True
    return sorted(graph.objects(study, SCHEMA_AUTHOR)), True


def related_studies(study, graph, incoming):
    """(relation in words, other study): follow-ups in both directions, then other reports."""
    relations = {}
    for other in graph.objects(study, MSC.followUpOf):
        relations.setdefault(other, "a follow-up of")
    for subject, predicate in incoming:
        if predicate == MSC.followUpOf:
            relations.setdefault(subject, "followed up by")
    same = set(graph.objects(study, MSC.sameTrialAs)) | {s for s, p in incoming if p == MSC.sameTrialAs}
    for other in same:
        relations.setdefault(other, "reports the same trial as")
    relations.pop(study, None)
    return sorted(((words, other) for other, words in relations.items()), key=lambda r: str(r[1]))


def attributions(nodes, graph, labels):
    """Every msc:attribution of the nodes: which properties, from which sources, secondary or not.

    nodes is a list of (node, what to call it when it has no label)."""
    notes = []
    for node, name in nodes:
        for note in graph.objects(node, MSC.attribution):
            properties = [PLAIN_NAMES.get(p) or labels(p)
                          for p in graph.objects(note, MSC.attributedProperty)]
            secondary = graph.value(note, MSC.secondarySource)
            notes.append({
                "node": node,
                "name": labels(node) if labels.has(node) else name,
                "properties": sorted(properties, key=str.lower),
                "sources": sorted(graph.objects(note, DCTERMS.source)),
                "secondary": secondary is not None and str(secondary).lower() == "true",
            })
    return notes


def study_page(iri, graph, incoming):
    merged = Graph()
    for triple in graph:
        merged.add(triple)
    for row in select(STUDY_PARTS, study=iri):
        merged.add((row["s"], row["p"], row["o"]))
    labels = Labels(merged)
    people, first_only = authors(iri, merged)
    publications = sorted(merged.objects(iri, MSC.publication))
    outcomes = outcome_rows("?key msc:outcome ?outcome . BIND(?key AS ?study)", iri)
    parts = ([(iri, "this study")] + [(i, "the intervention") for i in merged.objects(iri, MSC.intervention)]
             + [(p, "the publication") for p in publications] + [(o.iri, o.label) for o in outcomes]
             + [(g, "a study group") for g in merged.objects(iri, MSC.studyGroup)])
    groups = []
    for group in sorted(merged.objects(iri, MSC.studyGroup)):
        groups.append({"iri": group, "size": as_text(merged.value(group, MSC.groupSize)),
                       "parent": merged.value(group, MSC.subgroupOf)})
    indications = sorted_by_label(merged.objects(iri, MSC.indication), labels)
    page = {
        "labels": labels,
        "title": as_text(merged.value(iri, DCTERMS.title)) or labels(iri),
        "summary": as_text(merged.value(iri, MSC.summary)),
        "authors": people,
        "first_author_only": first_only,
        "indications": indications,
        "phases": sorted_by_label(merged.objects(iri, MSC.phase), labels),
        "design": sorted_by_label(merged.objects(iri, MSC.designFeature), labels),
        "acronyms": sorted(str(a) for a in merged.objects(iri, MSC.trialAcronym)),
        "enrolled": as_text(merged.value(iri, MSC.enrolledCount)),
        "follow_up": [duration_words(d) for d in merged.objects(iri, MSC.followUpDuration)],
        "interventions": interventions(iri, merged),
        "publications": [publication_facts(p, merged) for p in publications],
        "identifiers": identifiers(iri, publications, merged),
        "groups": groups,
        "outcomes": outcomes,
        "related": related_studies(iri, merged, incoming),
        "derived_from": sorted(merged.objects(iri, PROV.wasDerivedFrom)),
        "attributions": attributions(parts, merged, labels),
        "sections": sorted(merged.objects(iri, MSC.listedIn)),
        "position": as_text(merged.value(iri, SCHEMA_POSITION)),
        # The page shows the validation results of its parts too (the publication's missing PubMed id).
        "validation_parts": [node for node, _ in parts[1:]],
    }
    page["jsonld"] = script_json(study_jsonld(iri, page, labels))
    return page


def study_jsonld(iri, page, labels):
    """schema.org markup for search engines: the study as a trial and as the article reporting it."""
    data = {
        "@context": "https://schema.org",
        "@type": ["MedicalTrial", "ScholarlyArticle"],
        "@id": str(iri),
        "url": str(iri),
        "name": page["title"],
        "author": [{"@type": "Person", "@id": str(p), "name": labels(p)} for p in page["authors"]],
        "about": [{"@type": "MedicalCondition", "@id": str(i), "name": labels(i)}
                  for i in page["indications"]],
        "identifier": [{"@type": "PropertyValue", "propertyID": name, "value": value, "url": url}
                       for name, value, url in page["identifiers"]],
    }
    if page["summary"]:
        data["description"] = page["summary"]
    if page["phases"]:
        data["phase"] = labels(page["phases"][0])
    same = [url for name, _, url in page["identifiers"] if name in ("DOI", "PubMed")]
    if same:
        data["sameAs"] = same
    for publication in page["publications"]:
        if publication["year"]:
            data["datePublished"] = publication["year"]
        if publication["journal"]:
            data["isPartOf"] = {"@type": "Periodical", "name": publication["journal"]}
    return data
