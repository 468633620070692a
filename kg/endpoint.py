"""What a query worker does: open the store once, then turn each query job into bytes ready to send.

Everything that can take long or blow up on hostile input (parsing, evaluation, serializing)
happens here, inside a worker process the web server can kill. The web layer only checks the
request's shape and relays the answer.
"""

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from kg import describe, formats, negotiation, shacl_service
from kg.errors import KGError, QueryError, RemoteTimeout, RemoteUnavailable
from kg.store import open_store

log = logging.getLogger(__name__)

# Offered in this order: the first is what a client that accepts anything gets.
OFFERS = {
    "select": ("json", "xml", "csv", "tsv"),
    "ask": ("json", "xml"),
    "graph": ("turtle", "jsonld", "ntriples", "rdfxml"),
}
MAX_DEPTH = 64


@dataclass(frozen=True)
class Job:
    query: str
    accept: str | None = None
    format: str | None = None  # a ?format= override: a name, an extension or a media type
    default_graphs: tuple = ()
    named_graphs: tuple = ()
    max_rows: int = 10_000
    max_bytes: int = 16 * 1024 * 1024


@dataclass(frozen=True)
class Answer:
    status: int
    media_type: str | None = None
    body: bytes = b""
    message: str | None = None
    truncated: str | None = None  # why the answer was cut short, for the Results-Truncated header
    headers: dict = field(default_factory=dict)


@dataclass(frozen=True)
class OnDisk:
    """An on-disk store, named in the zygote and opened in each worker (see open_after_fork)."""

    kind: str
    path: str


def open_for_worker(kind, files, path, remote=None):
    """The `init` of the query workers, run once in the process they are forked from: what they
    share. An in-memory store is loaded there, its pages shared by every worker until written. A
    sparql: store gets remote (graph_store, timeout) and no files: its server holds the data, and
    it keeps no connection open between calls, so it can be shared too."""
    if remote is not None:
        return open_store(kind, files=files, **remote)
    if path is not None:
        # RocksDB starts threads when it opens: never before a fork (see open_after_fork).
        return OnDisk(kind, path)
    return open_store(kind, files=files)


def open_after_fork(state):
    """The `after_fork` of the query workers: what each opens for itself. An on-disk store was
    loaded once by the server; each worker opens it read-only, since only one process may hold it
    open for writing."""
    if isinstance(state, OnDisk):
        return open_store(state.kind, path=state.path, read_only=True)
    return state


def answer(store, job):
    """The `handle` of each query worker: never raises, every outcome is an Answer."""
    try:
        if job == "stats":
            return _stats(store)
        if isinstance(job, shacl_service.JOBS):
            return shacl_service.run(store, job)
        if not isinstance(job, Job):
            return describe.run(store, job)
        result = store.results(job.query, default_graphs=job.default_graphs,
                               named_graphs=job.named_graphs, limit=job.max_rows)
    except RemoteUnavailable as exc:
        # A sparql: store's server is down or slow: 502 or 504, and the next job tries it again.
        return Answer(exc.status, message=str(exc))
    except RecursionError:
        return Answer(400, message="the query is nested too deeply to parse")
    except KGError as exc:
        return Answer(400, message=str(exc))
    fmt = _pick_format(result, job)
    if isinstance(fmt, Answer):
        return fmt
    try:
        return _render(result, fmt, job)
    except QueryError as exc:
        return Answer(400, message=str(exc))


def _pick_format(result, job):
    offers = [formats.by_name(name) for name in OFFERS[result.kind]]
    if job.format:
        wanted = (formats.by_name(job.format) or formats.by_extension(job.format)
                  or formats.by_media_type(job.format))
        if wanted in offers:
            return wanted
        return Answer(406, message=f"format={job.format} does not fit this {_form(result)} query; "
                      f"choose one of {', '.join(f.name for f in offers)}")
    try:
        chosen = formats.choose(job.accept, [f.media_type for f in offers])
    except negotiation.AcceptError as exc:
        return Answer(400, message=str(exc))
    if chosen is None:
        return Answer(406, message=f"none of the formats of a {_form(result)} answer is acceptable: "
                      f"{', '.join(f.media_type for f in offers)}")
    return formats.by_media_type(chosen)


