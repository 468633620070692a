"""kg.validation: validating files and graphs against the shapes, and the report a curator reads."""

import json
import re

import pytest
from rdflib import Graph
from rdflib.compare import isomorphic
from rdflib.namespace import RDF, SH

from kg import config, dataset, validation
from kg.errors import DataParseError, QueryError
from kg.namespaces import MSC, SHAPES

ONTOLOGY = config.ONTOLOGY_DIR / "msc.ttl"
VOCABULARY = config.DATA_DIR / "vocabulary.ttl"
ONTOLOGY_SHAPES = config.SHAPES_DIR / "ontology-shapes.ttl"

HEADER = """@base <https://w3id.org/msc-kg/> .
@prefix msc:     <https://w3id.org/msc-kg/ontology#> .
@prefix rdfs:    <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd:     <http://www.w3.org/2001/XMLSchema#> .
@prefix skos:    <http://www.w3.org/2004/02/skos/core#> .
@prefix schema:  <https://schema.org/> .
@prefix dcterms: <http://purl.org/dc/terms/> .
@prefix prov:    <http://www.w3.org/ns/prov#> .
@prefix sh:      <http://www.w3.org/ns/shacl#> .
@prefix prism:   <http://prismstandard.org/namespaces/basic/2.0/> .
@prefix fabio:   <http://purl.org/spar/fabio/> .
"""

# Two files: a study with two faults and a warning, and its first author without a name.
STUDY = """
<https://example.org/page> a prov:Entity ; rdfs:label "The page"@en .
<library/section> a msc:LibrarySection ;
    dcterms:title "Section"@en ;
    msc:sectionIndication <indication/cd> ;
    prov:wasDerivedFrom <https://example.org/page> .
<library> a msc:ResearchLibrary ;
    dcterms:title "Library"@en ;
    msc:hasSection <library/section> ;
    prov:wasDerivedFrom <https://example.org/page> .
<indication/cd> a msc:Indication ;
    skos:prefLabel "Crohn's disease"@en ;
    prov:wasDerivedFrom <https://example.org/page> .

<study/untitled> a msc:Study ;
    msc:summary "A summary."@en ;
    msc:firstAuthor <person/nameless> ;
    schema:author <person/nameless> ;
    msc:listedIn <library/section> ;
    schema:position 1 ;
    msc:indication <indication/cd> ;
    msc:registryId "NCT42" ;
    msc:intervention <study/untitled/intervention> ;
    prov:wasDerivedFrom <https://example.org/page> ;
    msc:attribution [ a msc:SourceAttribution ;
        msc:attributedProperty msc:registryId ;
        dcterms:source <https://example.org/page> ] .

<study/titled> a msc:Study ;
    dcterms:title "A titled study"@en ;
    msc:summary "Another summary."@en ;
    msc:firstAuthor <person/nameless> ;
    schema:author <person/nameless> ;
    msc:listedIn <library/section> ;
    schema:position 2 ;
    msc:indication <indication/cd> ;
    msc:phase <phase/2> ;
    msc:publication <study/titled/publication> ;
    msc:intervention <study/titled/intervention> ;
    prov:wasDerivedFrom <https://example.org/page> ;
    msc:attribution [ a msc:SourceAttribution ;
        msc:attributedProperty msc:enrolledCount ;
        dcterms:source <https://example.org/page> ] .

<study/titled/publication> a msc:Publication ;
    prism:doi "10.1234/x" ; fabio:hasPubMedId "1" ;
    msc:attribution [ a msc:SourceAttribution ;
        msc:attributedProperty prism:doi , fabio:hasPubMedId ;
        dcterms:source <https://example.org/page> ] .
"""
INTERVENTIONS = """
<study/untitled/intervention> a msc:Intervention ;
    rdfs:label "Cells"@en ;
    msc:cellType <cell-type/mesenchymal-stem-cell> ;
    msc:cellSource <cell-source/bone-marrow> ;
    msc:donorRelation <donor-relation/autologous> .
<study/titled/intervention> a msc:Intervention ;
    rdfs:label "Cells"@en ;
    msc:cellType <cell-type/mesenchymal-stem-cell> ;
    msc:cellSource <cell-source/bone-marrow> ;
    msc:donorRelation <donor-relation/autologous> .
"""
PEOPLE = """
<person/nameless> a schema:Person ;
    prov:wasDerivedFrom <https://example.org/page> .
"""


