"""kg.cli: exit codes (0 ok, 1 violations, 2 errors) and the output of each command."""

import csv
import io
import json
import xml.etree.ElementTree as ET

import pytest
from rdflib import RDF, Graph
from rdflib.compare import isomorphic
from rdflib.namespace import SH

from kg import config
from kg.cli import main
from kg.dataset import default_files
from kg.namespaces import MSC
from kg.store import KINDS
from tests.live import free_port
from tests.remote import store_name

STUDY = config.DATA_DIR / "studies" / "forbes-2014.ttl"
TITLES = "SELECT ?title WHERE { ?s a msc:Study ; dcterms:title ?title } ORDER BY ?title"
PUBLICATIONS = "CONSTRUCT { ?s ?p ?o } WHERE { ?s a msc:Publication ; ?p ?o }"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def untitled(tmp_path):
    """The data with one study's title removed: a violation, as every study must have a title."""
    path = tmp_path / STUDY.name
    lines = STUDY.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(line for line in lines if "dcterms:title" not in line), encoding="utf-8")
    return [str(f) for f in default_files() if f != STUDY] + [str(path)]


def test_validate_conforming_data_exits_0(capsys):
    code, out, err = run(capsys, "validate")
    assert (code, err) == (0, "")
    assert "Conforms" in out


def test_validate_violation_exits_1(capsys, untitled):
    code, out, _ = run(capsys, "validate", "--format", "json", *untitled)
    assert code == 1
    report = json.loads(out)
    assert report["conforms"] is False
    violations = [r for r in report["results"] if r["severity"] == "Violation"]
    assert [(r["path"], r["file"]) for r in violations] == [("dcterms:title", untitled[-1])]


def test_validate_as_turtle_is_a_shacl_report(capsys, untitled):
    code, out, _ = run(capsys, "validate", "--format", "turtle", *untitled)
    assert code == 1
    report = Graph().parse(data=out, format="turtle")
    assert (None, SH.conforms, None) in report
    assert len(list(report.subjects(SH.resultSeverity, SH.Violation))) == 1


def test_validate_syntax_error_exits_2_with_file_and_line(capsys, tmp_path):
    broken = tmp_path / "broken.ttl"
    text = "@prefix ex: <http://example.org/> .\nex:a ex:p ex:b\nex:c ex:p ex:d .\n"
    broken.write_text(text, encoding="utf-8")
    code, out, err = run(capsys, "validate", str(broken))
    assert (code, out) == (2, "")
    assert err.startswith(f"{broken}:3:")
    assert "Traceback" not in err and len(err.splitlines()) == 1


def test_query_table_is_the_default(capsys):
    code, out, _ = run(capsys, "query", TITLES)
    lines = out.splitlines()
    assert code == 0
    assert lines[0].strip() == "title" and set(lines[1]) == {"-"}
    assert lines[-1].endswith("rows)") and lines[2].startswith('"') and lines[2].endswith('"@en')


@pytest.mark.parametrize("kind", KINDS)
def test_query_json_is_sparql_results(capsys, request, kind):
    code, out, _ = run(capsys, "query", "--store", store_name(kind, request), "--format", "json", TITLES)
    assert code == 0
    answer = json.loads(out)
    titles = [b["title"]["value"] for b in answer["results"]["bindings"]]
    assert answer["head"]["vars"] == ["title"] and len(titles) >= 2


@pytest.mark.parametrize(
    ("name", "read"),
    [
        ("csv", lambda text: [row[0] for row in csv.reader(io.StringIO(text))][1:]),
        ("tsv", lambda text: [line.rsplit('"@', 1)[0][1:] for line in text.splitlines()[1:]]),
        ("xml", lambda text: [e.text for e in ET.fromstring(text).iter(
            "{http://www.w3.org/2005/sparql-results#}literal")]),
    ],
)
def test_query_results_formats_carry_the_titles(capsys, name, read):
    _, expected, _ = run(capsys, "query", "--format", "json", TITLES)
    titles = [b["title"]["value"] for b in json.loads(expected)["results"]["bindings"]]
    code, out, _ = run(capsys, "query", "--format", name, TITLES)
    assert code == 0
    assert read(out) == [t.replace('"', '\\"') if name == "tsv" else t for t in titles]


@pytest.mark.parametrize(
    ("name", "rdflib_format"), [("ntriples", "nt"), ("jsonld", "json-ld"), ("rdfxml", "xml")],
)
def test_query_graph_formats_parse_to_the_same_graph(capsys, name, rdflib_format):
    _, turtle, _ = run(capsys, "query", "--format", "turtle", PUBLICATIONS)
    expected = Graph().parse(data=turtle, format="turtle")
    assert len(set(expected.subjects(RDF.type, MSC.Publication))) >= 2
    code, out, _ = run(capsys, "query", "--format", name, PUBLICATIONS)
    assert code == 0
    assert isomorphic(Graph().parse(data=out, format=rdflib_format), expected)


