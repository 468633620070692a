"""Paged listings over a library bigger than one page: the real data plus 120 synthetic studies from
bench/generate.py, with the page size lowered to 25. Expected lists and counts come from SPARQL over
a store of the same files, ordered here as the library orders studies, not from lists in the tests."""

import re
import sys
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from kg import config, dataset
from kg.store import open_store
from kg.web.app import close_app, create_app
from kg.web.validation_page import dataset_validation
from tests.remote import oxigraph_server
from tests.test_views import HTML, Document, cards

sys.path.insert(0, str(config.ROOT / "bench"))
import generate  # noqa: E402

BASE = config.BASE
SIZE = 25
SYNTHETIC = 120
PHASE_2 = BASE + "phase/2"
FISTULAS = BASE + "indication/perianal-fistulas-in-crohns-disease"
# (path, the pattern over ?study it lists)
LISTINGS = [
    ("/library/crohns-disease", f"?study msc:listedIn <{BASE}library/crohns-disease> ."),
    ("/indication/crohns-disease",
     f"?study msc:indication/skos:broader* <{BASE}indication/crohns-disease> ."),
    ("/phase/2", f"?study msc:phase/skos:broader* <{PHASE_2}> ."),
    ("/person/synthetic-000000",
     f"?study schema:author|msc:firstAuthor <{BASE}person/synthetic-000000> ."),
    ("/browse", ""),
    ("/browse?" + urlencode({"phase": PHASE_2}), f"?study msc:phase/skos:broader* <{PHASE_2}> ."),
    ("/browse?" + urlencode({"q": "fistula"}),
     "?study dcterms:title ?t . OPTIONAL { ?study msc:summary ?s } "
     'FILTER(CONTAINS(LCASE(STR(?t)), "fistula") || (BOUND(?s) && CONTAINS(LCASE(STR(?s)), "fistula")))'),
]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    generated, _ = generate.generate(SYNTHETIC, tmp_path_factory.mktemp("synthetic"))
    return [*dataset.default_files(), *generated]


@pytest.fixture(scope="module")
def store(files):
    store = open_store("oxigraph", files=files)
    yield store
    store.close()


def ready(app):
    """The app's client, once the dataset's validation (which the pages show, and which takes the one
    query worker for seconds at this size) is done, so no page waits behind it."""
    assert dataset_validation(app).get(wait=300) is not None
    return app.test_client()


@pytest.fixture(scope="module", params=["oxigraph", "memory", "sparql"])
def client(request, files, tmp_path_factory):
    settings = {"WORKERS": 1, "PAGE_SIZE": SIZE, "CLIENT_BUDGET": float("inf"), "VALIDATION_TIMEOUT": 300}
    if request.param == "sparql":
        with oxigraph_server(tmp_path_factory.mktemp("oxigraph-paging"), *files) as server:
            app = create_app({**settings, "STORE": server.store})
            yield ready(app)
            close_app(app)
        return
    app = create_app({**settings, "STORE": request.param, "DATA_FILES": [str(f) for f in files]})
    yield ready(app)
    close_app(app)


def expected(store, pattern):
    """The local paths of the studies the pattern admits, in the library's order."""
    rows = store.query(f"""SELECT ?study ?title ?position WHERE {{ {pattern}
        ?study a msc:Study ; dcterms:title ?title .
        OPTIONAL {{ ?study schema:position ?position }} }}""").rows
    order = {}
    for study, title, position in rows:
        key = (position is None, int(position) if position is not None else 0, str(title).lower(), str(study))
        order[study] = min(order.get(study, key), key)
    return ["/" + str(s)[len(BASE):] for s in sorted(order, key=order.get)]


def get(client, path):
    response = client.get(path, headers=HTML)
    assert response.status_code == 200, (path, response.status_code, response.get_data(as_text=True)[:300])
    return Document(response.get_data(as_text=True)).root


def head_link(root, rel):
    found = [link.attrs["href"] for link in root.all("link", rel=rel)]
    assert len(found) <= 1
    return found[0] if found else None


def nav_link(root, rel):
    found = [a.attrs["href"] for nav in root.all("nav", "pager") for a in nav.all("a", rel=rel)]
    assert len(found) <= 1
    return found[0] if found else None


