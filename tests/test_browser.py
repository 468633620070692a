"""The pages in a real browser: Debian's Chromium driven by Playwright against serve.py.

A reader's walk through the library (home, indication, study, author), the query page with an
example query, and the browse page with two facets. Each page is saved at desktop and phone width
to test-output/screenshots/ and must fit a phone's width; no page may log a console error, throw,
open a dialog or trip the Content-Security-Policy.
"""

import contextlib
import re

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.live import ROOT, running_server

CHROMIUM = "/usr/bin/chromium"  # Debian's; ./dev.sh test installs it (Playwright's download fails here)
# As root there is no sandbox; the closed network here refuses Chromium's background connections.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 20_000

# Each securitypolicyviolation event is reported to the test through a binding.
REPORT_CSP = """document.addEventListener('securitypolicyviolation', e => window.__reportCsp(
  `${e.violatedDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`));"""

FORBES = ("A phase 2 study of allogeneic mesenchymal stromal cells for luminal Crohn's disease "
          "refractory to biologic therapy")
CROHNS_AUTHORS = ("Jian Zhang", "Julián Panés", "Damián Garcia-Olmo", "T Dhere", "Geoffrey M Forbes",
                  "Sophie Vieujean", "Amy L Lightner", "Marieke C Barnhoorn")


@contextlib.contextmanager
def chromium():
    """A headless Debian Chromium under Playwright, with a fresh profile."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Watched:
    """A page in its own browser context that records console errors, uncaught errors, dialogs and
    CSP violations in .problems."""

    def __init__(self, browser, base_url, viewport=DESKTOP):
        self.problems = []
        self.context = browser.new_context(viewport=viewport, base_url=base_url)
        self.context.set_default_timeout(TIMEOUT_MS)
        self.context.expose_binding("__reportCsp", lambda _source, text: self.problems.append(f"CSP: {text}"))
        self.context.add_init_script(REPORT_CSP)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on("dialog", self._dialog)

    def _console(self, message):
        if message.type == "error" or "Content Security Policy" in message.text:
            self.problems.append(f"console {message.type}: {message.text} ({message.location.get('url')})")

    def _dialog(self, dialog):
        self.problems.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    def close(self):
        self.context.close()


@pytest.fixture(scope="module")
def server():
    with running_server() as (host, port):
        yield f"http://{host}:{port}"


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture
def watched(browser, server):
    watched = Watched(browser, server)
    yield watched
    watched.close()
    assert watched.problems == []


@pytest.fixture
def page(watched):
    return watched.page


def look(page, name):
    """Save the whole page at desktop and phone width; at phone width nothing may stick out."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_load_state("load")
    try:
        for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(viewport)
            page.screenshot(path=SCREENSHOTS / f"{name}-{label}.png", full_page=True)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{page.url} is {width}px wide at a phone's {PHONE['width']}px"
    finally:
        page.set_viewport_size(DESKTOP)


def main(page):
    return page.locator("main")


def test_a_reader_walks_from_the_library_to_an_author(page):
    page.goto("/")
    expect(page).to_have_title(re.compile("Research library"))
    expect(page.locator("h1")).to_have_text("Clinical research overview")
    expect(main(page)).to_contain_text("This library brings together peer-reviewed studies on Mesenchymal")
    heading = page.get_by_role("heading", name="Crohn's disease", exact=True)
    crohns = main(page).locator("section", has=heading)
    expect(crohns).to_have_count(1)
    expect(crohns).to_contain_text("8 studies")
    expect(crohns).to_contain_text("Clinical research is investigating the potential of mesenchymal")
    expect(crohns.locator("article")).to_have_count(8)
    expect(crohns.locator("article").first).to_contain_text("Jian Zhang, et al.")
    look(page, "1-home")

    crohns.get_by_role("heading", name="Crohn's disease", exact=True).get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/indication/crohns-disease$"))
    expect(page.locator("h1")).to_have_text("Crohn's disease")
    expect(main(page)).to_contain_text("Clinical research is investigating the potential")
    cards = main(page).locator("article")
    expect(cards).to_have_count(8)
    for author in CROHNS_AUTHORS:
        expect(cards.filter(has_text=f"{author}, et al.")).to_have_count(1)
    expect(main(page).get_by_role("link", name="Read study").first).to_be_visible()
    look(page, "2-indication")

    cards.get_by_role("heading", name=FORBES).get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/study/forbes-2014$"))
    expect(page.locator("h1")).to_have_text(FORBES)
    authors = main(page).locator(".authors")
    expect(authors).to_contain_text("Geoffrey M Forbes")
    expect(main(page)).to_contain_text("80% of patients had a clinical response")
    outcomes_heading = page.get_by_role("heading", name="Outcomes", exact=True)
    outcomes = main(page).locator("section", has=outcomes_heading).locator("table")
    expect(outcomes).to_have_count(1)
    expect(outcomes.locator("tbody tr")).to_have_count(7)
    for outcome, value in (("Clinical remission", "53%"), ("Clinical response", "80%"),
                           ("Mean CDAI score at day 42 after MSC infusion", "203")):
        row = outcomes.locator("tbody tr").filter(has=page.get_by_role("link", name=outcome, exact=True))
        expect(row.locator("td").nth(2)).to_contain_text(value)
    look(page, "3-study")

    authors.get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(r"/person/geoffrey-m-forbes$"))
    expect(page.locator("h1")).to_have_text("Geoffrey M Forbes")
    expect(main(page).get_by_role("link", name=FORBES).first).to_be_visible()
    look(page, "4-person")


