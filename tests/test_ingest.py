"""kg ingest: a library page becomes Turtle drafts that match the curated data where they overlap."""

import re
from decimal import Decimal
from pathlib import Path

import pytest
from rdflib import Literal, URIRef

from kg import cli, config, ingest
from kg.dataset import load_graph
from kg.figures import WORDS, figures
from kg.namespaces import MSC, UNIT
from kg.validation import validate

FIXTURES = Path(__file__).parent / "fixtures"
SEED = FIXTURES / "seed" / "000_5fd57e98103617e8.txt"
TWO_SECTIONS = FIXTURES / "pages" / "two-sections.txt"
CONTEXT = [config.ONTOLOGY_DIR / "msc.ttl", config.DATA_DIR / "vocabulary.ttl"]
PREFIXES = """PREFIX msc: <https://w3id.org/msc-kg/ontology#> PREFIX schema: <https://schema.org/>
PREFIX dcterms: <http://purl.org/dc/terms/> PREFIX qudt: <http://qudt.org/schema/qudt/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> """
STUDIES = PREFIXES + """SELECT ?position ?title ?author WHERE {
    ?study a msc:Study ; schema:position ?position ; dcterms:title ?title ;
        msc:firstAuthor/schema:name ?author } ORDER BY ?position"""
SECTIONS = PREFIXES + """SELECT ?title ?description WHERE {
    ?section a msc:LibrarySection ; dcterms:title ?title ; dcterms:description ?description }"""
OUTCOMES = PREFIXES + """SELECT ?outcome ?label ?value ?unit ?text WHERE {
    ?outcome a msc:Outcome ; rdfs:label ?label ; qudt:numericValue ?value ; qudt:unit ?unit ;
        msc:sourceText ?text ; msc:reviewStatus "unreviewed" }"""


def draft_files(directory):
    return [Path(directory) / "library.ttl"] + sorted((Path(directory) / "studies").glob("*.ttl"))


@pytest.fixture(scope="module")
def seed_drafts(tmp_path_factory):
    out = tmp_path_factory.mktemp("seed")
    done = ingest.ingest(SEED, out)
    return out, done, load_graph(draft_files(out))


@pytest.fixture(scope="module")
def curated():
    return load_graph([config.DATA_DIR / "library.ttl", *sorted((config.DATA_DIR / "studies").glob("*.ttl"))])


def rows(graph, query):
    return [tuple(row) for row in graph.query(query)]


def test_the_seed_gives_the_curated_studies_in_order(seed_drafts, curated):
    _, done, drafts = seed_drafts
    expected = rows(curated, STUDIES)
    assert len(expected) == 8 and rows(drafts, STUDIES) == expected
    assert len(done.studies) == 8 and not done.unplaced


def test_the_seed_gives_the_curated_section_and_description(seed_drafts, curated):
    assert rows(seed_drafts[2], SECTIONS) == rows(curated, SECTIONS)
    # The section's IRIs are the curated ones, so a draft and the data name the same section.
    assert set(seed_drafts[2].subjects(MSC.hasSection, None)) == set(curated.subjects(MSC.hasSection, None))


def test_the_drafts_conform_to_the_shapes(seed_drafts):
    report = validate(CONTEXT + draft_files(seed_drafts[0]))
    assert report.conforms, report.to_text()


def test_reimporting_gives_the_same_bytes_and_iris(seed_drafts, tmp_path):
    first, done, _ = seed_drafts
    again = ingest.ingest(SEED, tmp_path)
    assert again.studies == done.studies
    assert [p.name for p in draft_files(tmp_path)] == [p.name for p in draft_files(first)]
    for old, new in zip(draft_files(first), draft_files(tmp_path), strict=True):
        assert old.read_bytes() == new.read_bytes(), old.name


@pytest.mark.parametrize("force", [False, True], ids=["without-force", "with-force"])
def test_existing_files_are_replaced_only_with_force(tmp_path, capsys, force):
    assert cli.main(["ingest", str(SEED), "-o", str(tmp_path)]) == 0
    library = tmp_path / "library.ttl"
    library.write_text("# edited by a curator\n", encoding="utf-8")
    code = cli.main(["ingest", str(SEED), "-o", str(tmp_path)] + (["--force"] if force else []))
    if force:
        assert code == 0 and library.read_text(encoding="utf-8").startswith("@base")
    else:
        assert code == 2 and "--force" in capsys.readouterr().err
        assert library.read_text(encoding="utf-8") == "# edited by a curator\n"


