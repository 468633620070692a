"""The library's pages through Flask's test client: home, indications, studies, people, concepts,
browse, and the ontology and shapes documentation. Expected values come from the seed page copy in
tests/fixtures and from SPARQL over the real data, not from lists written into the tests."""

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pyoxigraph as ox
import pytest
from rdflib import RDF, Graph, URIRef
from rdflib.collection import Collection
from rdflib.compare import isomorphic
from rdflib.namespace import OWL, SKOS

from kg import config, dataset
from kg.namespaces import MSC
from kg.store import open_store
from kg.web.browse import FACETS
from kg.web.cards import script_json
from kg.web.pages import CONCEPTS
from kg.web.render import href
from kg.web.wording import timepoint_words
from tests.remote import PAGE_KINDS, real_data_app

BASE = config.BASE
SEED = (Path(__file__).parent / "fixtures" / "seed" / "000_5fd57e98103617e8.txt").read_text(encoding="utf-8")
SEED_PARAGRAPHS = [p.strip() for p in SEED.split("\n") if p.strip()]
HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
VOID_ELEMENTS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


# ---------------------------------------------------------------- a small DOM over html.parser


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent, self.children = tag, dict(attrs), parent, []

    @property
    def classes(self):
        return (self.attrs.get("class") or "").split()

    def text(self):
        parts = [c if isinstance(c, str) else c.text() for c in self.children]
        return re.sub(r"\s+", " ", " ".join(parts)).strip()

    def all(self, tag=None, cls=None, **attrs):
        for child in self.children:
            if isinstance(child, str):
                continue
            if ((tag is None or child.tag == tag) and (cls is None or cls in child.classes)
                    and all(child.attrs.get(k) == v for k, v in attrs.items())):
                yield child
            yield from child.all(tag, cls, **attrs)

    def one(self, tag=None, cls=None, **attrs):
        found = list(self.all(tag, cls, **attrs))
        assert len(found) == 1, (tag, cls, attrs, len(found))
        return found[0]

    def links(self):
        return [(a.attrs.get("href"), a.text()) for a in self.all("a")]