def write(tmp_path, name, body):
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def shapes():
    return validation.load_shapes()


@pytest.fixture
def files(tmp_path):
    return [
        ONTOLOGY,
        VOCABULARY,
        write(tmp_path, "studies.ttl", STUDY + INTERVENTIONS),
        write(tmp_path, "people.ttl", PEOPLE),
    ]


@pytest.fixture
def report(files, shapes):
    return validation.validate(files, shapes)


def find(report, focus, path):
    found = [r for r in report.results if r.focus == config.BASE + focus and r.path == path]
    assert found, f"no result for {focus} {path}:\n{report.to_text()}"
    return found[0]


# ---------------------------------------------------------------- results


def test_results_say_what_where_and_which_shape(report, files):
    title = find(report, "study/untitled", "dcterms:title")
    assert title.severity == "Violation"
    assert title.shape == str(SHAPES.StudyShape)  # from a property shape nested in StudyShape
    assert title.component == "sh:MinCountConstraintComponent"
    assert title.file == dataset.display_path(files[2])
    assert title.focus_label == config.BASE + "study/untitled"  # no title: the IRI stands in
    registry = find(report, "study/untitled", "msc:registryId")
    assert registry.value == '"NCT42"'
    assert "NCT followed by eight digits" in registry.message
    name = find(report, "person/nameless", "schema:name")
    assert name.file == dataset.display_path(files[3])
    phase = find(report, "study/untitled", "msc:phase")
    assert phase.severity == "Warning"
    assert not report.conforms
    assert {r.severity for r in report.violations} == {"Violation"}
    assert {r.severity for r in report.warnings} == {"Warning"}


def test_a_labelled_node_and_a_blank_node_are_shown_by_label(report):
    attribution = [r for r in report.results if r.focus.startswith("_:")]
    assert attribution, report.to_text()
    assert attribution[0].focus_label == "msc:attribution of A titled study"
    assert attribution[0].path == "msc:attributedProperty"  # names msc:enrolledCount, which is absent
    assert attribution[0].file is not None


def test_sparql_messages_compact_the_iris_they_name(tmp_path, shapes):
    body = STUDY.replace("msc:attributedProperty msc:registryId ;", "msc:attributedProperty msc:summary ;")
    data = write(tmp_path, "s.ttl", body + INTERVENTIONS + PEOPLE)
    report = validation.validate([ONTOLOGY, VOCABULARY, data], shapes)
    unattributed = [r for r in report.violations if r.message.startswith("msc:registryId is not from")]
    assert unattributed, report.to_text()
    assert "https://" not in unattributed[0].message


@pytest.mark.parametrize(
    "usage, path",
    [
        ('<study/x> msc:tittle "A title"@en .', "msc:tittle"),
        ("<study/x> a msc:tittle .", "rdf:type"),
        ("<study/x> rdfs:seeAlso msc:tittle .", "rdfs:seeAlso"),
    ],
    ids=["predicate", "class", "object"],
)
def test_an_undefined_msc_term_is_a_violation_naming_it(tmp_path, shapes, usage, path):
    data = write(tmp_path, "typo.ttl", usage + "\n")
    report = validation.validate([ONTOLOGY, data], shapes)
    assert not report.conforms
    result = find(report, "study/x", path)
    assert result.severity == "Violation"
    assert result.shape == str(SHAPES.DefinedTermShape)
    assert result.message == (
        "msc:tittle is not defined in ontology/msc.ttl: check the spelling or add the term there."
    )
    assert result.file == dataset.display_path(data)


def test_defined_msc_terms_pass(tmp_path, shapes):
    data = write(tmp_path, "fine.ttl", '<trial/x> msc:registryId "NCT01234567" ; rdfs:seeAlso msc:Study .\n')
    report = validation.validate([ONTOLOGY, data], shapes)
    assert report.results == [], report.to_text()


# ---------------------------------------------------------------- the ontology shapes


def test_the_ontology_passes_the_ontology_shapes():
    report = validation.validate([ONTOLOGY], [ONTOLOGY_SHAPES])
    assert report.results == [], report.to_text()


