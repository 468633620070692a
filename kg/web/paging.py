"""Paged study listings: one page of study cards, the number of studies in all, and the links between pages.

A listing is a graph pattern over ?study (query text from the pages' own constants; values come in
as bindings). Three small queries answer a page: the count, the page's studies in the library's
order (LIMIT/OFFSET), and the cards of just those studies, so a page costs the same whatever the
size of the library. ?page=N picks the page; docs/endpoint.md says what a bad N gets.
"""

import re
from dataclasses import dataclass
from urllib.parse import urlencode

from flask import current_app, request

from kg.web.cards import cards_for
from kg.web.data import select
from kg.web.errors import problem

# What every listing matches on: a study with an IRI (a card links to it) and a title. ?title and
# ?summary are there for /browse's search filter; /browse counts its facets over the same match.
MATCH = """{pattern}
  ?study a msc:Study ; dcterms:title ?title .
  FILTER(isIRI(?study))
  {summary}"""
SUMMARY = "OPTIONAL { ?study msc:summary ?summary }"
# The library's order: schema:position (studies without one last), then title; then IRI, so that
# studies tied on both cannot swap places between one page's query and the next.
KEYS = """SELECT ?study (MIN(?p) AS ?position) (MIN(LCASE(STR(?title))) AS ?sortTitle) {bound} WHERE {{
  {match}
  OPTIONAL {{ ?study schema:position ?p }}
}} GROUP BY ?study {bound}
ORDER BY (!BOUND(?position)) ?position ?sortTitle ?study
LIMIT {limit} OFFSET {offset}"""
COUNT = "SELECT (COUNT(DISTINCT ?study) AS ?count) {bound} WHERE {{ {match} }} {group}"
PAGE_NUMBER = re.compile(r"[0-9]{1,15}")


def match_parts(pattern, bindings):
    """The bound variables to project, and the pattern with what every listing matches on."""
    bound = " ".join(f"?{name}" for name in sorted(bindings))
    summary = SUMMARY if "?summary" in pattern else ""
    return bound, MATCH.format(pattern=pattern, summary=summary)


def study_count(pattern="", **bindings):
    """How many studies the pattern admits."""
    bound, match = match_parts(pattern, bindings)
    group = f"GROUP BY {bound}" if bound else ""
    rows = select(COUNT.format(bound=bound, match=match, group=group), **bindings)
    return int(str(rows[0]["count"])) if rows else 0


def study_keys(pattern, number, size, **bindings):
    """The IRIs of page number (from 1) of the studies the pattern admits, size to a page."""
    bound, match = match_parts(pattern, bindings)
    query = KEYS.format(bound=bound, match=match, limit=int(size), offset=(int(number) - 1) * int(size))
    return [row["study"] for row in select(query, **bindings)]


def study_page(pattern, number, size, **bindings):
    """The cards of page number (from 1) of the studies the pattern admits, size to a page."""
    return cards_for(study_keys(pattern, number, size, **bindings))


@dataclass(frozen=True)
class Pager:
    """Page number of a listing of total studies, size to a page, and the links to its neighbours."""

    number: int
    size: int
    total: int

    @property
    def pages(self):
        return max(1, -(-self.total // self.size))

    @property
    def first(self):
        return min((self.number - 1) * self.size + 1, self.total)

    @property
    def last(self):
        return min(self.number * self.size, self.total)

    @property
    def prev(self):
        return page_href(self.number - 1) if self.number > 1 else None

    @property
    def next(self):
        return page_href(self.number + 1) if self.number < self.pages else None


def page_href(number):
    """This request's path and query with page=number (none for page 1), keeping the other parameters."""
    pairs = [(k, v) for k, v in request.args.items(multi=True) if k != "page"]
    if number > 1:
        pairs.append(("page", str(number)))
    return request.path + ("?" + urlencode(pairs) if pairs else "")


def requested_page():
    """The page the request asks for (page=N, default 1), or a 400 that says what is wrong."""
    values = request.args.getlist("page")
    if not values:
        return 1
    raw = values[0].strip()
    if len(values) > 1 or not PAGE_NUMBER.fullmatch(raw) or int(raw) < 1:
        given = "several page= values" if len(values) > 1 else f"page={values[0][:40]!r}"
        problem(400, f"{given} is not a page number: pages are numbered from 1 (page=2 is the second).")
    return int(raw)


def listing(pattern, total=None, **bindings):
    """The pager and the cards of the page the request asks for; past the last page is a 404."""
    pager, keys = paged(pattern, total, **bindings)
    return pager, cards_for(keys)


def paged(pattern, total=None, **bindings):
    """The pager and the study IRIs of the page the request asks for; past the last page is a 404."""
    number = requested_page()
    size = max(1, int(current_app.config["PAGE_SIZE"]))
    if total is None:
        total = study_count(pattern, **bindings)
    pager = Pager(number, size, total)
    if number > pager.pages:
        problem(404, f"There is no page {number} here: the {total:,} studies fill {pager.pages} "
                f"page{'s' if pager.pages > 1 else ''} of {size}; page={pager.pages} is the last.")
    return pager, study_keys(pattern, number, size, **bindings)