def _form(result):
    return {"select": "SELECT", "ask": "ASK", "graph": "CONSTRUCT/DESCRIBE"}[result.kind]


def _render(result, fmt, job):
    truncated = None
    if len(result) > job.max_rows:
        truncated = f"rows; limit={job.max_rows}"
        result = result.first(job.max_rows)
    body = _serialize(result, fmt, truncated)
    # Halve the answer until it fits the byte limit; the client is told, never silently short-changed.
    while len(body) > job.max_bytes and len(result) > 0:
        truncated = f"bytes; limit={job.max_bytes}"
        result = result.first(len(result) // 2)
        body = _serialize(result, fmt, truncated)
    if len(body) > job.max_bytes:
        return Answer(500, message=f"even an empty answer is over the {job.max_bytes}-byte limit")
    media_type = formats.content_type(fmt.media_type)
    return Answer(200, media_type, body, truncated=truncated)


def _serialize(result, fmt, truncated):
    """The answer in fmt (kg.results), saying in the body that it was truncated where the format has
    room for it."""
    body = result.serialize(fmt.name)
    if not truncated:
        return body
    if fmt.name == "json":
        # One more member, between "head" and "results": a variable name holds no quote, so the first
        # "results" is the key. Oxigraph's parser refuses a member after the bindings, not before.
        at = body.index(b'"results"')
        return body[:at] + b'"truncated":' + json.dumps(truncated).encode() + b"," + body[at:]
    if fmt.name in ("turtle", "ntriples"):
        note = f"# Truncated: {truncated}. Narrow the query or page it with LIMIT/OFFSET.\n"
        return note.encode("utf-8") + body
    if fmt.name in ("xml", "rdfxml"):
        declaration, found, rest = body.partition(b"?>")
        if found:
            return declaration + f"?>\n<!-- Truncated: {truncated}. -->".encode() + rest
    return body


def _stats(store):
    counts = store.graph_sizes()
    union = store.query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }").rows[0][0]
    return {"graphs": {str(g): n for g, n in counts.items()}, "default_triples": int(union)}


class Stats(Mapping):
    """The dataset's counts ({"graphs": {IRI: triples}, "default_triples": n}), asked of a worker once.

    A sparql: store's server may be down when the web server starts: the server starts all the same,
    and the counts are asked for again by the first request that needs them, which until the server is
    back raises RemoteUnavailable / RemoteTimeout (502 / 504) like every query does meanwhile.
    """

    def __init__(self, pool, timeout, start_timeout=300):
        self._pool, self._timeout = pool, timeout
        self._counts = self._error = None
        self._ask(start_timeout)
        if self._counts is None:
            log.warning("serving without the dataset's counts for now: %s", self._error)

    def _ask(self, timeout):
        answer = self._pool.run("stats", timeout)
        if isinstance(answer, Answer):
            self._error = (RemoteTimeout if answer.status == RemoteTimeout.status else RemoteUnavailable)(
                answer.message)
        else:
            self._counts = answer

    def _get(self):
        if self._counts is None:
            self._ask(self._timeout)
            if self._counts is None:
                raise self._error
        return self._counts

    def __getitem__(self, key):
        return self._get()[key]

    def __iter__(self):
        return iter(self._get())

    def __len__(self):
        return len(self._get())


# Strings, IRIs and comments, whose brackets do not nest, and the brackets themselves: one scan.
_TOKENS = re.compile(r"""
    \"\"\"(?:[^\\]|\\.)*?\"\"\" | '\'\'(?:[^\\]|\\.)*?'\'\'
  | "(?:[^"\\\n]|\\.)*" | '(?:[^'\\\n]|\\.)*'
  | <[^<>"{}|^`\\\x00-\x20]*>
  | \#[^\n]*
  | [(){}\[\]]
""", re.VERBOSE | re.DOTALL)


def nesting_depth(query):
    """How deep (), {} and [] nest outside strings, IRIs and comments: a cheap guard run before
    parsing, in one linear scan (it runs in the web process, ahead of any worker's time limit)."""
    depth = deepest = 0
    for token in _TOKENS.finditer(query):
        char = token.group()
        if char in "({[":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")}]":
            depth -= 1
    return deepest
