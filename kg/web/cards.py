"""The pages' shared helpers (text, links, labels, alignments, JSON-LD), study cards and outcome rows."""

import json
import re
from dataclasses import dataclass, field
from urllib.parse import quote

from markupsafe import Markup
from rdflib import URIRef
from rdflib.namespace import OWL, SKOS

from kg.terms import values_block
from kg.web.data import select
from kg.web.wording import change_words, timepoint_days, timepoint_words, value_words

MATCHES = {SKOS.exactMatch: "same as", SKOS.closeMatch: "close to", SKOS.broadMatch: "broader than",
           SKOS.narrowMatch: "narrower than", SKOS.relatedMatch: "related to", OWL.sameAs: "same as"}


def as_text(term):
    return None if term is None else str(term)


def as_int(term):
    try:
        return int(str(term))
    except (TypeError, ValueError):
        return None


def link_url(base, identifier, safe=""):
    """An outbound link to an identifier's record, with the identifier percent-encoded."""
    return base.format(quote(str(identifier).strip(), safe=safe))


def doi_url(doi):
    return link_url("https://doi.org/{}", doi, safe="/:;()")


def pubmed_url(pmid):
    return link_url("https://pubmed.ncbi.nlm.nih.gov/{}/", pmid)


def read_url(doi, pmid):
    """Where "Read study" points: the DOI, else the PubMed record, else nowhere."""
    if doi:
        return doi_url(doi)
    if pmid:
        return pubmed_url(pmid)
    return None


def external_label(term, labels):
    """A readable name for a term of another vocabulary: MONDO:0005011 for an OBO class."""
    if labels.has(term):
        return labels(term)
    text = str(term)
    if text.startswith("http://purl.obolibrary.org/obo/"):
        return text.rsplit("/", 1)[1].replace("_", ":", 1)
    return labels(term)


def matches(graph, iri, labels):
    """The node's alignments to other vocabularies: (relation in words, IRI, readable name)."""
    found = []
    for predicate, words in MATCHES.items():
        for target in sorted(graph.objects(iri, predicate)):
            if isinstance(target, URIRef):
                found.append((words, target, external_label(target, labels)))
    return found


def sorted_by_label(terms, labels):
    return sorted(set(terms), key=lambda t: labels(t).lower())


def narrower(iri, incoming):
    return [s for s, p in incoming if p == SKOS.broader]


def script_json(data):
    """data as JSON that is safe inside <script type="application/ld+json">: no "<", ">" or "&" at
    all (written as \\u003c, \\u003e, \\u0026, which JSON reads back as the same characters), so no
    literal in the data can close the element or open a comment."""
    text = json.dumps(data, ensure_ascii=False, indent=1)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


# ---------------------------------------------------------------- study cards


@dataclass
class Card:
    iri: URIRef
    title: str
    author: str | None = None
    summary: str | None = None
    position: int | None = None
    phase: str | None = None
    year: str | None = None
    doi: str | None = None
    pmid: str | None = None

    @property
    def read(self):
        """Where the card's "Read study" points: the DOI, else the PubMed record, else nowhere."""
        return read_url(self.doi, self.pmid)


CARD_FIELDS = """
  ?study a msc:Study ; dcterms:title ?title .
  OPTIONAL { ?study msc:firstAuthor/schema:name ?author }
  OPTIONAL { ?study msc:summary ?summary }
  OPTIONAL { ?study schema:position ?position }
  OPTIONAL { ?study msc:phase/skos:prefLabel ?phase }
  OPTIONAL { ?study msc:publication ?publication .
    OPTIONAL { ?publication prism:doi ?doi }
    OPTIONAL { ?publication fabio:hasPubMedId ?pmid }
    OPTIONAL { ?publication fabio:hasPublicationYear ?year } }
"""


def cards_for(studies):
    """The cards of the studies (IRIs), in the order given; kg.web.paging picks which."""
    # The IRIs come from the store's own answers, not from a request.
    values = values_block("study", studies)
    if values is None:
        return []
    query = (f"SELECT ?study ?title ?author ?summary ?position ?phase ?doi ?pmid ?year "
             f"WHERE {{ {values}\n{CARD_FIELDS} }}")
    cards = {}
    for row in select(query):
        card = cards.get(row["study"])
        if card is None:
            card = cards[row["study"]] = Card(row["study"], str(row["title"]))
        card.author = card.author or as_text(row["author"])
        card.summary = card.summary or as_text(row["summary"])
        card.position = card.position if card.position is not None else as_int(row["position"])
        card.phase = card.phase or as_text(row["phase"])
        card.year = card.year or as_text(row["year"])
        card.doi = card.doi or as_text(row["doi"])
        card.pmid = card.pmid or as_text(row["pmid"])
    return [cards[s] for s in studies if s in cards]


