"""The dataset: which files make up the knowledge graph and how they load, one named graph per file."""

from pathlib import Path

import pyoxigraph
import rdflib
from rdflib import Dataset, Graph, URIRef
from rdflib.exceptions import ParserError
from rdflib.plugins.parsers.notation3 import BadSyntax

from kg import config
from kg.errors import DataParseError
from kg.namespaces import PREFIXES


def default_files():
    """The ontology and every data file, in a stable order: the curated Turtle files, then the graphs
    curators' writes made that belong to no file (data/writes.trig, once there is one)."""
    writes = config.DATA_DIR / "writes.trig"
    return (sorted(config.ONTOLOGY_DIR.glob("*.ttl")) + sorted(config.DATA_DIR.rglob("*.ttl"))
            + ([writes] if writes.exists() else []))


def shape_files():
    return sorted(config.SHAPES_DIR.glob("*.ttl"))


def graph_name(path):
    """The named graph a source file loads into: BASE + 'graph/' + its path without '.ttl'."""
    path = Path(path).resolve()
    try:
        relative = path.relative_to(config.ROOT)
    except ValueError:
        relative = Path(path.name)
    return URIRef(config.BASE + "graph/" + relative.with_suffix("").as_posix())


def display_path(path):
    path = Path(path).resolve()
    try:
        return str(path.relative_to(config.ROOT))
    except ValueError:
        return str(path)


# Files in these formats name their own graphs; every other file is one graph of its own.
QUAD_FORMATS = {".nq": "nquads", ".trig": "trig"}
TRIPLE_FORMATS = {".ttl": "turtle", ".nt": "nt", ".rdf": "xml", ".owl": "xml", ".jsonld": "json-ld"}


def rdflib_format(path):
    suffix = Path(path).suffix.lower()
    return QUAD_FORMATS.get(suffix) or TRIPLE_FORMATS.get(suffix, "turtle")


def parse_file(path, graph=None):
    """Parse one RDF file (Turtle unless its extension says otherwise), turning any syntax error
    into a DataParseError with line and column."""
    graph = Graph() if graph is None else graph
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataParseError(display_path(path), f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise DataParseError(display_path(path), exc.strerror or str(exc)) from None
    # rdflib rewrites literals as it parses ("P24W" becomes "P168D", "01" becomes "1"); curated
    # evidence is kept as written, so the shapes see what the file says. Set before every parse:
    # pyshacl sets this process-wide flag back to True at the end of each validation.
    rdflib.NORMALIZE_LITERALS = False
    try:
        graph.parse(data=text, format=rdflib_format(path), publicID=path.resolve().as_uri())
    except BadSyntax as exc:
        raw = exc._str.decode("utf-8", "replace") if isinstance(exc._str, bytes) else exc._str
        column = exc._i - raw.rfind("\n", 0, exc._i)
        raise DataParseError(display_path(path), exc._why, exc.lines + 1, column) from None
    except ParserError as exc:
        # rdflib's N-Triples and N-Quads parsers say neither line nor column: ask oxigraph where.
        raise _located(path, text) or DataParseError(display_path(path), str(exc)) from None
    except (ValueError, SyntaxError) as exc:
        raise DataParseError(display_path(path), str(exc)) from None
    return graph


OXIGRAPH_FORMATS = {"nt": pyoxigraph.RdfFormat.N_TRIPLES, "nquads": pyoxigraph.RdfFormat.N_QUADS}


def _located(path, text):
    """A DataParseError with line and column from oxigraph's parser, or None if it finds no error."""
    fmt = OXIGRAPH_FORMATS.get(rdflib_format(path))
    if fmt is None:
        return None
    try:
        for _ in pyoxigraph.parse(text.encode("utf-8"), fmt):
            pass
    except SyntaxError as exc:
        reason = exc.msg.split(": ", 1)[-1]
        return DataParseError(display_path(path), reason, exc.lineno, exc.offset)
    return None


def load_dataset(files=None):
    """A Dataset with one named graph per file; the default graph is left empty (query the union)."""
    dataset = Dataset(default_union=True)
    for prefix, namespace in PREFIXES.items():
        dataset.bind(prefix, namespace)
    for path in default_files() if files is None else files:
        if Path(path).suffix.lower() in QUAD_FORMATS:
            parse_file(path, dataset)
        else:
            parse_file(path, dataset.graph(graph_name(path)))
    return dataset


def load_graph(files=None):
    """All files merged into one plain Graph (what pyshacl and the serializers want)."""
    graph = Graph()
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace)
    for path in default_files() if files is None else files:
        parse_file(path, graph)
    return graph


def source_of(dataset):
    """Map each subject to the source file (display path) whose named graph states it."""
    sources = {}
    for context in dataset.contexts():
        name = str(context.identifier)
        prefix = config.BASE + "graph/"
        if not name.startswith(prefix):
            continue
        for subject in set(context.subjects()):
            sources.setdefault(subject, name[len(prefix):] + ".ttl")
    return sources
