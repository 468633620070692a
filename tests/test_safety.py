"""Hostile data cannot run script: every HTML page over tests/fixtures/hostile.ttl, parsed.

The fixture puts `<script>` in titles, summaries, labels and names, attribute break-outs in
literals, `javascript:`, `data:` and `vbscript:` IRIs, and `</script>` / `<!--` where a JSON-LD
block would carry them. Each page is parsed with html.parser and must have no script but its own
files and JSON-LD data, no event-handler attribute and no script-ish link; every response carries
the Content-Security-Policy that would stop what slipped through anyway.
"""

import json
import re
import socket
from html.parser import HTMLParser
from urllib.parse import quote

import pytest
from rdflib import Graph, URIRef

from kg import config
from kg.web.app import close_app, create_app
from kg.web.browse import FACETS
from kg.web.security import CSP
from tests.live import running_server
from tests.test_browser import Watched, chromium

ROOT = config.ROOT
FIXTURE = ROOT / "tests" / "fixtures" / "hostile.ttl"
FILES = [ROOT / "ontology" / "msc.ttl", ROOT / "data" / "vocabulary.ttl", ROOT / "data" / "library.ttl",
         FIXTURE]
# What a browser's navigation sends (the query page answers only a browser's Accept).
HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
STUDY = "/study/hostile-2024"
TITLE = "<script>alert('title')</script>"
BAD_SCHEMES = ("javascript:", "data:", "vbscript:")
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "srcset", "poster", "background", "cite",
                  "data", "xlink:href", "ping", "manifest", "codebase"}
FORBIDDEN_ELEMENTS = {"iframe", "frame", "object", "embed", "base", "applet"}


def fixture_paths():
    """The local path of every IRI under the base that the fixture names, subject or object."""
    graph = Graph().parse(FIXTURE)
    nodes = {n for triple in graph for n in triple if isinstance(n, URIRef)}
    return sorted("/" + n[len(config.BASE):] for n in nodes
                  if n.startswith(config.BASE) and "#" not in n and n != URIRef(config.BASE))


SUBJECT_PATHS = sorted("/" + s[len(config.BASE):] for s in set(Graph().parse(FIXTURE).subjects())
                       if isinstance(s, URIRef) and s.startswith(config.BASE))
# The fixture's percent-encoded IRI: its path decodes to characters no IRI may hold.
ENCODED = [path for path in SUBJECT_PATHS if "%" in path]