# ---------------------------------------------------------------- outcomes


@dataclass
class OutcomeRow:
    iri: URIRef
    study: URIRef
    study_title: str
    label: str
    measure: URIRef | None
    measure_label: str
    group: URIRef | None
    group_label: str | None
    group_size: str | None
    value: str
    timepoint: str
    counted: URIRef | None
    counted_label: str | None
    change: str
    source_text: str | None
    order: tuple = field(default=(), repr=False)


OUTCOMES = """SELECT ?outcome ?study ?studyTitle ?summary ?label ?measure ?measureLabel ?group ?groupLabel
    ?groupSize ?value ?unit ?numerator ?denominator ?timepoint ?stated ?counted ?countedLabel ?direction
    ?significant ?text ?key WHERE {
  %s
  ?study msc:outcome ?outcome ; dcterms:title ?studyTitle .
  OPTIONAL { ?study msc:summary ?summary }
  OPTIONAL { ?outcome rdfs:label ?label }
  OPTIONAL { ?outcome msc:measure ?measure OPTIONAL { ?measure skos:prefLabel ?measureLabel } }
  OPTIONAL { ?outcome msc:group ?group
    OPTIONAL { ?group rdfs:label ?groupLabel } OPTIONAL { ?group msc:groupSize ?groupSize } }
  OPTIONAL { ?outcome qudt:numericValue ?value }
  OPTIONAL { ?outcome qudt:unit ?unit }
  OPTIONAL { ?outcome msc:numerator ?numerator }
  OPTIONAL { ?outcome msc:denominator ?denominator }
  OPTIONAL { ?outcome msc:timepoint ?timepoint }
  OPTIONAL { ?outcome msc:timepointStated ?stated }
  OPTIONAL { ?outcome msc:unitOfAnalysis ?counted OPTIONAL { ?counted skos:prefLabel ?countedLabel } }
  OPTIONAL { ?outcome msc:changeDirection ?direction }
  OPTIONAL { ?outcome msc:statisticallySignificant ?significant }
  OPTIONAL { ?outcome msc:sourceText ?text }
}"""


NUMBER_WORDS = ("no|zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
                "nineteen", "twenty")


def _value_place(value, text):
    """Where the sentence states the value (as digits or in words), to keep its outcomes in its order."""
    if value is None or not text:
        return len(text or "")
    number = str(value)
    words = [re.escape(number)]
    if re.fullmatch(r"\d+", number) and int(number) < len(NUMBER_WORDS):
        words.append(NUMBER_WORDS[int(number)])
    match = re.search(r"(?<![\w.])(?:" + "|".join(words) + r")(?![\w])", text, re.IGNORECASE)
    return match.start() if match else len(text)


def outcome_rows(pattern, key):
    """The outcomes the pattern admits (?key bound to key), ordered as their study's summary tells
    them, then by timepoint."""
    rows = {}
    for row in select(OUTCOMES % pattern, key=key):
        if row["outcome"] in rows:
            continue
        text = as_text(row["text"])
        if row["timepoint"] is not None:
            when = timepoint_words(row["timepoint"], text)
        elif row["stated"] is not None and str(row["stated"]).lower() == "false":
            when = "not stated"
        else:
            when = ""
        summary = as_text(row["summary"]) or ""
        place = summary.find(text) if text else -1
        rows[row["outcome"]] = OutcomeRow(
            iri=row["outcome"], study=row["study"], study_title=str(row["studyTitle"]),
            label=as_text(row["label"]) or as_text(row["measureLabel"]) or "outcome",
            measure=row["measure"],
            measure_label=as_text(row["measureLabel"]) or as_text(row["measure"]) or "",
            group=row["group"], group_label=as_text(row["groupLabel"]), group_size=as_text(row["groupSize"]),
            value=value_words(row["value"], row["unit"], row["numerator"], row["denominator"]),
            timepoint=when, counted=row["counted"], counted_label=as_text(row["countedLabel"]),
            change=change_words(row["direction"], row["significant"]), source_text=text,
            order=(str(row["studyTitle"]).lower(), place if place >= 0 else len(summary),
                   _value_place(row["value"], text), timepoint_days(row["timepoint"]),
                   (as_text(row["label"]) or "").lower()),
        )
    return sorted(rows.values(), key=lambda r: r.order)
