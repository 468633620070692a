"""Accept headers read as RFC 9110 §12.5.1 says."""

import pytest

from kg.negotiation import AcceptError, choose, parse_accept

RESULTS = ["application/sparql-results+json", "application/sparql-results+xml", "text/csv"]
RDF = ["text/turtle", "application/ld+json", "application/n-triples", "application/rdf+xml"]


@pytest.mark.parametrize(
    ("header", "offers", "expected"),
    [
        (None, RESULTS, "application/sparql-results+json"),
        ("", RESULTS, "application/sparql-results+json"),
        ("*/*", RDF, "text/turtle"),
        ("text/csv", RESULTS, "text/csv"),
        ("TEXT/CSV", RESULTS, "text/csv"),
        ("text/*", RESULTS, "text/csv"),
        ("application/sparql-results+xml;q=0.9, text/csv;q=0.8", RESULTS, "application/sparql-results+xml"),
        ("text/csv;q=0.5, application/*;q=0.4", RESULTS, "text/csv"),
        # The most specific range decides: application/ld+json is excluded although application/* is not.
        ("application/*, application/ld+json;q=0", ["application/ld+json", "application/rdf+xml"],
         "application/rdf+xml"),
        ("*/*;q=0.1, text/turtle;q=0", RDF, "application/ld+json"),
        # Equal weights: the server's order breaks the tie.
        ("application/n-triples, text/turtle", RDF, "text/turtle"),
        ("text/html", RESULTS, None),
        ("*/*;q=0", RESULTS, None),
        ("text/html, application/xhtml+xml, application/xml;q=0.9, */*;q=0.8", RDF, "text/turtle"),
        # Java's HttpURLConnection default header.
        ("text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2", RESULTS, "application/sparql-results+json"),
        ('text/turtle;profile="a,b";q=0.5, application/ld+json;q=0.4', RDF, "application/ld+json"),
        ('text/turtle;profile="a,b"', RDF, None),
        ("text/turtle;charset=utf-8", RDF, "text/turtle"),
        ("text/turtle;q=0.7;ext=1", RDF, "text/turtle"),
    ],
)
def test_choose(header, offers, expected):
    assert choose(header, offers) == expected


def test_a_parameter_on_the_offer_satisfies_the_same_parameter_in_the_range():
    assert choose("text/html;level=1", ["text/html; level=1"]) == "text/html; level=1"


@pytest.mark.parametrize(
    "header",
    ["text", "text/", "/csv", "text/csv;q=2", "text/csv;q=abc", "text/csv;q=0.1234", "*/csv",
     "text/csv;;=", "a" * 5000, ",".join(["text/csv"] * 100)],
)
def test_malformed_headers_are_refused_with_a_reason(header):
    with pytest.raises(AcceptError) as caught:
        parse_accept(header)
    assert "Accept header" in str(caught.value) or "not allowed" in str(caught.value)