def test_query_from_a_file_and_from_stdin(capsys, tmp_path, monkeypatch):
    path = tmp_path / "titles.rq"
    path.write_text(TITLES, encoding="utf-8")
    _, expected, _ = run(capsys, "query", TITLES)
    assert run(capsys, "query", "-f", str(path)) == (0, expected, "")
    monkeypatch.setattr("sys.stdin", io.StringIO(TITLES))
    assert run(capsys, "query", "-f", "-") == (0, expected, "")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["query", "SELECT ?x WHERE { ?x ?y }"], "malformed query at line 1, column "),
        (["query", "SELECT *\nWHERE { ?s nosuch:p ?o }"], "malformed query at line 2, column "),
        (["query", "INSERT DATA { <http://a.example/> <http://p.example/> 1 }"], "read-only"),
        (["query", "SELECT * WHERE { SERVICE <http://127.0.0.1:1/> { ?s ?p ?o } }"], "SERVICE is refused"),
        (["query", "--format", "turtle", TITLES], "does not fit a SELECT query"),
        (["query", "-f", "/nonexistent/query.rq"], "cannot read the query"),
        (["query", "--store", "memory", "--format", "csv", PUBLICATIONS], "does not fit a CONSTRUCT"),
        (["query", "--store", "sparql:http://127.0.0.1:{closed}/query", TITLES], "is unreachable"),
    ],
    ids=["syntax", "unknown-prefix-line-2", "update", "service", "format-misfit", "missing-file",
         "csv-graph", "sparql-server-down"],
)
def test_query_errors_exit_2_with_one_line(capsys, argv, message):
    code, out, err = run(capsys, *(a.replace("{closed}", str(free_port())) for a in argv))
    assert (code, out) == (2, "")
    assert message in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["nosuch"],
        ["query"],
        ["query", TITLES, "-f", "titles.rq"],
        ["query", "--format", "yaml", TITLES],
        ["query", "--store", "sqlite", TITLES],
        ["query", "--store", "sparql:ftp://127.0.0.1/query", TITLES],
        ["validate", "--format", "xml"],
        ["build"],
    ],
    ids=["no-command", "unknown-command", "no-query", "query-twice", "bad-format", "bad-store",
         "sparql-store-not-http", "bad-report-format", "build-without-output"],
)
def test_bad_arguments_exit_2(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert "usage: kg" in err


def test_help_exits_0(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "validate" in out and "query" in out and "build" in out


def test_build_writes_the_dumps(capsys, tmp_path):
    code, out, _ = run(capsys, "build", "-o", str(tmp_path / "site"))
    assert code == 0
    written = out.split()
    assert sorted(p.rsplit("/", 1)[1] for p in written) == [
        "dataset.jsonld", "dataset.nq", "dataset.nt", "dataset.ttl", "void.ttl"]
    assert all((tmp_path / "site" / p.rsplit("/", 1)[1]).stat().st_size > 0 for p in written)



def test_a_reader_that_stops_early_gets_no_traceback(tmp_path, monkeypatch):
    # `kg query ... | head -1`: the pipe closes while kg still writes.
    class ClosedPipe(io.StringIO):
        def write(self, _):
            raise BrokenPipeError

        def fileno(self):
            return stand_in.fileno()

    # main points the descriptor behind stdout at /dev/null; let that be a file of ours, not the terminal.
    with open(tmp_path / "stdout", "w") as stand_in:
        monkeypatch.setattr("sys.stdout", ClosedPipe())
        assert main(["query", "ASK {}"]) == 2


@pytest.mark.parametrize("option", [["--workers", "0"], ["--workers", "-1"], ["--timeout", "0"],
                                    ["--timeout", "x"], ["--store", "sparql:localhost"],
                                    ["--graph-store", "localhost:7878/store"]])
def test_serve_refuses_options_that_cannot_work(option, capsys):
    assert main(["serve", *option]) == 2
    assert option[0] in capsys.readouterr().err


@pytest.mark.parametrize(("option", "message"), [
    (["--store-path", "store"], "no store path"), (["--data", str(STUDY)], "no data files"),
])
def test_serve_refuses_files_for_a_sparql_store(capsys, option, message):
    assert main(["serve", "--store", "sparql:http://127.0.0.1:1/query", *option]) == 2
    assert message in capsys.readouterr().err
