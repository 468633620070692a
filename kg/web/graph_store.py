"""The SPARQL 1.1 Graph Store HTTP Protocol at /graph-store.

Indirect identification: `/graph-store?graph=IRI` or `/graph-store?default`; direct: any URL under
`/graph-store/` names the graph whose IRI it is. GET and HEAD read (anyone); PUT, POST and DELETE
write (curators, as kg.web.update says); POST to `/graph-store` itself makes a new graph (201 with
its IRI in Location). The default graph is the union of the named graphs that writes see: every one
but the record of writes, which only the server changes; so what a PUT ?default sends, a GET ?default
gives back (docs/decisions/0009-writes.md).
"""

import email.parser
import email.policy
import re
import uuid
from urllib.parse import parse_qs

from flask import Blueprint, Response, current_app, request

from kg import dataset, formats, writer
from kg.endpoint import Job
from kg.web import admission
from kg.web.bodies import content_type, read_body
from kg.web.errors import problem
from kg.web.update import answer, authenticate, run
from kg.workers import PoolBusy, WorkerCrashed, WorkTimeout

bp = Blueprint("graph_store", __name__)
METHODS = ["GET", "HEAD", "PUT", "POST", "DELETE"]
MULTIPART = "multipart/form-data"
IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^<>\"{}|^`\\\x00-\x20]*")
EVERYTHING = "CONSTRUCT WHERE { ?s ?p ?o }"


@bp.route("/graph-store", methods=METHODS)
def indirect():
    params = parse_qs(request.query_string.decode("utf-8", "replace"), keep_blank_values=True)
    graphs = params.get("graph", [])
    if len(graphs) + ("default" in params) > 1:
        problem(400, "Name one graph: ?graph=IRI or ?default, not both or several.")
    if graphs:
        if not IRI.fullmatch(graphs[0]):
            problem(400, f"?graph= must be an absolute IRI (got {graphs[0]!r}).")
        return _serve(graphs[0])
    if "default" in params:
        return _serve(None)
    if request.method == "POST":
        # A new graph, named by a URL of this store, so that it can be read back directly.
        return _write("POST", request.url_root + "graph-store/" + uuid.uuid4().hex, create=True)
    problem(400, "Name a graph: /graph-store?graph=IRI, /graph-store?default, or a URL under /graph-store/; "
            "or POST RDF to /graph-store to make a new graph.")


@bp.route("/graph-store/<path:rest>", methods=METHODS)
def direct(rest):
    return _serve(request.base_url)


def _serve(graph):
    if request.method in ("GET", "HEAD"):
        return _read(graph)
    return _write(request.method, graph)


def _read(graph):
    if graph is not None and graph not in current_app.extensions["kg.stats"]["graphs"]:
        problem(404, f"There is no graph <{graph}> in this store.")
    config = current_app.config
    if graph is None:
        record = str(dataset.graph_name(writer.provenance_file(config)))
        # No graph but the record: a name no graph has stands for the empty graph (an empty list
        # would mean "no protocol dataset", the full union).
        graphs = tuple(g for g in current_app.extensions["kg.stats"]["graphs"] if g != record)
        graphs = graphs or (record + "/none",)
    else:
        graphs = (graph,)
    job = Job(query=EVERYTHING, accept=request.headers.get("Accept"), default_graphs=graphs,
              max_rows=config["MAX_ROWS"], max_bytes=config["MAX_RESULT_BYTES"])
    try:
        result = admission.run(job, config["QUERY_TIMEOUT"])
    except (WorkTimeout, PoolBusy):
        problem(503, "The server is busy and could not read the graph in time; try again shortly.",
                {"Retry-After": "2"})
    except WorkerCrashed:
        problem(500, "The query worker stopped while reading the graph; it has been replaced.")
    if result.status != 200:
        problem(result.status, result.message)
    response = Response(result.body, 200, content_type=result.media_type)
    response.headers["Vary"] = "Accept"
    if result.truncated:
        response.headers["Results-Truncated"] = result.truncated
    return response


def _write(method, graph, create=False):
    agent = authenticate()
    parts = () if method == "DELETE" else _parts()
    label = f"Graph Store {method} " + ("of the default graph" if graph is None else f"<{graph}>")
    fields = {"operation": "PUT" if create else method, "graph": graph, "parts": parts,
              "base": current_app.config["PUBLIC_BASE"]}
    result = run(agent, label, fields)
    if isinstance(result, Response):
        return result
    if create:
        return answer(result, 201, {"Location": graph})
    return answer(result, 201 if result[0].created and method == "PUT" else 200)


def _parts():
    """The RDF of the request body: ((media type, bytes), ...), one part per file of a multipart body."""
    kind, charset = content_type()
    body = read_body()
    if kind != MULTIPART:
        return (_part(kind, charset, body),)
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + request.headers.get("Content-Type", "").encode("latin-1") + b"\r\n\r\n" + body)
    if not message.is_multipart():
        problem(400, "The multipart/form-data body does not parse; check its boundary.")
    parts = []
    for part in message.iter_parts():
        media_type = part.get_content_type()
        parts.append(_part(media_type, part.get_content_charset(), part.get_payload(decode=True) or b""))
    return tuple(parts)


def _part(kind, charset, data):
    if formats.by_media_type(kind or "", formats.RDF) is None:
        names = ", ".join(f.media_type for f in formats.rdf_formats())
        problem(415, f"Send RDF as one of {names}, or {MULTIPART} of them (got {kind or 'none'}).")
    if charset not in (None, "utf-8"):
        problem(415, f"Send RDF in UTF-8 (got charset={charset}).")
    return (kind, data)
