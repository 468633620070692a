"""Fidelity of the curated data to its sources: nothing in data/ may be invented.

The seed page and the bibliography are copied into tests/fixtures so the repository stands
alone; every text and number in data/ must be found in one of them.
"""

import re
from decimal import Decimal
from pathlib import Path

import pytest
from rdflib import RDF, XSD, Literal, URIRef
from rdflib.namespace import DCTERMS, PROV, SDO

from kg import config
from kg.dataset import default_files, load_graph
from kg.namespaces import MSC, PRISM, QUDT, UNIT

FIXTURES = Path(__file__).parent / "fixtures"
SEED = (FIXTURES / "seed" / "000_5fd57e98103617e8.txt").read_text(encoding="utf-8")
BIBLIOGRAPHY = (FIXTURES / "sources" / "bibliography.md").read_text(encoding="utf-8")
SEED_PARAGRAPHS = [p.strip() for p in SEED.split("\n") if p.strip()]

WORDS = {
    "no": 0, "none": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fifteen": 15,
}
NUMERIC_TYPES = {XSD.integer, XSD.decimal, XSD.nonNegativeInteger, XSD.positiveInteger, XSD.gYear}


@pytest.fixture(scope="module")
def graph():
    return load_graph([p for p in default_files() if config.DATA_DIR in p.parents])


def numbers_in(text):
    """Every number a sentence states, in digits or in words ("Thirteen", "no", "all" as 100)."""
    found = {Decimal(n) for n in re.findall(r"\d+(?:\.\d+)?", text)}
    for word in re.findall(r"[A-Za-z]+", text):
        if word.lower() in WORDS:
            found.add(Decimal(WORDS[word.lower()]))
        if word.lower() == "all":
            found.add(Decimal(100))
    return found


def duration_amounts(lexical):
    """The number a duration was written from: xsd:duration has no weeks, so P84D may be week 12."""
    if lexical == "PT0S":
        return {Decimal(0)}
    amount = Decimal(re.fullmatch(r"P(\d+)[YMD]", lexical).group(1))
    return {amount, amount / 7} if lexical.endswith("D") and amount % 7 == 0 else {amount}


def studies(graph):
    return sorted(graph.subjects(RDF.type, MSC.Study), key=lambda s: int(graph.value(s, SDO.position)))


def test_the_library_has_the_seeds_eight_studies_in_its_order(graph):
    titles = [str(graph.value(s, DCTERMS.title)) for s in studies(graph)]
    assert len(titles) == 8
    positions = [SEED.index(t) for t in titles]
    assert positions == sorted(positions), "schema:position must follow the order of the seed page"


@pytest.mark.parametrize("predicate", [DCTERMS.title, MSC.summary, DCTERMS.description])
def test_texts_are_verbatim_paragraphs_of_the_seed(graph, predicate):
    pairs = graph.subject_objects(predicate)
    texts = [str(o) for s, o in pairs if (s, RDF.type, MSC.Publication) not in graph]
    assert texts
    for text in texts:
        assert text in SEED_PARAGRAPHS, f"not a verbatim paragraph of the seed: {text[:80]}"


def test_first_authors_are_named_as_the_seed_names_them(graph):
    for study in studies(graph):
        author = graph.value(study, MSC.firstAuthor)
        name = str(graph.value(author, SDO.name))
        assert f"{name}, et al." in SEED_PARAGRAPHS
        title = str(graph.value(study, DCTERMS.title))
        assert SEED_PARAGRAPHS[SEED_PARAGRAPHS.index(title) + 1] == f"{name}, et al."


def outcomes(graph):
    return sorted(graph.subjects(RDF.type, MSC.Outcome))


def test_there_is_an_outcome_for_every_figure_the_seed_states(graph):
    numeric = [o for o in outcomes(graph) if graph.value(o, QUDT.numericValue) is not None]
    assert len(numeric) >= 32


def test_every_outcome_sentence_is_verbatim_from_its_own_studys_summary(graph):
    for study in studies(graph):
        summary = str(graph.value(study, MSC.summary))
        for outcome in graph.objects(study, MSC.outcome):
            sentence = str(graph.value(outcome, MSC.sourceText))
            assert sentence in summary, f"{outcome}: source text not in the summary of {study}"