class Document(HTMLParser):
    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.root = self.current = Node("#document", {}, None)
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.current)
        self.current.children.append(node)
        if tag not in VOID_ELEMENTS:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Node(tag, attrs, self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def page(client, path, **kwargs):
    response = client.get(path, headers=HTML, **kwargs)
    assert response.status_code == 200, (path, response.status_code, response.get_data(as_text=True)[:500])
    assert response.mimetype == "text/html"
    return Document(response.get_data(as_text=True)).root


def cards(root):
    """(study path, title, authors line, Read study href or None) of every study card, in order."""
    found = []
    for card in root.all("article", "card"):
        title = card.one("h3").one("a")
        authors = list(card.all("p", "authors"))
        read = [a.attrs["href"] for a in card.all("a", "read")]
        assert len(read) <= 1
        found.append((title.attrs["href"], title.text(), authors[0].text() if authors else None,
                      read[0] if read else None))
    return found


def path_of(iri):
    return "/" + str(iri)[len(BASE):]


# ---------------------------------------------------------------- fixtures and data




@pytest.fixture(scope="module", params=PAGE_KINDS)
def app(request):
    yield from real_data_app(request)


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def store():
    """The real data in a store of its own, for the expected answers."""
    store = open_store("oxigraph")
    yield store
    store.close()


def rows(store, query):
    return store.query(query).rows


def study_paths(store, pattern):
    """The local paths of the studies a graph pattern over ?study admits."""
    query = f"SELECT DISTINCT ?study WHERE {{ ?study a msc:Study . {pattern} }}"
    return {path_of(r[0]) for r in rows(store, query)}


def seed_order(titles):
    return sorted(titles, key=SEED.index)


STUDIES = sorted(p.stem for p in (config.DATA_DIR / "studies").glob("*.ttl"))


# ---------------------------------------------------------------- home


def test_home_reads_like_the_seed(client, store):
    root = page(client, "/")
    assert root.one("title").text().startswith("Research library")
    assert root.one("h1").text() == "Clinical research overview"
    overview = SEED_PARAGRAPHS[SEED_PARAGRAPHS.index("Clinical research overview") + 1]
    assert overview in root.text()
    section = root.one("section", "library-section")
    assert section.one("h2").text() == "Crohn's disease"
    description = SEED_PARAGRAPHS[SEED_PARAGRAPHS.index("Crohn's disease") + 1]
    assert description in section.text()
    assert ("/indication/crohns-disease", "8 studies") in section.links()
    titles = [title for _, title, _, _ in cards(section)]
    assert titles == seed_order(titles) and len(titles) == 8


def test_the_library_iri_answers_with_the_home_page_and_its_rdf(client):
    assert page(client, "/library").one("h1").text() == "Clinical research overview"
    turtle = client.get("/", headers={"Accept": "text/turtle"})
    assert turtle.mimetype == "text/turtle" and turtle.headers["Content-Location"] == "/library.ttl"
    assert (URIRef(BASE + "library"), RDF.type, MSC.ResearchLibrary) in Graph().parse(data=turtle.data)


# ---------------------------------------------------------------- indications


def read_link(store, study_path):
    found = rows(store, f"""SELECT ?doi ?pmid WHERE {{ <{BASE}{study_path[1:]}> msc:publication ?p .
        OPTIONAL {{ ?p prism:doi ?doi }} OPTIONAL {{ ?p fabio:hasPubMedId ?pmid }} }}""")
    doi = next((r[0] for r in found if r[0] is not None), None)
    pmid = next((r[1] for r in found if r[1] is not None), None)
    if doi:
        return f"https://doi.org/{doi}"
    return f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/" if pmid else None


def test_the_crohns_disease_page_lists_the_seeds_cards_in_its_order(client, store):
    root = page(client, "/indication/crohns-disease")
    found = cards(root)
    titles = [title for _, title, _, _ in found]
    assert len(found) == 8 and titles == seed_order(titles)
    for study, title, authors, read in found:
        # The card names the first author as the seed does, right after the title.
        assert SEED_PARAGRAPHS[SEED_PARAGRAPHS.index(title) + 1] == authors
        assert authors.endswith(", et al.")
        assert read == read_link(store, study)
    reads = {study: read for study, _, _, read in found}
    assert reads["/study/lightner-peripouch-fistulas"] is None
    assert reads["/study/forbes-2014"].startswith("https://doi.org/10.")
    description = SEED_PARAGRAPHS[SEED_PARAGRAPHS.index("Crohn's disease") + 1]
    assert description in root.one("p", "lead").text()
    links = root.links()
    assert ("/indication/inflammatory-bowel-disease", "Inflammatory bowel disease") in links
    assert any(href == "http://purl.obolibrary.org/obo/MONDO_0005011" for href, _ in links)


def indications():
    graph = dataset.load_graph([config.DATA_DIR / "library.ttl"])
    return sorted(path_of(i) for i in graph.subjects(RDF.type, MSC.Indication))


@pytest.mark.parametrize("path", indications())
def test_an_indication_lists_its_studies_and_those_of_narrower_ones(client, store, path):
    root = page(client, path)
    expected = study_paths(store, f"?study msc:indication/skos:broader* <{BASE}{path[1:]}> .")
    found = [study for study, _, _, _ in cards(root)]
    assert set(found) == expected and len(found) == len(expected)


# ---------------------------------------------------------------- studies


@pytest.mark.parametrize("text", ["80%", "53%", "day 42", "baseline", "203 points", "not stated",
                                  "Clin Gastroenterol Hepatol", "12(1):64-71", "Phase 2", "open-label",
                                  "Patients (n = 15)", "decreased, statistically significant"])
def test_the_forbes_study_page_says_it_in_plain_language(client, text):
    assert text in page(client, "/study/forbes-2014").one("article", "study").text()


def test_the_forbes_study_page_links_its_identifiers(client):
    links = dict(page(client, "/study/forbes-2014").one("section", "publication").links())
    assert links["https://doi.org/10.1016/j.cgh.2013.06.021"] == "10.1016/j.cgh.2013.06.021"
    assert links["https://pubmed.ncbi.nlm.nih.gov/23872668/"] == "23872668"


def test_the_forbes_outcomes_keep_their_source_sentences(client):
    table = page(client, "/study/forbes-2014").one("table", "outcomes")
    sentences = [d.one("blockquote").text() for d in table.all("details", "source")]
    assert "80% of patients had a clinical response, with 53% achieving clinical remission." in sentences


def test_barnhoorn_lists_all_authors_in_order_and_fractions(client):
    graph = Graph().parse(config.DATA_DIR / "studies" / "barnhoorn-2020.ttl")
    study = URIRef(BASE + "study/barnhoorn-2020")
    people = list(Collection(graph, graph.value(study, URIRef("http://purl.org/ontology/bibo/authorList"))))
    names = [str(graph.value(p, URIRef("https://schema.org/name"))) for p in people]
    root = page(client, "/study/barnhoorn-2020")
    authors = root.one("article", "study").one("p", "authors")
    assert [text for _, text in authors.links()] == names and len(names) == 16
    assert "et al." not in authors.text()
    assert "13/15" in root.one("table", "outcomes").text()
    assert "https://pmc.ncbi.nlm.nih.gov/articles/PMC6930001/" in dict(root.links())


@pytest.mark.parametrize(("path", "words", "other"), [
    ("/study/garcia-olmo-2022", "a follow-up of", "/study/panes-2016"),
    ("/study/panes-2016", "followed up by", "/study/garcia-olmo-2022"),
])
def test_follow_ups_are_linked_both_ways(client, path, words, other):
    related = page(client, path).one("section", "related")
    item = related.one("li", "relation")
    assert words in item.text()
    assert [href for href, _ in item.links()] == [other]


def test_provenance_names_each_source_and_marks_secondary_ones(client):
    provenance = page(client, "/study/dhere-2016").one("section", "provenance")
    assert "DOI" in provenance.text() and "secondary source" in provenance.text()
    forbes = page(client, "/study/forbes-2014").one("section", "provenance")
    assert ("https://www.ncbi.nlm.nih.gov/pubmed/23872668", "PubMed record 23872668") in forbes.links()
    assert "secondary" not in forbes.text()


@pytest.mark.parametrize("study", STUDIES)
def test_every_study_page_has_json_ld_and_no_raw_iri(client, store, study):
    root = page(client, f"/study/{study}")
    blocks = [s for s in root.all("script") if s.attrs.get("type") == "application/ld+json"]
    assert len(blocks) == 1
    data = json.loads("".join(c for c in blocks[0].children if isinstance(c, str)))
    title = rows(store, f"SELECT ?t WHERE {{ <{BASE}study/{study}> dcterms:title ?t }}")[0][0]
    assert data["name"] == str(title) == root.one("h1").text()
    assert "MedicalTrial" in data["@type"] and data["author"] and data["about"]
    assert data["url"] == f"{BASE}study/{study}"
    # Labels, never IRIs, in the page's own text (the all-statements table is outside the article).
    assert BASE not in root.one("article", "study").text()


def test_json_ld_cannot_be_closed_by_a_literal():
    hostile = {"name": "</script><script>alert(1)</script><!-- & -->"}
    text = str(script_json(hostile))
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == hostile


@pytest.mark.parametrize(("duration", "sentence", "words"), [
    ("PT0S", "", "baseline"), ("P0D", "", "baseline"), ("P42D", "from 370 to 203 at day 42", "day 42"),
    ("P84D", "At W12", "week 12"), ("P336D", "", "week 48"), ("P168D", "", "week 24"),
    ("P728D", "", "week 104"), ("P14D", "2 weeks after", "week 2"), ("P6M", "", "6 months"),
    ("P4Y", "", "4 years"), ("P1Y", "", "1 year"), ("P3D", "", "day 3"),
])
def test_timepoints_in_words(duration, sentence, words):
    assert timepoint_words(duration, sentence) == words


# ---------------------------------------------------------------- people and concepts


@pytest.mark.parametrize("person", ["jian-zhang", "helene-roelofs", "damian-garcia-olmo", "amy-l-lightner"])
def test_a_person_page_lists_that_persons_studies(client, store, person):
    root = page(client, f"/person/{person}")
    name = rows(store, f"SELECT ?n WHERE {{ <{BASE}person/{person}> schema:name ?n }}")[0][0]
    assert root.one("h1").text() == str(name)
    expected = study_paths(store, f"?study schema:author <{BASE}person/{person}> .")
    assert expected and {study for study, _, _, _ in cards(root)} == expected


@pytest.mark.parametrize(("kind", "path"), [(k, p) for k, (subject, p, _) in CONCEPTS.items()
                                            if subject == "study"])
def test_a_concept_page_lists_the_studies_that_point_at_it(client, store, kind, path):
    for (concept,) in rows(store, f"SELECT ?c WHERE {{ ?c a <{kind}> }}"):
        root = page(client, path_of(concept))
        expected = study_paths(store, f"?study {path} <{concept}> .")
        assert {study for study, _, _, _ in cards(root)} == expected, concept


@pytest.mark.parametrize(("kind", "path"), [(k, p) for k, (subject, p, _) in CONCEPTS.items()
                                            if subject == "outcome"])
def test_a_measure_or_unit_page_lists_its_outcomes(client, store, kind, path):
    for (concept,) in rows(store, f"SELECT ?c WHERE {{ ?c a <{kind}> }}"):
        root = page(client, path_of(concept))
        expected = {path_of(r[0]) for r in rows(store, f"SELECT ?o WHERE {{ ?o {path} <{concept}> }}")}
        found = {href for table in root.all("table", "outcomes") for href, _ in table.links()
                 if "/outcome/" in (href or "")}
        assert found == expected, concept


def test_concept_pages_link_their_matches_out(client):
    links = dict(page(client, "/cell-source/bone-marrow").one("ul", "matches").links())
    assert links["http://purl.obolibrary.org/obo/UBERON_0002371"] == "UBERON:0002371"


# ---------------------------------------------------------------- browse


PHASE_3 = BASE + "phase/3"
ALLOGENEIC = BASE + "donor-relation/allogeneic"
BONE_MARROW = BASE + "cell-source/bone-marrow"
PERIANAL = BASE + "indication/perianal-fistulas-in-crohns-disease"


def browse_cards(client, params):
    root = page(client, "/browse", query_string=params)
    return root, {study for study, _, _, _ in cards(root)}


def facet_pattern(params):
    paths = {f.name: f.path for f in FACETS}
    return " ".join(f'?study {paths[name]} {f"{value!r}^^xsd:gYear" if name == "year" else f"<{value}>"} .'
                    for name, value in params)


def search_expected(store, q):
    texts = rows(store, "SELECT ?study ?title ?summary WHERE { ?study a msc:Study ; dcterms:title ?title "
                        "OPTIONAL { ?study msc:summary ?summary } }")
    return {path_of(s) for s, t, m in texts if q.lower() in f"{t}\n{m or ''}".lower()}


@pytest.mark.parametrize("params", [
    [("donor", ALLOGENEIC), ("source", BONE_MARROW)],
    [("phase", PHASE_3), ("design", BASE + "design/double-blind")],
    [("indication", PERIANAL), ("donor", ALLOGENEIC), ("design", BASE + "design/controlled")],
    [("indication", BASE + "indication/crohns-disease"), ("year", "2022")],
])
def test_browse_facets_combine_and_narrow(client, store, params):
    everything = study_paths(store, "")
    expected = study_paths(store, facet_pattern(params))
    root, found = browse_cards(client, params)
    assert found == expected
    for one in params:
        assert expected <= study_paths(store, facet_pattern([one]))
    assert expected and expected < everything
    # Each chosen value is marked and its link removes it; the page's link reproduces the selection.
    selected = [a for a in root.all("a") if a.attrs.get("aria-current") == "true"]
    assert len(selected) == len(params)
    for a in selected:
        remaining = parse_qsl(urlsplit(a.attrs["href"]).query)
        assert len(remaining) == len(params) - 1 and set(remaining) <= set(params)


def test_browse_facet_counts_are_the_studies_a_value_would_leave(client, store):
    root, found = browse_cards(client, [("donor", ALLOGENEIC)])
    facet = root.one("section", None, id="facet-source")
    for item in facet.all("li"):
        href, label = item.links()[0]
        count = int(item.one("span", "count").text())
        chosen = parse_qsl(urlsplit(href).query)
        assert ("donor", ALLOGENEIC) in chosen
        assert count == len(browse_cards(client, chosen)[1]), label


def test_browse_without_facets_lists_every_study(client, store):
    assert browse_cards(client, [])[1] == study_paths(store, "")


@pytest.mark.parametrize("q", ["umbilical cord", "UMBILICAL CORD", "Umbilical Cord Mesenchymal", "cdai",
                               "ADMIRE-cd", "DARVADSTROCEL", "Fistulas"])
def test_browse_search_is_case_insensitive_over_titles_and_summaries(client, store, q):
    expected = search_expected(store, q)
    found = browse_cards(client, [("q", q)])[1]
    assert found == expected and expected
    if "umbilical" in q.lower():
        assert "/study/zhang-2018" in found


def test_a_value_the_data_lacks_lists_nothing_and_can_be_removed(client):
    root, found = browse_cards(client, [("phase", BASE + "phase/9"), ("q", "cell")])
    assert found == set()
    (selected,) = [a for a in root.all("a") if a.attrs.get("aria-current") == "true"]
    assert parse_qsl(urlsplit(selected.attrs["href"]).query) == [("q", "cell")]


def test_browse_search_and_facets_combine(client, store):
    found = browse_cards(client, [("q", "fistula"), ("source", BONE_MARROW)])[1]
    searched = search_expected(store, "fistula")
    expected = searched & study_paths(store, facet_pattern([("source", BONE_MARROW)]))
    assert found == expected and expected < searched


@pytest.mark.parametrize(("name", "value"), [
    ("phase", "https://example.org/phase/3"),
    ("donor", "javascript:alert(1)"),
    ("indication", BASE + "indication/<script>"),
    ("source", BASE + "cell-source/bone marrow"),
    ("year", "20x4"),
])
def test_a_facet_value_outside_the_library_is_a_400(client, name, value):
    response = client.get("/browse", query_string={name: value}, headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.mimetype == "application/json" and name in response.json["detail"]


def test_a_long_search_is_a_400(client):
    assert client.get("/browse", query_string={"q": "x" * 1000}).status_code == 400


# ---------------------------------------------------------------- ontology and shapes


def ontology_file():
    return Graph().parse(config.ONTOLOGY_DIR / "msc.ttl")


def test_the_ontology_page_has_an_anchor_per_term(client):
    graph = ontology_file()
    terms = {t for kind in (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.NamedIndividual)
             for t in graph.subjects(RDF.type, kind) if str(t).startswith(str(MSC._NS))}
    root = page(client, "/ontology")
    for term in terms:
        article = root.one("article", "term", id=str(term).split("#")[1])
        assert str(graph.value(term, SKOS.definition)) in article.text()
    assert len(list(root.all("article", "term"))) == len(terms)
    # Terms link to each other within the page, by label.
    assert ("/ontology#Study", "study") in root.one("article", None, id="firstAuthor").links()


@pytest.mark.parametrize(("path", "headers"), [("/ontology.ttl", {}),
                                               ("/ontology", {"Accept": "text/turtle"}),
                                               ("/ontology.jsonld", {})])
def test_the_ontology_as_rdf_is_the_ontology(client, path, headers):
    response = client.get(path, headers=headers)
    assert response.status_code == 200
    fmt = "json-ld" if path.endswith(".jsonld") else "turtle"
    assert isomorphic(Graph().parse(data=response.data, format=fmt), ontology_file())
    if not path.endswith((".ttl", ".jsonld")):
        assert response.headers["Content-Location"] == "/ontology.ttl"


def shapes_file():
    graph = Graph()
    for path in dataset.shape_files():
        graph.parse(path)
    return graph


def test_the_shapes_page_lists_every_node_shape(client):
    graph = shapes_file()
    shapes = set(graph.subjects(RDF.type, URIRef("http://www.w3.org/ns/shacl#NodeShape")))
    root = page(client, "/shapes")
    assert len(list(root.all("article", "shape"))) == len(shapes) > 0
    for shape in shapes:
        assert root.one("article", "shape", id=str(shape).split("#")[1]).one("h2").text()
    text = root.text()
    for message in graph.objects(None, URIRef("http://www.w3.org/ns/shacl#message")):
        assert re.sub(r"\s+", " ", str(message)) in text
    study = root.one("article", "shape", id="StudyShape")
    assert ("/ontology#Study", "msc:Study") in study.links()
    assert "Warning" in study.text() and "Violation" in study.text()


def canonical(*documents):
    """The triples of Turtle documents with blank nodes canonically named (rdflib's isomorphic() takes
    seconds over the shapes' hundreds of blank nodes; oxigraph's canonicalization milliseconds)."""
    graph = ox.Dataset(q for document in documents for q in ox.parse(document, format=ox.RdfFormat.TURTLE))
    graph.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
    return set(graph)


def test_the_shapes_as_turtle_are_the_shapes(client):
    response = client.get("/shapes.ttl")
    assert response.status_code == 200 and response.mimetype == "text/turtle"
    expected = canonical(*(path.read_bytes() for path in dataset.shape_files()))
    assert canonical(response.data) == expected and len(expected) == len(shapes_file())


# ---------------------------------------------------------------- every page


PAGES = ["/", "/indication/crohns-disease", "/library/crohns-disease", "/study/forbes-2014",
         "/person/marieke-c-barnhoorn", "/phase/1-2", "/measure/healing", "/unit-of-analysis/events",
         "/design/randomized", "/donor-relation/autologous", "/cell-type/mesenchymal-stem-cell",
         "/cell-source/umbilical-cord", "/browse", f"/browse?phase={PHASE_3}", "/ontology", "/shapes"]


@pytest.mark.parametrize("path", PAGES)
def test_pages_need_no_script_and_no_inline_style(client, path):
    root = page(client, path)
    for node in root.all():
        assert "style" not in node.attrs and not any(a.startswith("on") for a in node.attrs), node.tag
        assert node.tag != "style"
        if node.tag == "script":
            assert node.attrs.get("type") == "application/ld+json"
    assert root.one("link", None, rel="stylesheet").attrs["href"] == "/static/style.css"


def test_the_favicon_is_an_empty_answer(client):
    assert client.get("/favicon.ico").status_code == 204


@pytest.mark.parametrize("path", ["/study/forbes-2014", "/indication/crohns-disease", "/person/t-dhere",
                                  "/phase/3"])
def test_typed_pages_keep_their_rdf_and_twins(client, path):
    turtle = client.get(path + ".ttl")
    assert turtle.status_code == 200 and turtle.mimetype == "text/turtle"
    assert (URIRef(BASE + path[1:]), None, None) in Graph().parse(data=turtle.data, format="turtle")
    negotiated = client.get(path, headers={"Accept": "application/n-triples"})
    assert negotiated.headers["Content-Location"] == path + ".nt"
    html = client.get(path + ".html")
    assert html.status_code == 200 and html.mimetype == "text/html"


def test_a_local_part_starting_with_a_slash_is_no_link_to_another_site(app):
    base = app.config["PUBLIC_BASE"]
    with app.app_context():
        assert href(base + "/evil.example/x") == base + "/evil.example/x"
        assert href(app.config["PUBLIC_BASE"] + "study/a") == "/study/a"
        assert href("javascript:alert(1)") is None
