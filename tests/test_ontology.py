"""The ontology: every term documented, and the typed namespace in code matches the file."""

import pytest
from rdflib import OWL, RDF, RDFS, Graph, URIRef
from rdflib.namespace import SKOS

from kg import config
from kg.dataset import load_graph
from kg.namespaces import MSC

ONTOLOGY = Graph().parse(config.ONTOLOGY_DIR / "msc.ttl")
NS = str(MSC._NS)
TERMS = sorted({s for s in ONTOLOGY.subjects() if str(s).startswith(NS)})


def test_the_typed_namespace_lists_exactly_the_ontologys_terms():
    assert {str(t)[len(NS):] for t in TERMS} == set(MSC.__annotations__)


def test_a_misspelt_term_is_an_error():
    with pytest.raises(AttributeError):
        MSC.tittle  # noqa: B018


@pytest.mark.parametrize("term", TERMS, ids=lambda t: t.split("#")[-1])
def test_every_term_is_labelled_defined_and_owned(term):
    assert len(list(ONTOLOGY.objects(term, RDFS.label))) == 1
    assert len(list(ONTOLOGY.objects(term, SKOS.definition))) == 1
    assert (term, RDFS.isDefinedBy, URIRef(config.ONTOLOGY_IRI)) in ONTOLOGY


def test_every_term_is_aligned_or_specific_to_the_library():
    alignments = {RDFS.subClassOf, RDFS.subPropertyOf, SKOS.exactMatch, SKOS.closeMatch}
    classes = set(ONTOLOGY.subjects(RDF.type, OWL.Class))
    aligned = {s for s in classes if any(ONTOLOGY.objects(s, p) for p in alignments)}
    # Only the two classes without any counterpart in the aligned vocabularies may stand alone.
    assert classes - aligned == {MSC.StudyGroup, MSC.DonorRelation} - aligned


def test_the_data_uses_only_terms_the_ontology_defines():
    data = load_graph()
    used = {t for triple in data for t in triple if isinstance(t, URIRef) and str(t).startswith(NS)}
    assert used <= set(TERMS), f"undefined: {sorted(used - set(TERMS))}"