def without_definition(text, term):
    """The ontology text with the skos:definition line of one term's block removed."""
    blocks = text.split("\n\n")
    index = next(i for i, b in enumerate(blocks) if b.lstrip().startswith(f"msc:{term} a "))
    lines = blocks[index].splitlines()
    kept = [line for line in lines if not line.strip().startswith("skos:definition")]
    assert len(kept) == len(lines) - 1
    blocks[index] = "\n".join(kept)
    return "\n\n".join(blocks)


@pytest.mark.parametrize("term", ["Study", "timepoint", "ScorePoint"])
def test_a_term_without_definition_fails_the_ontology_shapes(tmp_path, term):
    broken = tmp_path / "msc.ttl"
    broken.write_text(without_definition(ONTOLOGY.read_text(encoding="utf-8"), term), encoding="utf-8")
    report = validation.validate([broken], [ONTOLOGY_SHAPES])
    assert [(r.focus, r.path, r.severity) for r in report.results] == [
        (str(MSC[term]), "skos:definition", "Violation")
    ], report.to_text()
    assert report.results[0].shape == str(SHAPES.OntologyTermShape)


# ---------------------------------------------------------------- rendering


def test_text_groups_results_by_focus_node_and_names_the_file(report, files):
    text = report.to_text()
    lines = text.splitlines()
    for focus in {r.focus for r in report.results}:
        shown = focus if focus.startswith("_:") else f"<{focus}>"
        headers = [i for i, line in enumerate(lines) if not line.startswith(" ") and line.endswith(shown)]
        assert len(headers) == 1, f"{focus} is not one group:\n{text}"
        file = next(r.file for r in report.results if r.focus == focus)
        assert lines[headers[0] + 1] == f"  in {file}"
    assert f"  in {dataset.display_path(files[2])}" in lines
    assert f"  in {dataset.display_path(files[3])}" in lines
    assert "  Violation  dcterms:title  A study needs exactly one title" in text
    counts = report.counts()
    assert lines[-1] == (
        f"{counts['violations']} violations, {counts['warnings']} warnings in {counts['nodes']} nodes"
    )


def test_text_of_conforming_data_says_so(tmp_path, shapes):
    report = validation.validate([ONTOLOGY, VOCABULARY], shapes)
    assert report.conforms
    assert report.to_text().splitlines()[-1] == "Conforms: 0 violations, 0 warnings"
    titled = '<study/untitled> a msc:Study ; dcterms:title "T"@en ;'
    body = STUDY.replace("<study/untitled> a msc:Study ;", titled)
    body = body.replace('"NCT42"', '"NCT01234567"').replace("<person/nameless>", "<person/named>")
    body += INTERVENTIONS + '<person/named> a schema:Person ; schema:name "N" ;'
    body += " prov:wasDerivedFrom <https://example.org/page> .\n"
    report = validation.validate([ONTOLOGY, VOCABULARY, write(tmp_path, "ok.ttl", body)], shapes)
    assert report.conforms, report.to_text()
    assert report.warnings
    assert report.to_text().splitlines()[-1] == f"Conforms: 0 violations, {len(report.warnings)} warnings"


def test_json_round_trips(report):
    document = report.to_json()
    assert json.loads(json.dumps(document)) == document
    assert document["conforms"] is False
    assert document["counts"]["violations"] == len(report.violations) > 0
    assert len(document["results"]) == len(report.results)
    assert set(document["results"][0]) == {
        "severity", "focus", "focus_label", "file", "message", "path", "value", "shape", "component"
    }


def test_turtle_parses_back_into_the_shacl_report(report):
    graph = Graph().parse(data=report.to_turtle(), format="turtle")
    assert len(set(graph.subjects(RDF.type, SH.ValidationResult))) == len(report.results)
    assert graph.value(next(graph.subjects(RDF.type, SH.ValidationReport)), SH.conforms).toPython() is False


def result_nodes(report):
    graph = report.results_graph
    return set(graph.objects(next(graph.subjects(RDF.type, SH.ValidationReport)), SH.result))


