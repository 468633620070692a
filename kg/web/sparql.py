"""The SPARQL 1.1 Protocol endpoint at /sparql: queries, run in killable workers (and curators'
updates, handed to kg.web.update).

A browser (see kg.web.query_page.wants_page) asking without format= gets the query page with the
answer as a table instead; every other client gets exactly the protocol's answer.
"""

from urllib.parse import parse_qs

from flask import Blueprint, Response, current_app, request

from kg import formats, negotiation
from kg.endpoint import MAX_DEPTH, Job, nesting_depth
from kg.service_description import describe
from kg.web import admission, query_page, security
from kg.web.bodies import content_type, read_body
from kg.web.errors import Problem, problem
from kg.web.update import sparql_update
from kg.workers import PoolBusy, WorkerCrashed, WorkTimeout

bp = Blueprint("sparql", __name__)
security.allow_cross_origin(bp, "GET, POST, OPTIONS")

FORM = "application/x-www-form-urlencoded"
QUERY = "application/sparql-query"
UPDATE = "application/sparql-update"



@bp.route("/sparql", methods=["GET", "POST", "OPTIONS"])
def endpoint():
    if request.method == "OPTIONS":
        return Response(status=204)
    params = _params()
    if "update" in params:
        return sparql_update(params)
    queries = params.get("query", [])
    if len(queries) > 1:
        problem(400, "Send exactly one query; this request has several 'query' parameters.")
    if not queries:
        if request.method == "POST":
            problem(400, "The request has no query. POST it as the body with Content-Type "
                    f"{QUERY}, or as the 'query' field of a {FORM} form.")
        return _describe_or_form()
    if not _first(params, "format") and query_page.wants_page(request.headers.get("Accept")):
        return _page(queries[0], params)
    return _run(queries[0], params)


def _first(params, name):
    return (params.get(name) or [None])[0]


def _params():
    """The protocol's parameters: from the URL, plus the body of a form or direct POST."""
    params = parse_qs(request.query_string.decode("utf-8", "replace"), keep_blank_values=True)
    if request.method != "POST":
        return params
    kind, charset = content_type()
    if kind not in (FORM, QUERY, UPDATE):
        problem(415, f"POST a query as {QUERY} or as a {FORM} form (got {kind or 'no Content-Type'}).")
    if charset not in (None, "utf-8"):
        problem(415, f"Send the request body in UTF-8 (got charset={charset}).")
    try:
        text = read_body().decode("utf-8")
    except UnicodeDecodeError:
        problem(400, "The request body is not valid UTF-8.")
    if kind == UPDATE:
        params.setdefault("update", []).append(text)
    elif kind == QUERY:
        params.setdefault("query", []).append(text)
    else:
        for name, values in parse_qs(text, keep_blank_values=True).items():
            params.setdefault(name, []).extend(values)
    return params


def _run(query, params):
    answer = _answer(query, params, request.headers.get("Accept"), _first(params, "format"))
    response = Response(answer.body, 200, content_type=answer.media_type)
    response.headers["Vary"] = "Accept"
    if answer.truncated:
        response.headers["Results-Truncated"] = answer.truncated
    return response


def _page(query, params):
    """The query page: the answer as a table, or the error that stopped it; the editor keeps the query."""
    try:
        answer = _answer(query, params, query_page.JOB_ACCEPT, None)
    except Problem as exc:
        return query_page.results_page(query, params, error=exc)
    return query_page.results_page(query, params, answer=answer)


def _answer(query, params, accept, fmt):
    """The worker's successful Answer to query, or a Problem raised with the status the protocol gives."""
    config = current_app.config
    if len(query.encode("utf-8")) > config["MAX_QUERY_BYTES"]:
        status = 414 if request.method == "GET" else 413
        problem(status, f"The query is over the {config['MAX_QUERY_BYTES']}-byte limit.")
    if nesting_depth(query) > MAX_DEPTH:
        problem(400, f"The query nests groups, brackets or parentheses more than {MAX_DEPTH} deep.")
    timeout = _timeout(params, config["QUERY_TIMEOUT"])
    job = Job(
        query=query,
        accept=accept,
        format=fmt,
        default_graphs=tuple(params.get("default-graph-uri", [])),
        named_graphs=tuple(params.get("named-graph-uri", [])),
        max_rows=config["MAX_ROWS"],
        max_bytes=config["MAX_RESULT_BYTES"],
    )
    try:
        answer = admission.run(job, timeout)
    except WorkTimeout:
        problem(503, f"The query ran past its {timeout:g}-second limit and was stopped. "
                "Narrow it, add a LIMIT, or raise timeout= up to the server's maximum "
                f"of {config['QUERY_TIMEOUT']:g} s.", {"Retry-After": "1"})
    except PoolBusy:
        problem(503, f"Every query worker stayed busy for {timeout:g} s; try again shortly.",
                {"Retry-After": "2"})
    except WorkerCrashed:
        problem(500, "The query worker stopped while running this query (for example it ran out of "
                "memory); it has been replaced.")
    if answer.status != 200:
        problem(answer.status, answer.message)
    return answer


def _timeout(params, maximum):
    values = params.get("timeout")
    if not values:
        return maximum
    try:
        seconds = float(values[0])
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        problem(400, f"timeout= must be a number of seconds above 0 (got {values[0]!r}).")
    return min(seconds, maximum)


def _describe_or_form():
    rdf = [f.media_type for f in formats.rdf_formats() if not f.named_graphs or f.name == "jsonld"]
    try:
        chosen = formats.choose(request.headers.get("Accept"), rdf + ["text/html"])
    except negotiation.AcceptError as exc:
        problem(400, str(exc))
    if chosen is None:
        problem(406, f"The service description is offered as {', '.join(rdf)}; the query form as text/html.")
    if chosen == "text/html":
        response = query_page.form_page()
    else:
        config = current_app.config
        stats = current_app.extensions["kg.stats"]
        limits = {"timeout": config["QUERY_TIMEOUT"], "max_rows": config["MAX_ROWS"],
                  "max_bytes": config["MAX_RESULT_BYTES"], "max_body": config["MAX_BODY_BYTES"]}
        graph = describe(request.base_url, limits, stats["graphs"], stats["default_triples"],
                         writable=current_app.extensions.get("kg.writer") is not None)
        fmt = formats.by_media_type(chosen)
        body = graph.serialize(format=fmt.rdflib)
        response = Response(body, content_type=formats.content_type(fmt.media_type))
    response.headers["Vary"] = "Accept"
    return response