class Page(HTMLParser):
    """The parts of a page that could run script, and its visible text."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.problems, self.json_ld, self.text = [], [], []
        self._block = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag}> has an event-handler attribute {name}={value!r}")
            if name in URL_ATTRIBUTES and value is not None:
                url = re.sub(r"[\x00-\x20]", "", value).lower()
                if url.startswith(BAD_SCHEMES):
                    self.problems.append(f"<{tag} {name}={value!r}> links to a script-ish scheme")
            if name == "srcdoc":
                self.problems.append(f"<{tag}> has srcdoc")
        if tag in FORBIDDEN_ELEMENTS:
            self.problems.append(f"page has an <{tag}> element")
        if tag == "meta" and (attributes.get("http-equiv") or "").lower() == "refresh":
            self.problems.append("page has a meta refresh")
        if tag == "script":
            src, kind = attributes.get("src"), (attributes.get("type") or "").lower()
            if src is not None and src.startswith("/static/") and kind in ("", "module"):
                self._block = ("src", [])
            elif src is None and kind == "application/ld+json":
                self._block = ("json", [])
            else:
                self.problems.append(f"page has a script that is not its own: {attrs!r}")
                self._block = ("bad", [])

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag == "script":
            self.handle_endtag(tag)

    def handle_data(self, data):
        if self._block is not None:
            self._block[1].append(data)
        else:
            self.text.append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._block is not None:
            kind, parts = self._block
            body = "".join(parts)
            if kind == "json":
                self.json_ld.append(body)
            elif kind == "src" and body.strip():
                self.problems.append(f"a script with src also has inline content {body[:80]!r}")
            self._block = None

    @property
    def visible(self):
        return "".join(self.text)


@pytest.fixture(scope="module")
def app():
    app = create_app({"DATA_FILES": FILES, "WORKERS": 1})

    @app.route("/__test-only/fail")
    def fail():
        raise RuntimeError("<script>alert('500')</script>")

    yield app
    close_app(app)


@pytest.fixture
def client(app):
    return app.test_client()


def check_headers(response):
    assert response.headers.get("Content-Security-Policy") == CSP
    assert "unsafe-inline" not in CSP and "unsafe-eval" not in CSP
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert response.headers.get("X-Frame-Options") == "DENY"
    assert response.headers.get("Referrer-Policy") == "strict-origin-when-cross-origin"


def safe_page(response):
    """Parse an HTML response and fail on anything that could run script; return the Page."""
    check_headers(response)
    assert response.mimetype == "text/html", (response.status_code, response.mimetype)
    page = Page(response.get_data(as_text=True))
    assert page.problems == []
    for block in page.json_ld:
        raw = block.lower()
        assert "</script" not in raw and "<!--" not in raw and "<script" not in raw, block
        json.loads(block)
    return page


def test_the_policy_is_strict():
    directives = dict(d.strip().split(" ", 1) for d in CSP.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in CSP


def test_the_checker_catches_what_it_should():
    bad = ('<script>alert(1)</script><a href=" JaVaScRiPt:alert(1)">x</a><img src=x onerror=alert(1)>'
           '<a href="data:text/html,x">d</a><script src="https://evil.example/x.js"></script>'
           '<iframe src="/"></iframe>')
    assert len(Page(bad).problems) == 6
    good = ('<script src="/static/query.js"></script><script type="application/ld+json">{"a": 1}</script>'
            '<a href="/study/x">&lt;script&gt;</a>')
    page = Page(good)
    assert page.problems == [] and page.json_ld == ['{"a": 1}'] and page.visible == "<script>"


@pytest.mark.parametrize("path", [p for p in fixture_paths() if p not in ENCODED])
def test_every_resource_page_is_safe(client, path):
    response = client.get(path, headers=HTML)
    if path in SUBJECT_PATHS:
        assert response.status_code == 200, path
    safe_page(response)


def test_the_study_page_shows_the_hostile_text_as_text(client):
    page = safe_page(client.get(STUDY, headers=HTML))
    assert TITLE in page.visible
    assert "<script>alert('name')</script>" in page.visible
    # The script-ish IRIs are shown, as text.
    assert "javascript:alert('url')" in page.visible
    assert "vbscript:msgbox(1)" in page.visible


def test_the_study_json_ld_reads_back_the_hostile_title(client):
    page = safe_page(client.get(STUDY, headers=HTML))
    assert len(page.json_ld) == 1
    assert TITLE in json.dumps(json.loads(page.json_ld[0]), ensure_ascii=False)


@pytest.mark.parametrize("path", [p for p in SUBJECT_PATHS if p not in ENCODED])
def test_html_twins_are_safe(client, path):
    safe_page(client.get(path + ".html"))


@pytest.mark.parametrize("path", ["/", "/browse", "/ontology", "/sparql"])
def test_library_pages_are_safe(client, path):
    response = client.get(path, headers=HTML)
    assert response.status_code == 200, path
    safe_page(response)


def test_home_lists_the_hostile_study_as_text(client):
    page = safe_page(client.get("/", headers=HTML))
    assert TITLE in page.visible


@pytest.mark.parametrize("query", ["<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>",
                                   "alert", "javascript:alert(1)"])
def test_browse_search_is_safe(client, query):
    response = client.get("/browse", query_string={"q": query}, headers=HTML)
    assert response.status_code == 200
    safe_page(response)


def test_browse_search_finds_the_hostile_study(client):
    page = safe_page(client.get("/browse", query_string={"q": "alert('title')"}, headers=HTML))
    assert TITLE in page.visible


@pytest.mark.parametrize("facet", [f.name for f in FACETS])
def test_browse_facets_with_hostile_values_are_refused_safely(client, facet):
    response = client.get("/browse", query_string={facet: "javascript:alert(1)"}, headers=HTML)
    assert response.status_code == 400
    safe_page(response)


HOSTILE_QUERY = """PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX schema: <https://schema.org/>
SELECT ?study ?title ?url WHERE { ?study dcterms:title ?title ; schema:url ?url }"""


@pytest.mark.parametrize("query", [HOSTILE_QUERY, "SELECT <script>alert(1)</script> WHERE {}"])
def test_the_query_page_is_safe(client, query):
    response = client.get("/sparql", query_string={"query": query}, headers=HTML)
    check_headers(response)
    assert response.mimetype == "text/html"
    safe_page(response)


@pytest.mark.parametrize("path", [
    "/study/javascript:alert('404')",
    "/study/'onmouseover=alert('404')'",
    "/person/hostile/javascript:alert('404')",
    "/dumps/dataset.javascript:alert('404')",
])
def test_not_found_pages_are_safe(client, path):
    response = client.get(path, headers=HTML)
    assert response.status_code == 404
    page = safe_page(response)
    assert "alert('404')" in page.visible


@pytest.mark.parametrize(("method", "path", "headers", "status"), [
    ("POST", STUDY, HTML, 405),
    ("DELETE", "/", HTML, 405),
    ("GET", STUDY, {"Accept": "text/html, application/x-script;q=0"}, 200),
    ("GET", STUDY, {"Accept": "application/x-script"}, 406),
    ("GET", STUDY, {"Accept": "application/x-<script>"}, 400),
    ("GET", "/__test-only/fail", HTML, 500),
])
def test_error_pages_are_safe(client, method, path, headers, status):
    response = client.open(path, method=method, headers=headers)
    assert response.status_code == status
    if response.mimetype == "text/html":
        safe_page(response)
    else:
        check_headers(response)
        assert response.mimetype in ("text/plain", "application/problem+json", "application/json")


def test_an_accept_header_that_does_not_parse_is_answered_as_text(client):
    response = client.get("/sparql", headers={"Accept": "text/html;q=<script>"})
    assert response.status_code == 400
    check_headers(response)
    assert response.mimetype == "text/plain"


def test_every_response_carries_the_headers(client):
    for path, headers in [("/static/style.css", {}), (STUDY + ".ttl", {}), (STUDY + ".jsonld", {}),
                          ("/sparql", {"Accept": "text/turtle"}), ("/sparql?query=ASK%7B%7D", {}),
                          ("/nothing", {"Accept": "application/json"}), ("/dumps/dataset.nt", {})]:
        check_headers(client.get(path, headers=headers))


# Paths whose decoded form holds characters no IRI may (quotes, angle brackets, spaces), and the
# fixture's percent-encoded IRI, whose path decodes to such characters: each names nothing, is not
# found, and must not take a query worker down with it (they once did: oxigraph refuses to bind an
# invalid IRI, and the worker died of the error).
NOT_IRIS = ["/<script>alert(1)</script>", "/study/\"><img src=x onerror=alert(1)>",
            "/study/a b", *ENCODED, *(p + ".html" for p in ENCODED)]


@pytest.mark.parametrize("path", NOT_IRIS)
def test_a_path_that_is_no_iri_is_not_found_and_answered_safely(client, path):
    response = client.get(quote(path, safe="/%"), headers=HTML)
    assert response.status_code == 404
    safe_page(response)


def test_the_workers_survive_paths_that_are_no_iri(app, client):
    before = app.extensions["kg.pool"].idle
    for path in NOT_IRIS:
        client.get(quote(path, safe="/%"), headers=HTML)
    assert client.get(STUDY, headers=HTML).status_code == 200
    assert app.extensions["kg.pool"].idle == before


# The same pages in Chromium: nothing the fixture holds may open a dialog, add an element that
# runs script, or even try something the CSP has to refuse.
INJECTED = "script:not([src^='/static/']):not([type='application/ld+json']), [onerror], [onload], " \
    "[onmouseover], img[src='x'], svg, iframe, a[href^='javascript:' i], a[href^='data:' i], " \
    "a[href^='vbscript:' i]"


@pytest.fixture(scope="module")
def hostile_server():
    with running_server("--data", *FILES, "--workers", "1", "--no-validate") as (host, port):
        yield f"http://{host}:{port}"


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.mark.parametrize("path", ["/", STUDY, "/person/hostile", "/indication/hostile",
                                  "/library/hostile-section", "/phase/hostile", "/cell-source/hostile",
                                  "/browse", "/browse?q=alert('title')",
                                  "/sparql?query=" + quote(HOSTILE_QUERY)])
def test_no_hostile_page_runs_script_in_a_browser(browser, hostile_server, path):
    watched = Watched(browser, hostile_server)
    try:
        response = watched.page.goto(path)
        assert response.status == 200
        watched.page.wait_for_load_state("load")
        assert watched.page.locator(INJECTED).count() == 0
        assert "alert(" in watched.page.locator("main").inner_text()
        if path.startswith("/sparql"):
            cells = watched.page.locator("table td").all_inner_texts()
            assert any(TITLE in cell for cell in cells), cells
            assert any("javascript:alert('url')" in cell for cell in cells), cells
    finally:
        watched.close()
    assert watched.problems == []


# Path traversal on the dump and static routes, sent byte for byte over a socket (no client
# normalises them first): each is refused or not found, and no file's contents come back.
TRAVERSALS = [
    "/dumps/../../etc/passwd", "/dumps/..%2f..%2fetc%2fpasswd", "/dumps/%2e%2e/%2e%2e/etc/passwd",
    "/dumps/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/dumps/..\\..\\etc\\passwd", "/dumps/..%5c..%5cetc%5cpasswd",
    "/dumps/dataset.nt%00.txt", "/dumps/dataset.nt\x00", "/dumps/%252e%252e%252fetc%252fpasswd",
    "/static/../../../etc/passwd", "/static/..%2f..%2f..%2fetc%2fpasswd",
    "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/static/..%5c..%5c..%5cetc%5cpasswd",
    "/static/..\\app.py", "/static/../app.py", "/static/..%2fapp.py", "/static/%2e%2e/app.py",
    "/static/style.css%00.py", "/static/style.css\x00", "/static//etc/passwd", "/static/%2fetc%2fpasswd",
    "/static/..%c0%af..%c0%afetc%c0%afpasswd", "//etc/passwd", "/..%2f..%2fetc%2fpasswd",
    "/static/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
]
# Contents of files that must never be served: the system's users, and the server's own code.
SECRETS = [b"root:", b"def create_app", b"DEFAULTS"]


def raw_get(base, target):
    """(status, body) of a GET with this exact request target."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        head = f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        sock.sendall(head.encode("latin-1"))
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.parametrize("target", TRAVERSALS)
def test_path_traversal_is_refused_or_not_found(hostile_server, target):
    status, body = raw_get(hostile_server, target)
    assert status in (400, 404), (status, body[:200])
    assert not any(secret in body for secret in SECRETS), body[:500]
    assert b"Traceback" not in body


def test_the_dump_and_static_routes_do_serve_their_own_files(hostile_server):
    assert raw_get(hostile_server, "/static/style.css")[0] == 200
    status, body = raw_get(hostile_server, "/dumps/dataset.nt")
    assert status == 200 and b"hostile-2024" in body