def test_a_subset_keeps_the_results_it_admits_and_only_those_in_its_graph(report):
    warnings = report.subset(lambda r: r.severity == "Warning")
    assert warnings.results == report.warnings and warnings.conforms
    assert len(result_nodes(warnings)) == len(warnings.results)
    graph = warnings.results_graph
    assert {graph.value(n, SH.resultSeverity) for n in result_nodes(warnings)} == {SH.Warning}
    assert graph.value(next(graph.subjects(RDF.type, SH.ValidationReport)), SH.conforms).toPython() is True
    # Each kept result keeps its parts, such as its focus node and message.
    for node in result_nodes(warnings):
        assert graph.value(node, SH.focusNode) is not None and graph.value(node, SH.resultMessage) is not None


def test_the_first_results_of_a_report_still_say_it_does_not_conform(report):
    first = report.subset(lambda r: r.severity == "Warning" or r.path == "dcterms:title", most=1)
    assert len(first.results) == 1 and len(result_nodes(first)) == 1
    assert first.conforms is False  # the title violation was admitted, then cut
    graph = first.results_graph
    assert graph.value(next(graph.subjects(RDF.type, SH.ValidationReport)), SH.conforms).toPython() is False


@pytest.mark.parametrize(("select", "reason"), [
    ("SELECT $this WHERE { SERVICE <http://127.0.0.1:9/> { $this ?p ?o } }", "SERVICE"),
    ("SELECT $this WHERE { GRAPH ?g { $this ?p ?o } }", "SERVICE, GRAPH and FROM"),
    ("SELECT $this FROM <http://127.0.0.1:9/> WHERE { $this ?p ?o }", "SERVICE, GRAPH and FROM"),
    ("SELECT $this WHERE { $this undeclared:p ?o }", "does not parse"),
    ("SELECT $this WHERE { $this ?p", "does not parse"),
])
def test_shapes_sparql_that_reaches_out_or_breaks_rdflib_is_refused(select, reason):
    shapes = Graph().parse(format="turtle", data=f"""
        @prefix sh: <http://www.w3.org/ns/shacl#> .
        <https://example.org/shape> a sh:NodeShape ; sh:targetNode <https://example.org/x> ;
            sh:sparql [ sh:select \"\"\"{select}\"\"\" ] .""")
    data = Graph().parse(format="turtle", data="<https://example.org/x> <https://example.org/p> 1 .")
    with pytest.raises(QueryError) as refused:
        validation.validate_graph(data, shapes)
    assert reason in str(refused.value)


# ---------------------------------------------------------------- inputs


def test_a_file_that_does_not_parse_names_file_and_line(tmp_path, shapes):
    broken = tmp_path / "broken.ttl"
    broken.write_text(HEADER + "\n<study/x> a msc:Study ;\n    dcterms:title 'unclosed .\n", encoding="utf-8")
    with pytest.raises(DataParseError) as raised:
        validation.validate([ONTOLOGY, broken], shapes)
    assert raised.value.source.endswith("broken.ttl")
    assert raised.value.line is not None


@pytest.mark.parametrize(
    "data, shapes_graph", [("https://example.org/data.ttl", Graph()), (Graph(), "shapes.ttl")]
)
def test_validate_graph_takes_graphs_never_names_to_fetch(data, shapes_graph):
    with pytest.raises(TypeError):
        validation.validate_graph(data, shapes_graph)


def test_validate_graph_of_a_dataset_names_its_files_and_leaves_it_unchanged(files, shapes):
    data = dataset.load_dataset(files)
    before = Graph()
    for graph in data.graphs():
        before += graph
    report = validation.validate_graph(data, shapes)
    assert {r.file for r in report.results} >= {"studies.ttl", "people.ttl"}
    after = Graph()
    for graph in data.graphs():
        after += graph
    assert isomorphic(before, after)


def test_shapes_in_the_data_are_ignored(tmp_path, shapes):
    trap = """
<shape/trap> a sh:NodeShape ;
    sh:targetClass msc:Study ;
    sh:property [ sh:path dcterms:title ; sh:minCount 5 ; sh:message "from the data" ] .
"""
    report = validation.validate([ONTOLOGY, VOCABULARY, write(tmp_path, "trap.ttl", trap)], shapes)
    assert all(r.message != "from the data" for r in report.results)
    assert report.conforms, report.to_text()


def test_the_module_keeps_to_its_brief():
    source = (config.ROOT / "kg" / "validation.py").read_text(encoding="utf-8")
    assert "flask" not in source.lower()
    assert not re.search(r"except\s+(\(.*)?Exception\b", source)
