"""RDF sent to us by someone else (a SHACL validation request, a Graph Store upload): parsed so
that hostile input is refused with a clear message instead of stalling or fetching anything.

Call it inside a query worker, which the web server can kill, with a body whose size the web
layer has already bounded. What it refuses outright, rather than trusting a parser with:
- RDF/XML with a DOCTYPE: entity declarations are how the entity-expansion bombs and external
  entities work, and RDF/XML needs none (write the IRIs out, or send Turtle);
- JSON-LD contexts given by reference (a string, or "@import"): rdflib would fetch them;
- bodies that are not UTF-8, and nesting deep enough to exhaust a recursive parser.
"""

import json
import re
from xml.sax import SAXParseException

import rdflib
from rdflib import Dataset, Graph
from rdflib.exceptions import ParserError
from rdflib.plugins.parsers.notation3 import BadSyntax

from kg import formats
from kg.errors import DataParseError

SOURCE = "the request body"
_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def parse(data, media_type, base):
    """The triples of data (bytes in the RDF format media_type names) as one rdflib Graph; relative
    IRIs resolve against base. The graphs of a quad format are merged. Raises DataParseError."""
    fmt = formats.by_media_type(media_type, formats.RDF)
    if fmt is None:
        names = ", ".join(f.media_type for f in formats.rdf_formats())
        raise DataParseError(SOURCE, f"{media_type or 'no Content-Type'} is not an RDF format this "
                                     f"server reads; send one of {names}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataParseError(SOURCE, f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    if fmt.name == "rdfxml" and _DOCTYPE.search(data):
        raise DataParseError(SOURCE, "RDF/XML with a DOCTYPE or entity declarations is refused "
                                     "(entities can expand without bound); write IRIs out in full")
    if fmt.name == "jsonld":
        _check_jsonld(text)
    # Kept as written, as curated files are (kg.dataset.parse_file says why it is set every time).
    rdflib.NORMALIZE_LITERALS = False
    target = Dataset() if fmt.named_graphs else Graph()
    try:
        target.parse(data=text, format=fmt.rdflib, publicID=base)
    except BadSyntax as exc:
        raw = exc._str.decode("utf-8", "replace") if isinstance(exc._str, bytes) else exc._str
        column = exc._i - raw.rfind("\n", 0, exc._i)
        raise DataParseError(SOURCE, exc._why, exc.lines + 1, column) from None
    except RecursionError:
        raise DataParseError(SOURCE, "nested too deeply to parse") from None
    except ParserError as exc:  # rdflib's N-Triples and N-Quads readers
        raise DataParseError(SOURCE, f"{fmt.label} does not parse: {exc}") from None
    except SAXParseException as exc:  # the XML reader under RDF/XML
        raise DataParseError(SOURCE, exc.getMessage(), exc.getLineNumber(),
                             exc.getColumnNumber() + 1) from None
    except (ValueError, SyntaxError, TypeError, KeyError, AttributeError) as exc:
        # rdflib's parsers signal bad input with any of these; the message is still the parser's.
        raise DataParseError(SOURCE, f"{fmt.label} does not parse: {exc}") from None
    if isinstance(target, Graph) and not isinstance(target, Dataset):
        return target
    merged = Graph()
    for subject, predicate, obj, _ in target.quads((None, None, None, None)):
        merged.add((subject, predicate, obj))
    return merged


def _check_jsonld(text):
    try:
        document = json.loads(text)
    except RecursionError:
        raise DataParseError(SOURCE, "nested too deeply to parse") from None
    except json.JSONDecodeError as exc:
        raise DataParseError(SOURCE, f"JSON does not parse: {exc.msg}", exc.lineno, exc.colno) from None
    if not isinstance(document, dict | list):
        # rdflib's reader fails on these with an error of its own (an UnboundLocalError).
        raise DataParseError(SOURCE, "a JSON-LD document is a JSON object or array")
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            context = node.get("@context")
            for entry in context if isinstance(context, list) else [context]:
                if isinstance(entry, str):
                    raise DataParseError(SOURCE, f"the JSON-LD context {entry!r} is a reference, and this "
                                                 "server fetches nothing: put the context in the document")
                if isinstance(entry, dict) and "@import" in entry:
                    raise DataParseError(SOURCE, "a JSON-LD @import is a reference, and this server "
                                                 "fetches nothing: put the context in the document")
            stack.extend(node.values())