def walk(client, path):
    """Every page of a listing from the first, following rel="next": [(path, root)]."""
    pages, current = [], path
    while current is not None and len(pages) < 50:
        root = get(client, current)
        pages.append((current, root))
        assert nav_link(root, "next") == head_link(root, "next")
        assert nav_link(root, "prev") == head_link(root, "prev")
        current = head_link(root, "next")
    return pages


def total_in_heading(root):
    """The number of studies the listing's heading (or /browse's summary line) gives."""
    found = list(root.all("p", "summary-line")) or list(root.all("section", "studies"))
    heading = found[0].one("strong") if found[0].tag == "p" else found[0].one("h2")
    number = re.fullmatch(r"([\d,]+) stud(?:y|ies)( in the library)?", heading.text()).group(1)
    return int(number.replace(",", ""))


@pytest.mark.parametrize(("path", "pattern"), LISTINGS)
def test_the_pages_of_a_listing_show_every_study_once_in_order(client, store, path, pattern):
    want = expected(store, pattern)
    pages = walk(client, path)
    assert len(pages) == max(1, -(-len(want) // SIZE))
    seen = []
    for number, (current, root) in enumerate(pages, 1):
        found = [study for study, _, _, _ in cards(root)]
        assert len(found) == (SIZE if number < len(pages) else len(want) - SIZE * (len(pages) - 1))
        seen += found
        assert total_in_heading(root) == len(want)
        query = dict(parse_qsl(urlsplit(current).query))
        assert query.get("page") == (None if number == 1 else str(number))
        if len(pages) > 1:
            first, last = (number - 1) * SIZE + 1, min(number * SIZE, len(want))
            assert root.one("p", "range").text() == f"Studies {first}–{last} of {len(want)}"
            assert root.one("p", "page-of").text() == f"Page {number} of {len(pages)}"
        else:
            assert not list(root.all("nav", "pager")) and not list(root.all("p", "range"))
        assert (head_link(root, "prev") is None) == (number == 1)
    assert seen == want


def test_the_listings_are_bigger_than_a_page_and_some_fit_on_one(store):
    """The fixture exercises what the tests above are for: several pages, and a listing without any."""
    sizes = [len(expected(store, pattern)) for _, pattern in LISTINGS]
    assert max(sizes) > 4 * SIZE and any(s <= SIZE for s in sizes)


@pytest.mark.parametrize("path", ["/browse", "/library/crohns-disease"])
def test_page_links_keep_the_other_parameters(client, path):
    query = {"phase": PHASE_2, "q": "cell"} if path == "/browse" else {}
    root = get(client, path + "?" + urlencode({**query, "page": 2}))
    for rel, number in (("prev", None), ("next", "3")):
        link = head_link(root, rel)
        if link is None:  # page 2 is the last
            assert rel == "next"
            continue
        parts = urlsplit(link)
        assert parts.path == path
        assert dict(parse_qsl(parts.query)) == {**query, **({"page": number} if number else {})}


def test_the_home_page_shows_each_sections_first_page_and_links_to_the_rest(client, store):
    want = expected(store, LISTINGS[0][1])
    root = get(client, "/")
    section = root.one("section", "library-section")
    assert [study for study, _, _, _ in cards(section)] == want[:SIZE]
    assert ("/library/crohns-disease", f"All {len(want)} studies") in section.links()
    assert not list(root.all("link", rel="next"))


def test_facet_counts_cover_every_page(client, store):
    """On page 2 as on page 1, each phase's count is its studies among all the search's matches."""
    pattern = LISTINGS[-1][1]
    counts = {}
    for study_phase in store.query(f"""SELECT ?phase (COUNT(DISTINCT ?study) AS ?n) WHERE {{ {pattern}
            ?study a msc:Study ; msc:phase/skos:broader* ?phase }} GROUP BY ?phase""").rows:
        counts["/" + str(study_phase[0])[len(BASE):]] = int(study_phase[1])
    for page in ("1", "2"):
        root = get(client, "/browse?" + urlencode({"q": "fistula", "page": page}))
        shown = {}
        for item in root.one("section", id="facet-phase").all("li"):
            link = item.one("a")
            value = dict(parse_qsl(urlsplit(link.attrs["href"]).query))["phase"]
            assert "page" not in dict(parse_qsl(urlsplit(link.attrs["href"]).query))
            shown["/" + value[len(BASE):]] = int(item.one("span", "count").text())
        assert shown == counts


BAD_PAGES = [("0", 400), ("-1", 400), ("two", 400), ("", 400), ("1.5", 400), ("9" * 30, 400),
             ("1&page=2", 400), ("7", 404), ("999999999", 404)]


@pytest.mark.parametrize("path", ["/browse", "/library/crohns-disease", "/phase/2",
                                  "/measure/clinical-remission"])
@pytest.mark.parametrize(("value", "status"), BAD_PAGES)
def test_a_bad_page_is_a_problem_that_says_what_is_wrong(client, path, value, status):
    separator = "&" if "?" in path else "?"
    # The page is HTML only; a client preferring problem documents gets its error as one.
    accept = "text/html;q=0.5, application/problem+json"
    response = client.get(f"{path}{separator}page={value}", headers={"Accept": accept})
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    detail = response.get_json()["detail"]
    assert "page" in detail
    if status == 404:
        assert re.search(r"page=\d+ is the last", detail)


def test_a_chosen_value_no_study_matches_keeps_its_label(client, store):
    label = str(store.query(f"SELECT ?l WHERE {{ <{PHASE_2}> skos:prefLabel ?l }}").rows[0][0])
    root = get(client, "/browse?" + urlencode({"phase": PHASE_2, "q": "no study says this"}))
    chosen = root.one("section", id="facet-phase").one("li", "selected")
    assert chosen.one("a").text() == label and chosen.one("span", "count").text() == "0"
    assert total_in_heading(root) == 0 and not list(root.all("article", "card"))


def outcome_rows(root):
    """(study path, outcome path) of every row of the page's outcome table, in order."""
    rows = []
    for table in root.all("table", "outcomes"):
        for row in table.one("tbody").all("tr"):
            study, outcome = ([a.attrs["href"] for a in cell.all("a")][0] for cell in list(row.all("td"))[:2])
            rows.append((study, outcome))
    return rows


def test_an_outcome_table_is_paged_by_study_and_shows_every_outcome_once(client, store):
    """A measure's page at 10,000 studies would list thousands of outcomes: it pages them by study."""
    measure = store.query("""SELECT ?measure (COUNT(DISTINCT ?study) AS ?n) WHERE {
        ?study a msc:Study ; msc:outcome/msc:measure ?measure } GROUP BY ?measure ORDER BY DESC(?n) ?measure
        LIMIT 1""").rows[0][0]
    path_of = "msc:measure/skos:broader*"
    want_studies = expected(store, f"?study msc:outcome/{path_of} <{measure}> .")
    outcomes = store.query(f"""SELECT DISTINCT ?outcome WHERE {{ ?study a msc:Study ; dcterms:title ?title ;
        msc:outcome ?outcome . ?outcome {path_of} <{measure}> }}""").rows
    want_outcomes = {"/" + str(row[0])[len(BASE):] for row in outcomes}
    assert len(want_studies) > SIZE
    pages = walk(client, "/" + str(measure)[len(BASE):])
    assert len(pages) == -(-len(want_studies) // SIZE)
    rows = []
    for number, (_, root) in enumerate(pages, 1):
        heading = root.one("section", "results").one("h2").text()
        assert heading == f"{len(want_outcomes):,} outcomes"
        first, last = (number - 1) * SIZE + 1, min(number * SIZE, len(want_studies))
        assert root.one("p", "range").text() == f"Outcomes of studies {first}–{last} of {len(want_studies)}"
        found = outcome_rows(root)
        assert len({study for study, _ in found}) == last - first + 1
        rows += found
    assert sorted(outcome for _, outcome in rows) == sorted(want_outcomes)
    runs = [study for place, (study, _) in enumerate(rows) if place == 0 or rows[place - 1][0] != study]
    assert runs == want_studies
