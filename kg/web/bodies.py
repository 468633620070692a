"""Reading a request's body: its declared type, and its bytes within the size limit.

Shared by every route that takes a body (/sparql, /shacl), so the limit means the same everywhere.
"""

from flask import current_app, request

from kg.web.errors import problem


def content_type():
    """(media type in lower case or None, charset in lower case or None) of the request's Content-Type."""
    header = request.headers.get("Content-Type", "")
    kind, _, rest = header.partition(";")
    charset = None
    for part in rest.split(";"):
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset":
            charset = value.strip().strip('"').lower()
    return kind.strip().lower() or None, charset


def read_body():
    """The body, refused with 413 when over the limit, whether its length was declared or it came chunked."""
    limit = current_app.config["MAX_BODY_BYTES"]
    declared = request.content_length
    if declared is not None and declared > limit:
        problem(413, f"The request body is over the {limit}-byte limit.")
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        problem(413, f"The request body is over the {limit}-byte limit.")
    return body
