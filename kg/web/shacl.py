"""POST /shacl: SHACL validation over HTTP (decision 0008).

- `POST /shacl` with data as the body: the data, added to the served dataset, is validated against
  this server's shapes; the report holds the results on the nodes the body describes.
- `POST /shacl?graph=default` (or `union`, or a graph's IRI; `?default` too) with shapes as the
  body: Apache Jena Fuseki's SHACL service, the served graph validated against those shapes.

`target=IRI` keeps the results on that node only. The report comes as Turtle (the default), JSON-LD,
N-Triples, RDF/XML, a JSON summary or an HTML page, by Accept or format=. The body is read here within
MAX_BODY_BYTES and parsed and validated in a query worker, stopped at QUERY_TIMEOUT.
"""

from flask import Blueprint, Response, current_app, render_template, request

from kg import formats, negotiation
from kg.endpoint import Answer
from kg.shacl_service import HTML, JSON, OFFERS, CheckData, CheckShapes
from kg.web import admission, security
from kg.web.bodies import content_type, read_body
from kg.web.errors import problem
from kg.web.resources import BAD_IRI
from kg.workers import PoolBusy, WorkerCrashed, WorkTimeout

bp = Blueprint("shacl", __name__)
security.allow_cross_origin(bp, "POST, OPTIONS")

# format= names beyond kg.formats' RDF formats (named by name, extension or media type there).
REPORT_NAMES = {"html": HTML, "json": JSON}


@bp.route("/shacl", methods=["GET", "POST", "OPTIONS"])
def shacl():
    if request.method == "OPTIONS":
        return Response(status=204)
    if request.method != "POST":
        problem(405, "POST data to /shacl to validate it against this server's shapes, or shapes to "
                "/shacl?graph=default to validate the dataset against them; /validation shows the "
                "dataset's own report.", {"Allow": "POST, OPTIONS"})
    graph = _graph()
    target = _one("target")
    if target is not None:
        _check_iri("target", target)
    answer = _answer_type()
    kind, charset = content_type()
    if kind is None or formats.by_media_type(kind, formats.RDF) is None:
        names = ", ".join(f.media_type for f in formats.rdf_formats())
        problem(415, f"Send the {'shapes' if graph else 'data'} as one of {names} "
                f"(got {kind or 'no Content-Type'}).")
    if charset not in (None, "utf-8"):
        problem(415, f"Send the request body in UTF-8 (got charset={charset}).")
    body = read_body()
    config = current_app.config
    limits = {"max_results": config["MAX_ROWS"], "max_bytes": config["MAX_RESULT_BYTES"]}
    if graph is None:
        job = CheckData(body, kind, answer, target, **limits)
    else:
        job = CheckShapes(body, kind, answer, graph, target, **limits)
    checked = _run(job)
    if answer == HTML:
        page = render_template("shacl_report.html", checked=checked, graph=graph, target=target,
                               own_shapes=graph is None)
        response = Response(page, mimetype=HTML)
    else:
        response = Response(checked.body, content_type=formats.content_type(checked.media_type))
    response.headers["Vary"] = "Accept"
    if checked.truncated:
        response.headers["Results-Truncated"] = checked.truncated
    return response


def _one(name):
    values = request.args.getlist(name)
    if len(values) > 1:
        problem(400, f"Give {name}= once; this request has it {len(values)} times.")
    return values[0] if values else None


def _graph():
    """None for data in the body; else the graph to validate against the shapes in the body."""
    graph = _one("graph")
    if "default" in request.args:
        if graph is not None:
            problem(400, "Give either ?default or ?graph=, not both.")
        return "default"
    if graph is not None and graph not in ("default", "union"):
        _check_iri("graph", graph)
    return graph


def _check_iri(name, value):
    scheme, colon, _ = value.partition(":")
    if not colon or not scheme.isascii() or not scheme[:1].isalpha() or BAD_IRI.search(value):
        problem(400, f"{name}= must be an absolute IRI{' (or default or union)' if name == 'graph' else ''}; "
                f"got {value!r}.")


def _answer_type():
    wanted = _one("format")
    if wanted is not None:
        fmt = (formats.by_name(wanted) or formats.by_extension(wanted, formats.RDF)
               or formats.by_media_type(wanted))
        chosen = REPORT_NAMES.get(wanted.lower()) or (fmt.media_type if fmt else None)
        if chosen not in OFFERS:
            problem(406, f"format={wanted} is not offered; choose one of {', '.join(OFFERS)}.")
        return chosen
    try:
        chosen = formats.choose(request.headers.get("Accept"), list(OFFERS))
    except negotiation.AcceptError as exc:
        problem(400, str(exc))
    if chosen is None:
        problem(406, f"The validation report is offered as {', '.join(OFFERS)}.")
    return chosen


def _run(job):
    timeout = current_app.config["QUERY_TIMEOUT"]
    try:
        checked = admission.run(job, timeout)
    except WorkTimeout:
        problem(503, f"The validation ran past its {timeout:g}-second limit and was stopped. Send less "
                "data, or simpler shapes.", {"Retry-After": "1"})
    except PoolBusy:
        problem(503, f"Every query worker stayed busy for {timeout:g} s; try again shortly.",
                {"Retry-After": "2"})
    except WorkerCrashed:
        problem(500, "The query worker stopped while validating (for example it ran out of memory); "
                "it has been replaced.")
    if isinstance(checked, Answer):
        problem(checked.status, checked.message)
    return checked