def test_the_default_folder_is_new_and_not_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    done = ingest.ingest(SEED)
    assert all(tmp_path / "drafts" in p.resolve().parents for p in done.files)


def test_every_draft_value_is_a_figure_of_its_own_sentence(seed_drafts):
    found = rows(seed_drafts[2], OUTCOMES)
    assert len(found) > 10
    for _, label, value, unit, text in found:
        shown = str(label).removeprefix("Unreviewed draft: ")
        assert shown in str(text), (shown, text)
        number = shown.rstrip("%").strip()
        stated = Decimal(WORDS.get(number.lower(), number))
        assert Decimal(str(value)) == stated
        assert unit == (UNIT.PERCENT if shown.endswith("%") else UNIT.NUM)


@pytest.mark.parametrize("sentence, figure, unit, timepoint", [
    ("80% of patients had a clinical response", "80", UNIT.PERCENT, None),
    ("80% of patients had a clinical response", "53", UNIT.PERCENT, None),
    ("At W12, five patients", "5", UNIT.NUM, "P84D"),
    ("Five subjects showed clinical response 2 weeks", "5", UNIT.NUM, "P14D"),
    ("At 6 months, 31% of the treatment group", "31", UNIT.PERCENT, "P6M"),
])
def test_figures_give_value_unit_and_timepoint(seed_drafts, sentence, figure, unit, timepoint):
    graph = seed_drafts[2]
    hits = [o for o, _, value, u, text in rows(graph, OUTCOMES)
            if str(text).startswith(sentence) and str(value) == figure and u == unit]
    assert len(hits) == 1
    stated = graph.value(hits[0], MSC.timepoint)
    if timepoint is None:
        assert stated is None and graph.value(hits[0], MSC.timepointStated) == Literal(False)
    else:
        assert str(stated) == timepoint


def test_scores_phases_timepoints_and_group_sizes_are_not_counts():
    values = {value for *_, value, _, _ in figures(
        "In phase 2, 15 patients' CDAI fell from 370 to 203 at day 42. In cohort 1 [n = 4] 63% closed.")}
    assert values == {"15", "63"}  # 15 patients is a count; phase 2, 370, 203, day 42, cohort 1, n = 4 not


def test_unplaced_lines_are_reported_with_their_numbers(tmp_path, capsys):
    code = cli.main(["ingest", str(TWO_SECTIONS), "-o", str(tmp_path), "--source", "https://example.org/page"])
    err = capsys.readouterr().err
    assert code == 0
    assert re.findall(r":(\d+): warning", err) == ["18", "30"]
    drafts = load_graph(draft_files(tmp_path))
    assert [str(t) for _, t, _ in rows(drafts, STUDIES)] == ["A first study of stromal cells",
                                                             "A second study of stromal cells"]
    assert {str(a) for *_, a in rows(drafts, STUDIES)} == {"Jane Doe", "John Roe"}
    assert len(rows(drafts, SECTIONS)) == 2
    assert validate(CONTEXT + draft_files(tmp_path)).conforms


def test_another_page_must_name_its_source(tmp_path, capsys):
    assert cli.main(["ingest", str(TWO_SECTIONS), "-o", str(tmp_path)]) == 2
    assert "--source" in capsys.readouterr().err
    done = ingest.ingest(TWO_SECTIONS, tmp_path, source="https://example.org/page")
    graph = load_graph(draft_files(tmp_path))
    study = URIRef(done.studies[0])
    assert str(graph.value(study, URIRef("http://www.w3.org/ns/prov#wasDerivedFrom"))) == "https://example.org/page"


@pytest.mark.parametrize("text", ["", "Research library\n\nOnly a headline\n", "One\n\nTwo\n\nThree.\n"])
def test_a_page_without_studies_is_a_parse_error(tmp_path, text):
    page = tmp_path / "page.txt"
    page.write_text(text, encoding="utf-8")
    args = ["ingest", str(page), "-o", str(tmp_path / "out"), "--source", "https://example.org/p"]
    assert cli.main(args) == 2
    assert not (tmp_path / "out").exists()
