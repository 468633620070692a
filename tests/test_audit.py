"""The dependency audit (.ci/audit.py) against a stand-in for PyPI's JSON API on 127.0.0.1."""

import importlib.util
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / ".ci" / "audit.py"
spec = importlib.util.spec_from_file_location("audit", SCRIPT)
audit = importlib.util.module_from_spec(spec)
spec.loader.exec_module(audit)

VULNERABILITY = {"id": "PYSEC-0000-1", "fixed_in": ["2.0"], "withdrawn": None}


def project(latest, vulnerabilities=(), releases=None):
    files = releases or {latest: [{"yanked": False}]}
    return {"info": {"version": latest}, "vulnerabilities": list(vulnerabilities), "releases": files}


# What the stand-in answers: {path: JSON} and 404 for every other path; /broken/ answers 500.
RECORDS = {
    "/latest-clean/json": project("1.0"),
    "/latest-vulnerable/json": project("1.0", [VULNERABILITY]),
    "/latest-withdrawn/json": project("1.0", [{**VULNERABILITY, "withdrawn": "2026-01-01T00:00:00"}]),
    "/behind/json": project("2.0", [], {"1.0": [{"yanked": False}], "2.0": [{"yanked": False}]}),
    "/behind-own-record/json": project("2.0", [], {"1.0": [{"yanked": False}]}),
    "/behind-own-record/1.0/json": {"info": {"version": "1.0"}, "vulnerabilities": [VULNERABILITY],
                                    "urls": [{"yanked": False}]},
    "/yanked/json": project("2.0", [], {"1.0": [{"yanked": True, "yanked_reason": "CVE fix broke it"}]}),
}


class StandIn(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the name http.server calls)
        if self.path.startswith("/broken/"):
            self.send_error(500)
            return
        record = RECORDS.get(self.path)
        if record is None:
            self.send_error(404)
            return
        body = json.dumps(record).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def pypi():
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("name", "version", "status", "detail"), [
    ("latest-clean", "1.0", "ok", ""),
    ("latest-vulnerable", "1.0", "vulnerable", "PYSEC-0000-1 (fixed in 2.0)"),
    ("latest-withdrawn", "1.0", "ok", ""),
    ("behind", "1.0", "unchecked", "older than the latest release 2.0"),
    ("behind-own-record", "1.0", "vulnerable", "PYSEC-0000-1"),
    ("yanked", "1.0", "yanked", "CVE fix broke it"),
    ("nowhere", "1.0", "unchecked", "not on PyPI"),
])
def test_each_release_gets_the_verdict_its_records_support(pypi, name, version, status, detail):
    got_status, got_detail = audit.check(pypi, name, version)
    assert got_status == status
    assert detail in got_detail


def test_an_index_that_fails_is_an_error_not_a_pass(pypi):
    with pytest.raises(audit.Unreachable, match="HTTP 500"):
        audit.check(f"{pypi}/broken", "anything", "1.0")


@pytest.mark.parametrize(("strict", "code"), [(False, 0), (True, 1)])
def test_unchecked_releases_fail_only_when_strict(pypi, capsys, strict, code):
    # The stand-in knows none of the installed distributions: all are unchecked, none vulnerable.
    assert audit.main(["--pypi", pypi] + (["--strict"] if strict else [])) == code
    summary = capsys.readouterr().err.strip().splitlines()[-1]
    assert "0 ok, 0 vulnerable, 0 yanked" in summary
    assert summary.endswith(f"{len(audit.installed())} unchecked")


def test_an_unreachable_index_exits_2(capsys):
    assert audit.main(["--pypi", "http://127.0.0.1:9/pypi"]) == 2
    assert "cannot ask PyPI" in capsys.readouterr().err


def test_every_installed_distribution_is_audited_except_this_project():
    names = [name for name, _ in audit.installed()]
    assert {"rdflib", "pyshacl", "pyoxigraph", "flask"} <= set(names)
    assert "msc-kg" not in names
