"""Fuzzing over real HTTP: whatever a client sends, the server answers without a 500, without
hanging and without a stack trace, and it is alive afterwards.

One server for the module; each target is a strategy and a way to send what it draws, so a new
route is one line in TARGETS. Examples are derandomized, so every run sends the same requests.
"""

import json
import urllib.parse

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kg import config
from tests.live import request, running_server

VALID = [path.read_text(encoding="utf-8") for path in sorted((config.ROOT / "docs" / "queries").glob("*.rq"))]
VALID += ["ASK {}", "SELECT * WHERE { ?s ?p ?o } LIMIT 3", "CONSTRUCT { ?s ?p ?o } WHERE { ?s a msc:Study }",
          "DESCRIBE <https://w3id.org/msc-kg/study/forbes-2014>"]
PATHS = ["/study/forbes-2014", "/person/", "/dumps/", "/static/", "/browse", "/indication/", "/"]
MEDIA = ["text/html", "text/turtle", "application/ld+json", "application/sparql-results+json", "*/*",
         "text/*", "application/problem+json", "application/rdf+xml", "text/csv", "image/png"]
STACK_TRACE = (b"Traceback", b'File "/')


def fragments(alphabet):
    return st.text(alphabet=alphabet, max_size=40)


@st.composite
def mutated(draw, valid=VALID):
    """A valid text (a query, by default) with a slice cut, repeated or replaced, or random text put in."""
    query = draw(st.sampled_from(valid))
    start = draw(st.integers(0, len(query)))
    end = draw(st.integers(start, min(len(query), start + 40)))
    junk = draw(st.text(max_size=20) | st.sampled_from(["{", "}", "(", ")", "<", ">", '"', "\\u0053", "*",
                                                          "SERVICE <http://127.0.0.1:1/>", "?", "#", "\x00"]))
    how = draw(st.sampled_from(["cut", "repeat", "replace", "insert"]))
    if how == "cut":
        return query[:start] + query[end:]
    if how == "repeat":
        return query[:end] + query[start:end] * draw(st.integers(2, 50)) + query[end:]
    if how == "replace":
        return query[:start] + junk + query[end:]
    return query[:start] + junk + query[start:]


queries = st.text(max_size=300) | mutated()


@st.composite
def paths(draw):
    """Paths with random unicode, raw and broken %-escapes, dot segments, encoded slashes, long runs."""
    parts = draw(st.lists(
        st.text(max_size=30) | st.sampled_from(["..", ".", "%2e%2e", "%2E%2e%2F", "%2f", "%5c", "%00", "%zz",
                                                "%", "%%", "\\..\\", ";", "?x=1", "#frag", ".ttl", ".html"])
        | st.integers(200, 5000).map(lambda n: "a" * n),
        min_size=1, max_size=6))
    base = draw(st.sampled_from(PATHS))
    # Keep % raw, so that broken escapes reach the server as written; quote everything else.
    return base + urllib.parse.quote("/".join(parts), safe="/%;?#.")


@st.composite
def accepts(draw):
    """Accept headers: media ranges with q-values and parameters, and latin-1 junk."""
    ranges = draw(st.lists(st.tuples(
        st.sampled_from(MEDIA) | fragments("abcdefghijklmnopqrstuvwxyz*/+-.;=\"'<> "),
        st.none() | st.floats(allow_nan=True, allow_infinity=True).map(lambda q: f"{q}")
        | fragments("0123456789.-eE"),
        st.none() | fragments("abc=;\",* "),
    ), max_size=6))
    header = ", ".join(m + (f";q={q}" if q is not None else "") + (f";{p}" if p else "")
                       for m, q, p in ranges)
    junk = draw(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=30))
    return draw(st.sampled_from([header, junk, header + junk]))


forms = st.binary(max_size=400) | st.dictionaries(
    st.sampled_from(["query", "format", "timeout", "default-graph-uri", "named-graph-uri", "update", "x"])
    | st.text(max_size=10),
    st.sampled_from(VALID) | st.text(max_size=60), max_size=5,
).map(lambda fields: urllib.parse.urlencode(fields).encode())


@st.composite
def multiparts(draw):
    """multipart/form-data bodies, well-formed or not: (boundary, body bytes)."""
    boundary = draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-'()+_,./:=? ", min_size=1,
                            max_size=70))
    fields = draw(st.lists(st.tuples(st.sampled_from(["query", "format", "file", ""]) | st.text(max_size=10),
                                     st.sampled_from(VALID) | st.text(max_size=80)), max_size=4))
    body = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
                   for name, value in fields)
    if draw(st.booleans()):
        body += f"--{boundary}--\r\n"
    return boundary, body.encode("utf-8", "surrogatepass") + draw(st.binary(max_size=40))


def sparql_get(server, query):
    return request(server, "GET", "/sparql?" + urllib.parse.urlencode({"query": query}), timeout=20,
                   headers={"Accept": "application/sparql-results+json, text/turtle;q=0.9, */*;q=0.1"})


