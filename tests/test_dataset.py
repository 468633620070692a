"""kg.dataset: which files make the dataset, the graph each loads into, and where a file fails to parse."""

import pytest
from rdflib import Graph, URIRef

from kg import config
from kg.dataset import default_files, display_path, graph_name, load_dataset, load_graph, parse_file
from kg.errors import DataParseError
from kg.validation import validate_graph

GOOD = "@prefix ex: <http://example.org/> .\nex:a ex:p ex:b .\n"
MISSING_DOT = '@prefix ex: <http://example.org/> .\n\nex:a ex:p ex:b\nex:c ex:p "d" .\n'
UNTERMINATED = '@prefix ex: <http://example.org/> .\nex:a ex:p "never closed .\nex:c ex:p ex:d .\n'


def test_default_files_are_the_ontology_and_every_data_file():
    files = default_files()
    assert files[0] == config.ONTOLOGY_DIR / "msc.ttl"
    assert set(files) == set(config.ONTOLOGY_DIR.glob("*.ttl")) | set(config.DATA_DIR.rglob("*.ttl"))
    assert any(config.DATA_DIR / "studies" in f.parents for f in files)


def test_graph_name_is_the_path_under_the_repository():
    path = config.DATA_DIR / "studies" / "forbes-2014.ttl"
    assert graph_name(path) == URIRef(config.BASE + "graph/data/studies/forbes-2014")


def test_graph_name_outside_the_repository_is_the_file_name(tmp_path):
    assert graph_name(tmp_path / "x.ttl") == URIRef(config.BASE + "graph/x")


def test_display_path_is_relative_inside_the_repository(tmp_path):
    assert display_path(config.ONTOLOGY_DIR / "msc.ttl") == "ontology/msc.ttl"
    assert display_path(tmp_path / "x.ttl") == str(tmp_path / "x.ttl")


@pytest.mark.parametrize(
    ("text", "line", "column", "reason"),
    [
        # The statement on line 3 lacks its '.', so line 4's subject is where the parser stops.
        (MISSING_DOT, 4, 1, "expected '.'"),
        # rdflib reports an unterminated string where the line ends, after its last character.
        (UNTERMINATED, 2, len('ex:a ex:p "never closed .') + 1, "newline found in string"),
    ],
    ids=["missing-dot", "unterminated-string"],
)
def test_parse_error_names_file_line_and_column(turtle, text, line, column, reason):
    path = turtle("broken.ttl", text)
    with pytest.raises(DataParseError) as caught:
        parse_file(path)
    error = caught.value
    assert (error.source, error.line, error.column) == (str(path), line, column)
    assert reason in error.reason
    assert str(error).startswith(f"{path}:{line}:{column}: ")


def test_parse_error_for_a_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin1.ttl"
    path.write_bytes('<http://example.org/a> <http://example.org/p> "caf\xe9" .\n'.encode("latin-1"))
    with pytest.raises(DataParseError, match="not UTF-8"):
        parse_file(path)


def test_parse_error_for_a_missing_file(tmp_path):
    with pytest.raises(DataParseError) as caught:
        parse_file(tmp_path / "absent.ttl")
    assert caught.value.source == str(tmp_path / "absent.ttl")


def test_load_dataset_puts_each_file_in_its_own_graph(turtle):
    first = turtle("first.ttl", GOOD)
    second = turtle("second.ttl", GOOD.replace("ex:b", "ex:c"))
    data = load_dataset([first, second])
    named = {g.identifier: len(g) for g in data.graphs() if len(g)}
    assert named == {graph_name(first): 1, graph_name(second): 1}
    assert len(load_graph([first, second])) == 2


def test_literals_keep_their_lexical_form_even_after_a_validation(tmp_path):
    # pyshacl resets rdflib's process-wide literal normalization after every validation.
    path = tmp_path / "lexical.ttl"
    xsd = "http://www.w3.org/2001/XMLSchema#"
    path.write_text(f'<https://example.org/a> <https://example.org/b> "P24W"^^<{xsd}duration> ,'
                    f' "01"^^<{xsd}integer> .\n', encoding="utf-8")
    validate_graph(Graph(), Graph())
    assert sorted(str(o) for o in parse_file(path).objects()) == ["01", "P24W"]