def test_every_outcome_value_is_stated_in_its_sentence(graph):
    for outcome in outcomes(graph):
        value = graph.value(outcome, QUDT.numericValue)
        if value is None:
            continue
        sentence = str(graph.value(outcome, MSC.sourceText))
        assert Decimal(str(value)) in numbers_in(sentence), f"{outcome}: {value} is not in {sentence!r}"
        if Decimal(str(value)) == 100 and "100" not in sentence:
            assert graph.value(outcome, QUDT.unit) == UNIT.PERCENT


def attributed(graph, node, prop):
    return any((a, MSC.attributedProperty, prop) in graph for a in graph.objects(node, MSC.attribution))


def test_every_timepoint_is_stated_in_its_sentence_or_attributed(graph):
    for outcome in outcomes(graph):
        timepoint = graph.value(outcome, MSC.timepoint)
        if timepoint is None:
            assert graph.value(outcome, MSC.timepointStated) == Literal(False)
            continue
        if attributed(graph, outcome, MSC.timepoint):
            continue
        sentence = str(graph.value(outcome, MSC.sourceText))
        amounts = duration_amounts(str(timepoint))
        assert amounts & (numbers_in(sentence) | {Decimal(0)}), f"{outcome}: {timepoint} not in {sentence!r}"


def test_every_number_in_the_data_is_in_the_seed_or_the_bibliography(graph):
    known = numbers_in(SEED) | {Decimal(n) for n in re.findall(r"\d+", BIBLIOGRAPHY)}
    for s, p, o in graph:
        if p == SDO.position or not isinstance(o, Literal):
            continue
        if o.datatype in NUMERIC_TYPES:
            assert Decimal(str(o)) in known, f"{s} {p} {o}: number found in no source"
        if o.datatype == XSD.duration:
            assert duration_amounts(str(o)) & known, f"{s} {p} {o}: duration found in no source"


IDENTIFIERS = [PRISM.doi, PRISM.volume, PRISM.number, PRISM.startingPage, PRISM.endingPage,
               PRISM.publicationName, MSC.registryId, MSC.eudractNumber]


@pytest.mark.parametrize("predicate", IDENTIFIERS, ids=lambda p: p.split("/")[-1].split("#")[-1])
def test_identifiers_are_copied_from_the_bibliography_or_the_seed(graph, predicate):
    for subject, value in graph.subject_objects(predicate):
        assert str(value) in BIBLIOGRAPHY or str(value) in SEED, f"{subject}: {value} has no source"


def test_facts_from_elsewhere_name_a_source_record_listed_in_the_bibliography(graph):
    sources = set(graph.objects(None, DCTERMS.source))
    assert sources
    for source in sources:
        assert str(source) == config.SEED_PAGE or str(source) in BIBLIOGRAPHY, source


def test_every_study_and_outcome_says_where_it_came_from(graph):
    for node in studies(graph) + outcomes(graph):
        assert (node, PROV.wasDerivedFrom, URIRef(config.SEED_PAGE)) in graph


def test_names_of_people_come_from_the_seed_or_their_source_record(graph):
    for person in graph.subjects(RDF.type, SDO.Person):
        name = str(graph.value(person, SDO.name))
        source = str(graph.value(person, PROV.wasDerivedFrom))
        text = SEED if source == config.SEED_PAGE else BIBLIOGRAPHY
        assert name in text, f"{person}: {name} not in {source}"


def test_data_files_declare_the_configured_base():
    for path in default_files():
        if path.parent.name == "ontology":
            continue
        text = path.read_text(encoding="utf-8")
        bases = re.findall(r"^@base <([^>]*)>", text, flags=re.M)
        assert bases in ([], [config.BASE]), f"{path.name}: @base {bases} is not {config.BASE}"


def test_minted_iris_are_readable_slugs_under_the_base(graph):
    pattern = re.compile(re.escape(config.BASE) + r"[a-z0-9][a-z0-9/-]*")
    for subject in set(graph.subjects()):
        if isinstance(subject, URIRef) and str(subject).startswith(config.BASE):
            is_term = str(subject).startswith(config.ONTOLOGY_IRI)
            assert is_term or pattern.fullmatch(str(subject)), f"not a readable slug: {subject}"
