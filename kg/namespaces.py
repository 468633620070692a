"""Namespaces the knowledge graph uses. MSC is typed: a misspelt term is an AttributeError."""

from rdflib import Namespace, URIRef
from rdflib.namespace import DefinedNamespace

from kg.config import BASE, ONTOLOGY_IRI


class MSC(DefinedNamespace):
    """The msc-kg ontology (ontology/msc.ttl); tests hold this list to the file."""

    _NS = Namespace(ONTOLOGY_IRI + "#")
    _fail = True

    CellSource: URIRef
    CellType: URIRef
    DesignFeature: URIRef
    DonorRelation: URIRef
    Indication: URIRef
    Intervention: URIRef
    LibrarySection: URIRef
    Outcome: URIRef
    OutcomeMeasure: URIRef
    Phase: URIRef
    Publication: URIRef
    ResearchLibrary: URIRef
    ScorePoint: URIRef
    SourceAttribution: URIRef
    Study: URIRef
    StudyGroup: URIRef
    UnitOfAnalysis: URIRef
    attributedProperty: URIRef
    attribution: URIRef
    cellSource: URIRef
    cellType: URIRef
    changeDirection: URIRef
    denominator: URIRef
    designFeature: URIRef
    donorRelation: URIRef
    dose: URIRef
    enrolledCount: URIRef
    eudractNumber: URIRef
    firstAuthor: URIRef
    followUpDuration: URIRef
    followUpOf: URIRef
    group: URIRef
    groupSize: URIRef
    hasSection: URIRef
    indication: URIRef
    intervention: URIRef
    listedIn: URIRef
    measure: URIRef
    numerator: URIRef
    outcome: URIRef
    phase: URIRef
    productName: URIRef
    publication: URIRef
    registryId: URIRef
    reviewStatus: URIRef
    sameTrialAs: URIRef
    secondarySource: URIRef
    sectionIndication: URIRef
    sourceText: URIRef
    statisticallySignificant: URIRef
    studyGroup: URIRef
    subgroupOf: URIRef
    summary: URIRef
    timepoint: URIRef
    timepointStated: URIRef
    trialAcronym: URIRef
    unitOfAnalysis: URIRef


DATA = Namespace(BASE)
SHAPES = Namespace(BASE + "shapes#")
BIBO = Namespace("http://purl.org/ontology/bibo/")
FABIO = Namespace("http://purl.org/spar/fabio/")
PRISM = Namespace("http://prismstandard.org/namespaces/basic/2.0/")
QUDT = Namespace("http://qudt.org/schema/qudt/")
UNIT = Namespace("http://qudt.org/vocab/unit/")
OBO = Namespace("http://purl.obolibrary.org/obo/")

# Prefixes written into every serialization, so Turtle output reads like the source files.
PREFIXES = {
    "msc": MSC._NS,
    "bibo": BIBO,
    "fabio": FABIO,
    "prism": PRISM,
    "qudt": QUDT,
    "unit": UNIT,
    "obo": OBO,
    "schema": Namespace("https://schema.org/"),
    "dcterms": Namespace("http://purl.org/dc/terms/"),
    "prov": Namespace("http://www.w3.org/ns/prov#"),
    "skos": Namespace("http://www.w3.org/2004/02/skos/core#"),
    "sh": Namespace("http://www.w3.org/ns/shacl#"),
    "void": Namespace("http://rdfs.org/ns/void#"),
}