def test_the_query_page_runs_an_example(page):
    page.goto("/sparql")
    expect(page.locator("h1")).to_contain_text("SPARQL")
    examples = main(page).locator(".examples a")
    assert examples.count() >= 10
    look(page, "5-sparql")

    examples.filter(has_text="How many studies there are of each trial phase").click()
    expect(page.locator("textarea")).to_have_value(re.compile(r"COUNT\(\?study\)"))
    page.get_by_role("button", name="Run query").click()
    table = main(page).locator("table", has_text="Phase 3")
    expect(table).to_have_count(1)
    # A literal's language tag may be shown beside it ("Phase 3 @en").
    rows = [tuple(re.sub(r"\s*@[a-z]+(-[a-z0-9]+)*$", "", cell.strip(), flags=re.I)
                  for cell in row.locator("td").all_inner_texts())
            for row in table.locator("tbody tr").all()]
    assert rows == [("Phase 1", "1"), ("Phase 1/2", "1"), ("Phase 1b/2a", "1"), ("Phase 2", "1"),
                    ("Phase 3", "2")]
    look(page, "6-sparql-results")


def test_browse_narrows_by_two_facets(page):
    page.goto("/browse")
    expect(page.locator("h1")).to_contain_text("Browse")
    cards = main(page).locator("article")
    expect(cards).to_have_count(8)
    look(page, "7-browse")

    page.locator("#facet-source").get_by_role("link", name="bone marrow", exact=True).click()
    expect(page).to_have_url(re.compile(r"[?&]source="))
    expect(cards).to_have_count(3)
    page.locator("#facet-donor").get_by_role("link", name="allogeneic", exact=True).click()
    expect(page).to_have_url(re.compile(r"[?&]source=.*&donor=|[?&]donor=.*&source="))
    expect(cards).to_have_count(2)
    expect(cards.filter(has_text="Marieke C Barnhoorn, et al.")).to_have_count(1)
    expect(cards.filter(has_text="Amy L Lightner, et al.")).to_have_count(1)
    expect(main(page)).to_contain_text("2 studies")
    for facet, value in (("source", "bone marrow"), ("donor", "allogeneic")):
        chosen = page.locator(f"#facet-{facet}").get_by_role("link", name=value, exact=True)
        expect(chosen).to_have_attribute("aria-current", "true")
    look(page, "8-browse-two-facets")


def test_the_policy_stops_injected_script_and_the_watch_sees_it(watched):
    """A check of the checks: an inline handler smuggled into a page is refused, and reported."""
    page = watched.page
    page.goto("/")
    page.evaluate("document.body.insertAdjacentHTML('beforeend', '<img src=x onerror=alert(1)>')")
    page.evaluate("() => new Promise(resolve => setTimeout(resolve, 300))")
    assert not any(p.startswith("dialog") for p in watched.problems)
    assert any(p.startswith("CSP: script-src") for p in watched.problems), watched.problems
    watched.problems.clear()


def test_the_validation_page_links_results_to_their_shapes(page):
    page.goto("/validation")
    expect(page.locator("h1")).to_have_text("Validation of the dataset")
    results = main(page).locator("#results table tbody tr")
    assert results.count() >= 1
    shape = results.first.get_by_role("link").last
    target = shape.get_attribute("href")
    assert target.startswith("/shapes#")
    expect(main(page).locator("#coverage table tbody tr").first).to_be_visible()
    look(page, "9-validation")
    shape.click()
    expect(page).to_have_url(re.compile(re.escape(target) + "$"))
    expect(page.locator(target[len("/shapes"):])).to_be_visible()
