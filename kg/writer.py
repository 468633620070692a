"""Curators' writes in the web process: who may write, one write at a time, and the commit.

A write is computed by the write worker (kg.writes) on the files as they are, then committed here
whole (kg.commit) together with its provenance record, under a lock held across processes, so two
writers never interleave and each computes on the state the previous one committed.
"""

import hmac
import logging
import re
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pyoxigraph as ox

from kg import commit, config, dataset
from kg.errors import UsageError
from kg.workers import WorkerPool
from kg.writes import Write, handle, open_writer

log = logging.getLogger(__name__)
NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
PROV = "http://www.w3.org/ns/prov#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
XSD_DATETIME = "http://www.w3.org/2001/XMLSchema#dateTime"
HEADER = (b"# The record of writes to this dataset: one prov:Activity per committed write, naming the\n"
          b"# curator, the time and the graphs it changed. Written by the server, never by hand.\n")


def parse_tokens(value):
    """{token: curator name} from WRITE_TOKEN: "TOKEN" (curator "curator") or "alice:TOKEN,bob:TOKEN"."""
    curators = {}
    for item in (value or "").split(","):
        name, _, token = item.strip().rpartition(":")
        name = name or "curator"
        if not token or not NAME.fullmatch(name):
            raise UsageError("WRITE_TOKEN is TOKEN or NAME:TOKEN,NAME:TOKEN... (names of letters, digits, _ "
                             "and -; tokens not empty)")
        curators[token] = name
    return curators


def curator(curators, authorization):
    """The curator an `Authorization: Bearer TOKEN` header names, or None. Constant-time comparisons."""
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return None
    found = None
    for token, name in curators.items():
        if hmac.compare_digest(token.encode("utf-8"), given.strip().encode("utf-8")):
            found = name
    return found


def writes_file(settings):
    """Where graphs of no file go: WRITES_FILE, else writes.trig in data/ or beside the first data file."""
    if settings.get("WRITES_FILE"):
        return Path(settings["WRITES_FILE"]).resolve()
    files = settings.get("DATA_FILES")
    return (config.DATA_DIR if not files else Path(files[0]).resolve().parent) / "writes.trig"


def provenance_file(settings):
    return writes_file(settings).parent / "provenance.ttl"


def served_files(settings):
    """The files the server loads: the data files, then the writes file and the record of writes."""
    files = settings.get("DATA_FILES")
    files = [Path(f).resolve() for f in (dataset.default_files() if files is None else files)]
    for extra in (writes_file(settings), provenance_file(settings)):
        if extra.exists() and extra not in files:
            files.append(extra)
    return [str(f) for f in files]


def recover(settings):
    """Finish or discard a commit a crash cut short (kg.commit), before anything reads the files."""
    folder = writes_file(settings).parent
    journal = folder / ".msc-kg-commit.journal"
    directories = {Path(f).parent for f in served_files(settings)} | {folder}
    # Look first, so that a read-only server leaves no lock file behind in a clean data directory.
    if journal.exists() or any(any(d.glob(commit.STAGED + "*")) for d in directories if d.is_dir()):
        with commit.locked(folder / ".msc-kg-write.lock"):
            commit.recover(journal, directories)


class Writer:
    """Runs writes one at a time: compute in the write worker, commit, then `on_commit` (the reload)."""

    def __init__(self, settings, on_commit):
        self.settings = dict(settings)
        self.on_commit = on_commit
        self.folder = writes_file(settings).parent
        self.curators = parse_tokens(settings["WRITE_TOKEN"])
        self._lock = threading.Lock()
        self.pool = WorkerPool(open_writer, (None,), handle, size=1,
                               memory_limit=settings.get("WORKER_MEMORY_BYTES"))

    def write(self, agent, label, timeout, **fields):
        """(Outcome, activity IRI or None, reload error or None). Raises what WorkerPool.run raises."""
        with self._lock, commit.locked(self.folder / ".msc-kg-write.lock"):
            started = datetime.now(UTC)
            record = provenance_file(self.settings)
            files = tuple(f for f in served_files(self.settings) if Path(f) != record)
            job = Write(files=files, writes_file=str(writes_file(self.settings)),
                        protected=(str(dataset.graph_name(record)),), **fields)
            outcome = self.pool.run(job, timeout)
            if outcome.status != 200 or not outcome.changes:
                return outcome, None, None
            activity = f"{config.BASE}write/{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
            old = record.read_bytes() if record.exists() else HEADER
            changes = {Path(p): data for p, data in outcome.changes.items()}
            changes[record] = old + b"\n" + _record(activity, agent, label, started, outcome.graphs)
            commit.commit(changes, self.folder / ".msc-kg-commit.journal")
            log.info("write %s by %s committed: %s", activity, agent, ", ".join(outcome.graphs))
            return outcome, activity, self.on_commit()

    def close(self):
        self.pool.close()


def _record(activity, agent, label, started, graphs):
    """The PROV-O record of one write, as Turtle."""
    node, who = ox.NamedNode(activity), ox.NamedNode(f"{config.BASE}curator/{agent}")

    def iri(local):
        return ox.NamedNode(PROV + local)

    def when(moment):
        return ox.Literal(moment.isoformat(timespec="milliseconds"), datatype=ox.NamedNode(XSD_DATETIME))

    triples = [
        ox.Triple(node, ox.NamedNode(RDF_TYPE), iri("Activity")),
        ox.Triple(node, ox.NamedNode(RDFS_LABEL), ox.Literal(label)),
        ox.Triple(node, iri("wasAssociatedWith"), who),
        ox.Triple(node, iri("startedAtTime"), when(started)),
        ox.Triple(node, iri("endedAtTime"), when(datetime.now(UTC))),
        ox.Triple(who, ox.NamedNode(RDF_TYPE), iri("Agent")),
        ox.Triple(who, ox.NamedNode(RDFS_LABEL), ox.Literal(agent)),
    ]
    for index, graph in enumerate(graphs):
        version = ox.NamedNode(f"{activity}#graph-{index + 1}")
        triples += [ox.Triple(node, iri("generated"), version),
                    ox.Triple(version, ox.NamedNode(RDF_TYPE), iri("Entity")),
                    ox.Triple(version, iri("specializationOf"), ox.NamedNode(graph))]
    prefixes = {"prov": PROV, "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
                "xsd": "http://www.w3.org/2001/XMLSchema#"}
    triples.sort(key=lambda triple: str(triple.subject))  # stable: each subject once, type first
    return ox.serialize(triples, format=ox.RdfFormat.TURTLE, prefixes=prefixes)

