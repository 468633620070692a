"""The README's example queries are the files in docs/queries/, and their answers are real.

To refresh the README after the data changed: `python -m tests.test_readme` rewrites the section.
"""

import re
from pathlib import Path

from kg import sparql
from kg.store import open_store

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
QUERIES = sorted((ROOT / "docs" / "queries").glob("*.rq"))
BEGIN, END = "<!-- queries:begin -->", "<!-- queries:end -->"


def section(store):
    """The README section: for each query its purpose, its text and the table it answers today."""
    parts = []
    for path in QUERIES:
        text = path.read_text(encoding="utf-8")
        purpose = text.splitlines()[0].lstrip("# ").strip()
        answer = sparql.table(store.query(text))
        parts.append(f"### {purpose}\n\n```sparql\n{text.rstrip()}\n```\n\n```text\n{answer.rstrip()}\n```\n")
    return "\n".join(parts)


def current_section():
    text = README.read_text(encoding="utf-8")
    return text[text.index(BEGIN) + len(BEGIN):text.index(END)].strip("\n")


def test_there_are_at_least_ten_example_queries():
    assert len(QUERIES) >= 10


def test_the_readme_shows_each_query_with_its_real_answer():
    expected = section(open_store("oxigraph")).strip("\n")
    assert current_section() == expected, "run `python -m tests.test_readme` to refresh the README"


# rdflib 7.6 cannot order xsd:duration values (not even "P336D" >= "P42D"), so a FILTER on a
# timepoint drops every row on the memory store; decision 0005 is why oxigraph is the default.
DURATION_FILTER = "04-outcomes-at-6-months-or-later.rq"


def test_both_stores_give_the_readmes_answers_but_for_duration_filters():
    memory, oxigraph = open_store("memory"), open_store("oxigraph")
    for path in QUERIES:
        text = path.read_text(encoding="utf-8")
        if path.name == DURATION_FILTER:
            assert len(memory.query(text)) == 0 < len(oxigraph.query(text))
        else:
            assert sparql.table(memory.query(text)) == sparql.table(oxigraph.query(text)), path.name


def test_the_readme_names_the_two_commands_that_ci_runs():
    text = README.read_text(encoding="utf-8")
    assert "./dev.sh serve" in text and "./dev.sh test" in text
    assert re.search(r"exec \./dev\.sh test\s*$", (ROOT / ".ci" / "run").read_text(encoding="utf-8"))


if __name__ == "__main__":
    text = README.read_text(encoding="utf-8")
    fresh = section(open_store("oxigraph"))
    README.write_text(text[:text.index(BEGIN) + len(BEGIN)] + "\n" + fresh + text[text.index(END):],
                      encoding="utf-8")
