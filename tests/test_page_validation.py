"""The resource pages' Validation sections take the dataset's results from the validation cache the
start-up check fills (kg.shacl_service.CheckServedFiles), not from a full pyshacl run, wherever the
store holds exactly the files; the results equal a full validation's (expected results come from
kg.validation run here on the same files)."""

import json
import os
import re
import time

import pytest

from kg import dataset, served_results, shacl_service, validation
from kg.served_results import CheckServedFiles, DatasetResults
from kg.shacl_service import CheckDataset, DatasetReport
from kg.store import KINDS, open_store
from kg.web import server
from kg.web.app import close_app, create_app
from kg.web.validation_page import dataset_validation, page_validation
from tests.live import request, running_server
from tests.remote import real_data_app
from tests.test_incremental import copy_library
from tests.test_validation_page import FIXTURE, HTML, NAMELESS, section, text

HOUR_AGO = time.time_ns() - 3600 * 10**9
MARK = "This message is the cache's own: no validation writes it."
STUDY = "https://w3id.org/msc-kg/study/forbes-2014"
SOURCE = "        dcterms:source <https://www.ncbi.nlm.nih.gov/pubmed/23872668> ] ."


@pytest.fixture
def library(tmp_path):
    """The curated files and one with a known violation, last written an hour ago; forbes-2014's
    first attribution has no source: a violation on a blank node, shown on the study's page."""
    files = copy_library(tmp_path)
    fixture = tmp_path / "repo" / "data" / "fixture.ttl"
    fixture.write_text(FIXTURE, encoding="utf-8")
    forbes = next(f for f in files if f.name == "forbes-2014.ttl")
    forbes.write_text(forbes.read_text(encoding="utf-8").replace(SOURCE, "    ] .", 1), encoding="utf-8")
    files.append(fixture)
    for path in files:
        os.utime(path, ns=(HOUR_AGO, HOUR_AGO))
    return files


def by_page(report):
    """{IRI: the results shown on its page}, blank node labels aside (each parse has its own)."""
    return {iri: sorted(re.sub(r"_:\w+", "_:", repr(report.results[i])) for i in indexes)
            for iri, indexes in report.pages.items()}


def test_the_cached_results_are_a_full_validations_on_every_page(library, tmp_path, monkeypatch):
    store = open_store("oxigraph", files=library)
    monkeypatch.setattr(served_results, "IMPORTED_NS", time.time_ns())  # this process loaded them now
    job = CheckServedFiles(tuple(map(str, library)), str(tmp_path / "cache"))
    cached = served_results.check(store, job, shacl_service.check_dataset)
    full = shacl_service.check_dataset(store)
    assert isinstance(cached, DatasetResults) and isinstance(full, DatasetReport)
    assert by_page(cached) == by_page(full)
    assert any(r.focus.startswith("_:") for r in full.results)
    assert any(r.path == "dcterms:source" for r in (cached.results[i] for i in cached.pages[STUDY]))
    assert NAMELESS in cached.pages


@pytest.mark.parametrize("change", ["a file written since the store loaded it", "a file the store lacks"])
def test_files_other_than_the_stores_get_a_full_validation(library, tmp_path, monkeypatch, change):
    store = open_store("oxigraph", files=library)
    monkeypatch.setattr(served_results, "IMPORTED_NS", time.time_ns())
    files = list(library)
    if change == "a file the store lacks":
        extra = tmp_path / "repo" / "data" / "extra.ttl"
        extra.write_text(f'<{NAMELESS}> <https://schema.org/name> "Named"@en .\n', encoding="utf-8")
        os.utime(extra, ns=(HOUR_AGO, HOUR_AGO))
        files.append(extra)
    else:
        os.utime(files[-1], None)  # written now, after the "load"
    job = CheckServedFiles(tuple(map(str, files)), str(tmp_path / "cache"))
    answer = served_results.check(store, job, shacl_service.check_dataset)
    assert isinstance(answer, DatasetReport)  # what the store holds, validated
    assert by_page(answer) == by_page(shacl_service.check_dataset(store))


