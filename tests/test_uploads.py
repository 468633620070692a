"""kg.uploads: RDF from strangers parses when it is plain RDF and is refused, with a reason, when it
would make a parser expand entities, fetch a context or recurse without bound."""

import pytest
from rdflib import Literal, URIRef

from kg.errors import DataParseError
from kg.uploads import parse

BASE = "http://example.org/upload/"
TRIPLE = (URIRef("http://example.org/s"), URIRef("http://example.org/p"), Literal("o"))


@pytest.mark.parametrize("media_type, body", [
    ("text/turtle", '<http://example.org/s> <http://example.org/p> "o" .'),
    ("text/turtle; charset=utf-8", '<s> <p> "o" .'.replace("<s>", "<http://example.org/s>")
     .replace("<p>", "<http://example.org/p>")),
    ("application/n-triples", '<http://example.org/s> <http://example.org/p> "o" .\n'),
    ("application/n-quads", '<http://example.org/s> <http://example.org/p> "o" <http://example.org/g> .\n'),
    ("application/trig", '<http://example.org/g> { <http://example.org/s> <http://example.org/p> "o" }'),
    ("application/ld+json", '{"@context": {"p": "http://example.org/p"}, "@id": "http://example.org/s",'
                            ' "p": "o"}'),
    ("application/rdf+xml", '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
                            ' xmlns:ex="http://example.org/"><rdf:Description rdf:about="http://example.org/s">'
                            '<ex:p>o</ex:p></rdf:Description></rdf:RDF>'),
])
def test_plain_rdf_parses_in_every_format(media_type, body):
    assert set(parse(body.encode(), media_type, BASE)) == {TRIPLE}


def test_relative_iris_resolve_against_the_base():
    graph = parse(b'<s> <http://example.org/p> "o" .', "text/turtle", BASE)
    assert next(iter(graph))[0] == URIRef(BASE + "s")


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://example.org/">
<rdf:Description rdf:about="http://example.org/s"><ex:p>&lol3;</ex:p></rdf:Description></rdf:RDF>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://example.org/">
<rdf:Description rdf:about="http://example.org/s"><ex:p>&secret;</ex:p></rdf:Description></rdf:RDF>"""


@pytest.mark.parametrize("media_type, body, reason", [
    ("application/rdf+xml", BOMB, "DOCTYPE"),
    ("application/rdf+xml", XXE, "DOCTYPE"),
    ("application/ld+json", b'{"@context": "http://127.0.0.1:9/context.jsonld", "@id": "http://e.org/s"}',
     "fetches nothing"),
    ("application/ld+json", b'[{"@context": ["http://127.0.0.1:9/c", {"p": "http://e.org/p"}]}]',
     "fetches nothing"),
    ("application/ld+json", b'{"@context": {"@import": "http://127.0.0.1:9/c"}}', "@import"),
    ("application/ld+json", b'{"@id": ', "JSON does not parse"),
    ("application/ld+json", b"true", "object or array"),
    ("application/ld+json", b'"http://e.org/s"', "object or array"),
    ("text/turtle", "<http://e.org/s> <http://e.org/p> \"caf\xe9\" .".encode("latin-1"), "not UTF-8"),
    ("text/turtle", b"<http://e.org/s> <http://e.org/p> .", ":1:34: objectList expected"),
    ("text/turtle", b"<http://e.org/s> <http://e.org/p> " + b"[ <http://e.org/p> " * 50_000, "nested"),
    ("application/ld+json", b"[" * 100_000 + b"]" * 100_000, "nested"),
    ("text/html", b"<p>hello</p>", "not an RDF format"),
    ("application/sparql-results+json", b"{}", "not an RDF format"),
])
def test_hostile_or_broken_bodies_are_refused_with_a_reason(media_type, body, reason):
    with pytest.raises(DataParseError) as caught:
        parse(body, media_type, BASE)
    assert reason in str(caught.value)
    assert str(caught.value).startswith("the request body")


@pytest.mark.parametrize("media_type, body, where", [
    ("application/n-triples", b"<http://e.org/s> <http://e.org/p> .\n", "N-Triples does not parse"),
    ("application/n-quads", b"<http://e.org/s> <http://e.org/p> \n", "N-Quads does not parse"),
    ("application/rdf+xml", b"<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>\n<a></b>",
     ":2:"),
])
def test_parser_errors_of_every_reader_become_parse_errors(media_type, body, where):
    with pytest.raises(DataParseError) as caught:
        parse(body, media_type, BASE)
    assert where in str(caught.value)