def sparql_post(server, query):
    return request(server, "POST", "/sparql", query.encode("utf-8", "surrogatepass"), timeout=20,
                   headers={"Content-Type": "application/sparql-query"})


def page(server, path):
    return request(server, "GET", path, headers={"Accept": "text/html"}, timeout=20)


def accept(server, header):
    return request(server, "GET", "/study/forbes-2014", headers={"Accept": header}, timeout=20)


def accept_query(server, header):
    return request(server, "GET", "/sparql?query=ASK%7B%7D", headers={"Accept": header}, timeout=20)


def form(server, body):
    return request(server, "POST", "/sparql", body, timeout=20,
                   headers={"Content-Type": "application/x-www-form-urlencoded"})


def multipart(server, drawn):
    boundary, body = drawn
    return request(server, "POST", "/sparql", body, timeout=20,
                   headers={"Content-Type": f'multipart/form-data; boundary="{boundary}"'})


SHAPED = ('<https://w3id.org/msc-kg/study/fuzz> a <https://w3id.org/msc-kg/ontology#Study> ;\n'
          '    <http://purl.org/dc/terms/title> "A fuzzed study"@en .\n')
RDF_BODIES = [
    SHAPED,
    '{"@context": {"dct": "http://purl.org/dc/terms/"}, "@id": "https://w3id.org/msc-kg/study/fuzz",'
    ' "@type": "https://w3id.org/msc-kg/ontology#Study", "dct:title": "A fuzzed study"}',
    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:dct="http://purl.org/dc/terms/">'
    '<rdf:Description rdf:about="https://w3id.org/msc-kg/study/fuzz"><dct:title>x</dct:title>'
    '</rdf:Description></rdf:RDF>',
    "@prefix sh: <http://www.w3.org/ns/shacl#> . [] a sh:NodeShape ; sh:targetClass "
    "<https://w3id.org/msc-kg/ontology#Study> ; sh:property [ sh:path <http://purl.org/dc/terms/title> ;"
    " sh:minCount 2 ] .",
]
RDF_MEDIA = ["text/turtle", "application/ld+json", "application/n-triples", "application/rdf+xml",
             "application/trig", "text/plain", "", "application/x-www-form-urlencoded"]


@st.composite
def shacl_requests(draw):
    """(path, Content-Type, body) for /shacl: data or shapes, mutated, under any RDF media type."""
    target = draw(st.sampled_from(["/shacl", "/shacl?graph=default", "/shacl?graph=union", "/shacl?default",
                                   "/shacl?graph=http%3A%2F%2Fe.org%2Fg", "/shacl?target=%zz",
                                   "/shacl?graph=" + urllib.parse.quote("<not an IRI>")]))
    # Some bodies unchanged under their own media type, so that validation itself is fuzzed too.
    index = draw(st.integers(0, len(RDF_BODIES) - 1))
    body = draw(st.just(RDF_BODIES[index]) | mutated(RDF_BODIES) | st.text(max_size=200))
    media = draw(st.just(RDF_MEDIA[min(index, 3)]) | st.sampled_from(RDF_MEDIA)
                 | fragments("abcdefghijklmnopqrstuvwxyz/+-;= "))
    return target, media, body.encode("utf-8", "surrogatepass")


def shacl(server, drawn):
    target, media, body = drawn
    return request(server, "POST", target, body, timeout=30, headers={"Content-Type": media})


# name: (strategy, send(server, drawn) -> (status, headers, body)). One line per route.
TARGETS = {
    "query by GET": (queries, sparql_get),
    "query by POST": (queries, sparql_post),
    "IRI paths": (paths(), page),
    "Accept on a resource": (accepts(), accept),
    "Accept on the endpoint": (accepts(), accept_query),
    "form bodies": (forms, form),
    "multipart bodies": (multiparts(), multipart),
    "data and shapes to /shacl": (shacl_requests(), shacl),
}
# A body that parses is validated against the whole dataset (about a second): fewer examples there.
EXAMPLES = {"data and shapes to /shacl": 50}


@pytest.fixture(scope="module")
def server():
    # The fuzzer is one client sending many requests: its budget is not what this module tests.
    with running_server("--timeout", "5", "--workers", "2", "--no-validate",
                        env={"MSC_KG_CLIENT_BUDGET": "100000"}) as server:
        yield server
        status, _, body = request(server, "GET", "/health", timeout=10)
        assert status == 200 and json.loads(body)["status"] == "ok"


def check(answer):
    status, _, body = answer
    assert status < 500 or status == 503, (status, body[:300])
    assert not any(mark in body for mark in STACK_TRACE), body[:1000]


@pytest.mark.parametrize("name", TARGETS)
def test_no_input_breaks_the_server(server, name):
    strategy, send = TARGETS[name]

    @settings(max_examples=EXAMPLES.get(name, 150), deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(strategy)
    def attempt(drawn):
        # A hang shows as the client's timeout (TimeoutError), which fails the test.
        check(send(server, drawn))

    attempt()
    status, _, _ = request(server, "GET", "/health", timeout=10)
    assert status == 200