def test_a_page_shows_what_the_start_up_checks_cache_says(library, tmp_path):
    """A second app over the same files shows the results the start-up check left in the cache, without
    validating again: a message put into the cache by hand is what the page shows."""
    cache = tmp_path / "cache"
    assert server.check(library, cache) == 1  # the fixture's violation
    per_file = next(p for p in cache.glob("validate-*.json") if not p.name.endswith(".last.json"))
    content = json.loads(per_file.read_text(encoding="utf-8"))
    shared = content["passes"]["shared"]["results"]
    assert any(r["focus"] == NAMELESS for r in shared)
    for result in shared:
        if result["focus"] == NAMELESS:
            result["message"] = MARK
    per_file.write_text(json.dumps(content), encoding="utf-8")
    app = create_app({"DATA_FILES": library, "WORKERS": 1, "VALIDATION_CACHE": str(cache)})
    try:
        holder = page_validation(app)
        assert holder.get(wait=120) is not None, holder.error
        assert isinstance(holder.job, CheckServedFiles) and isinstance(holder.report, DatasetResults)
        page = app.test_client().get("/person/validation-fixture-nameless", headers=HTML)
        status = section(page.get_data(as_text=True), "validation")
        assert MARK in text(status) and "Does not conform to the" in status
        assert dataset_validation(app).report is None  # no full run was asked for
    finally:
        close_app(app)


@pytest.fixture(scope="module", params=KINDS)
def app(request, tmp_path_factory):
    yield from real_data_app(request, VALIDATION_CACHE=str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="module")
def expected():
    return validation.validate()


def test_every_store_fills_a_study_pages_validation_section(app, expected):
    holder = page_validation(app)
    assert holder.get(wait=120) is not None, holder.error
    remote = app.config["STORE"].startswith("sparql:")
    assert isinstance(holder.job, CheckDataset if remote else CheckServedFiles)
    assert (holder is dataset_validation(app)) is remote  # a sparql: store's data are not the files here
    parts = {f"{STUDY}/publication", f"{STUDY}/intervention"}
    mine = [r for r in expected.results if r.focus == STUDY or r.focus in parts]
    status = section(app.test_client().get("/study/forbes-2014", headers=HTML).get_data(as_text=True),
                     "validation")
    assert "not available" not in status
    for result in mine:
        assert result.message in text(status)
    if not mine:
        assert "Conforms to the" in status


UNLINKED = "https://w3id.org/msc-kg/person/nobody-written-by-a-test"


def test_a_page_shows_the_results_of_a_write(tmp_path):
    folder = tmp_path / "repo"
    files = copy_library(tmp_path)
    graph = dataset.graph_name(next(f for f in files if f.name == "forbes-2014.ttl"))
    token = "alice:alice-token-0123456789"
    headers = {"Authorization": "Bearer alice-token-0123456789", "Content-Type": "application/sparql-update",
               "Accept": "application/json"}
    # A person no study names: the shapes warn, and a write is let through with warnings.
    insert = (f'INSERT DATA {{ GRAPH <{graph}> {{ <{UNLINKED}> a schema:Person ; schema:name "Nobody" ; '
             f'prov:wasDerivedFrom <https://example.org/nowhere> }} }}')
    with running_server("--data", *files, "--workers", "1", "--write-token", token,
                        "--validation-cache", tmp_path / "cache") as served:
        status, _, body = request(served, "POST", "/sparql", insert.encode(), headers)
        assert status == 200, body
        assert json.loads(body)["served"]
        now = validation.validate(sorted(folder.rglob("*.ttl")))
        written = [r for r in now.results if r.focus == UNLINKED]
        assert written
        deadline = time.monotonic() + 120
        while True:
            status, _, page = request(served, "GET", "/person/nobody-written-by-a-test", headers=HTML)
            shown = section(page.decode(), "validation")
            if "not available" not in shown or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    assert status == 200
    for result in written:
        assert result.message in text(shown)
